package redisfleet

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apikeyauth/apikey"
)

// TestStoreInvalidationsNotPublished: a store's invalidation, which every
// replica's watcher applies by itself, is not published; one of a key or a
// value is cleared from the shared cache, and a purge voids it, without a
// gap in the stream's sequence. Others are published.
func TestStoreInvalidationsNotPublished(t *testing.T) {
	const value = "sk_test_origin"
	for _, tc := range []struct {
		name        string
		inv         apikey.Invalidation
		published   bool
		cleared     bool // the shared entry is gone
		sharedCount uint64
	}{
		{"an ID from the store", apikey.Invalidation{ID: "key_0", Origin: apikey.OriginStore}, false, true, 1},
		{"a digest from the store", apikey.Invalidation{Digest: apikey.DigestOf(value), Origin: apikey.OriginStore}, false, true, 1},
		{"a purge from the store", apikey.Invalidation{All: true, Origin: apikey.OriginStore}, false, true, 1},
		{"an ID from another origin", apikey.Invalidation{ID: "key_0", Origin: "admin"}, true, true, 0},
		{"an ID from a webhook", apikey.Invalidation{ID: "key_0", Origin: apikey.OriginWebhook}, true, true, 0},
		{"a local ID", apikey.Invalidation{ID: "key_0"}, true, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opt, prefix := testRedis(t)
			up := newUpstream(value)
			opts := append(testOptions(prefix), WithSharedCache(10*time.Second))
			a := newReplica(t, opt, up, opts...)
			b := newReplica(t, opt, up, opts...)
			require.NoError(t, b.validate(value))
			require.Equal(t, 1, sharedEntries(t, opt, prefix))

			a.cache.Invalidate(tc.inv)
			a.cache.InvalidateID("marker") // published after it: once it is, so is tc.inv
			want := uint64(1)
			if tc.published {
				want = 2
			}
			// a counts what it published once Redis answered, maybe after b read it.
			require.Eventually(t, func() bool {
				return b.fleet.Stats().Received == want && a.fleet.Stats().Published == want
			}, 5*time.Second, time.Millisecond)
			assert.Equal(t, tc.sharedCount, a.fleet.Stats().SharedCleared)
			admin := redis.NewClient(opt)
			defer admin.Close()
			n, err := admin.XLen(t.Context(), "{"+prefix+"}:stream").Result()
			require.NoError(t, err)
			assert.Equal(t, int64(want), n, "stream entries")
			if tc.cleared && !tc.inv.All { // a purge leaves entries, older than its tombstone
				assert.Zero(t, sharedEntries(t, opt, prefix), "cleared from the shared cache")
			} else if !tc.cleared {
				assert.Equal(t, 1, sharedEntries(t, opt, prefix), "the shared cache is kept")
			}
			assert.Zero(t, b.fleet.Stats().Purges, "no gap in the stream's sequence")
			if tc.published {
				assert.Zero(t, b.cache.Stats().Size, "b forgot the key")
			} else {
				assert.Equal(t, 1, b.cache.Stats().Size, "b's own watcher is left to tell it")
			}

			// The shared cache works on after it: a validation stores the key again.
			up.calls.Store(0)
			c := newReplica(t, opt, up, opts...)
			require.NoError(t, c.validate(value))
			if tc.cleared {
				assert.Equal(t, int64(1), up.calls.Load(), "not answered by the shared cache")
			} else {
				assert.Zero(t, up.calls.Load(), "answered by the shared cache")
			}
			assert.Equal(t, 1, sharedEntries(t, opt, prefix))
		})
	}
}

// TestStoreInvalidationsWithoutSharedCache: without a shared cache there is
// nothing for a store's invalidation to do in Redis.
func TestStoreInvalidationsWithoutSharedCache(t *testing.T) {
	opt, prefix := testRedis(t)
	a := newReplica(t, opt, newUpstream(), testOptions(prefix)...)
	a.cache.Invalidate(apikey.Invalidation{ID: "key_0", Origin: apikey.OriginStore})
	assert.Zero(t, a.fleet.enqueued.Load())
	assert.False(t, a.fleet.unpublished())
}

// TestOverflowOfStoreInvalidations: a full queue that dropped only store
// invalidations voids the shared cache rather than purge the fleet.
func TestOverflowOfStoreInvalidations(t *testing.T) {
	for _, tc := range []struct {
		name          string
		fleet, shared int64
		origin        apikey.Origin
	}{
		{"store only", 0, 2, apikey.OriginStore},
		{"both", 1, 2, apikey.OriginLocal},
		{"published only", 3, 0, apikey.OriginLocal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &Fleet{queue: make(chan pending)}
			f.overflowed.Store(tc.fleet)
			f.overflowedShared.Store(tc.shared)
			batch := f.drain(nil)
			require.Len(t, batch, 1)
			assert.Equal(t, apikey.Invalidation{All: true, Origin: tc.origin}, batch[0].inv)
			assert.Equal(t, tc.fleet+tc.shared, batch[0].count)
			assert.True(t, batch[0].overflow)
		})
	}
}
