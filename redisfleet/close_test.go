package redisfleet

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apikeyauth/apikey"
)

// TestCloseFlushesTheQueue queues more invalidations than one batch holds
// while Redis refuses the replica, then lets it in and closes: Close
// publishes them all, or, when Redis refuses them still, counts them as
// dropped and publishes a purge in their place.
func TestCloseFlushesTheQueue(t *testing.T) {
	const queued = 3*maxBatch + 10
	for _, tc := range []struct {
		name string
		// keys, when set, are the only keys the replica may touch when let
		// in: enough for a purge, not for an ID's invalidation.
		keys    []string
		entries int // in the stream
		dropped uint64
		purge   bool // the last entry is a purge
	}{
		{"all published", nil, queued, 0, false},
		{"a purge in their place", []string{"stream", "gen", "epoch", "runid", "clock", "tomb:all"}, 1, queued, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opt, prefix := testRedis(t)
			lock, lockedOpt := newLockout(t, opt)
			ctx := context.Background()
			require.NoError(t, lock.admin.Do(ctx, "ACL", "SETUSER", lock.user, "off").Err())
			f, err := New(lockedOpt, testOptions(prefix)...)
			require.NoError(t, err)
			defer f.Close()
			for i := range queued {
				f.Hooks().Invalidation(apikey.Invalidation{ID: fmt.Sprintf("key_%d", i), Origin: apikey.OriginLocal})
			}
			require.Eventually(t, func() bool { return f.Stats().PublishErrors > 0 }, 5*time.Second, time.Millisecond)

			args := []any{"ACL", "SETUSER", lock.user, "on", "resetkeys"}
			if tc.keys == nil {
				args = append(args, "~*")
			}
			for _, k := range tc.keys {
				args = append(args, "~{"+prefix+"}:"+k)
			}
			require.NoError(t, lock.admin.Do(ctx, args...).Err())
			require.NoError(t, f.Close())

			st := f.Stats()
			assert.Zero(t, f.outstanding.Load(), "everything settled")
			assert.Equal(t, tc.dropped, st.Dropped)
			entries, err := lock.admin.XRange(ctx, "{"+prefix+"}:stream", "-", "+").Result()
			require.NoError(t, err)
			require.Equal(t, tc.entries, len(entries), "stream entries")
			last := entries[len(entries)-1].Values
			assert.Equal(t, tc.purge, last["all"] == "1", "the last entry is a purge")
			assert.Equal(t, tc.purge, last["id"] == "", "the last entry names no key")
		})
	}
}
