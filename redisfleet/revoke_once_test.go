package redisfleet

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apikeyauth/apikey"
)

// TestRevokePublishesOnce: an acknowledged Revoke puts one entry on the
// stream, not a second one through the hooks' queue, and leaves nothing
// outstanding, so that this replica reads the shared cache again at once.
// One not acknowledged is published once, in the background, when Redis
// is back. A marker invalidated through the queue afterwards shows that
// the publisher has sent whatever was queued before it.
func TestRevokePublishesOnce(t *testing.T) {
	opt, prefix := testRedis(t)
	admin := redis.NewClient(opt)
	defer admin.Close()
	stream := "{" + prefix + "}:stream"
	lock, lockedOpt := newLockout(t, opt)
	r := newReplica(t, lockedOpt, newUpstream(), testOptions(prefix)...)

	// entries invalidates a marker through the queue, waits until it is
	// published and settled, then counts the stream's entries by key ID.
	entries := func(t *testing.T, marker string) map[string]int {
		t.Helper()
		r.cache.InvalidateID(marker)
		n := map[string]int{}
		require.Eventually(t, func() bool {
			got, err := admin.XRange(context.Background(), stream, "-", "+").Result()
			require.NoError(t, err)
			clear(n)
			for _, e := range got {
				id, _ := e.Values["id"].(string)
				n[id]++
			}
			// Settled too: the publisher counts what it sent after Redis
			// answered, and settles it after that.
			return n[marker] == 1 && !r.fleet.unpublished()
		}, 10*time.Second, time.Millisecond, "the marker never reached the stream")
		return n
	}

	t.Run("acknowledged", func(t *testing.T) {
		const revokes = 20
		for i := range revokes {
			require.NoError(t, r.fleet.Revoke(t.Context(), apikey.Invalidation{ID: fmt.Sprintf("key_%d", i)}))
			assert.False(t, r.fleet.unpublished(), "nothing outstanding once acknowledged")
		}
		require.NoError(t, r.fleet.Revoke(t.Context(), apikey.Invalidation{All: true}))
		n := entries(t, "marker_1")
		for i := range revokes {
			assert.Equal(t, 1, n[fmt.Sprintf("key_%d", i)], "key_%d", i)
		}
		assert.Equal(t, 1, n[""], "the purge")
		assert.Equal(t, uint64(revokes+2), r.fleet.Stats().Published)
	})

	t.Run("not acknowledged", func(t *testing.T) {
		published := r.fleet.Stats().Published
		lock.cutOff(t)
		assert.ErrorIs(t, r.fleet.Revoke(t.Context(), apikey.Invalidation{ID: "key_down"}), ErrNotAcknowledged)
		assert.True(t, r.fleet.unpublished(), "queued for the background retry")
		lock.letIn(t)
		n := entries(t, "marker_2")
		assert.Equal(t, 1, n["key_down"], "published once Redis is back")
		assert.Equal(t, published+2, r.fleet.Stats().Published)
	})
}
