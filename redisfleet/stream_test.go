package redisfleet

import (
	"bytes"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apikeyauth/apikey"
)

// maxStreamID is the largest ID a stream entry can have: no entry can be
// added after it.
const maxStreamID = "18446744073709551615-18446744073709551615"

// TestForgedEntryWithLargestID: an entry forged with the largest possible
// ID locks no replica out: publications go on (the stream starts again),
// a reader that went past it syncs again, and a revocation published after
// the stream was deleted reaches the replicas.
func TestForgedEntryWithLargestID(t *testing.T) {
	const value = "sk_test_max_id"
	for _, tc := range []struct {
		name   string
		delete bool // the stream is deleted after the forged entry was read
	}{
		{"the stream starts again", false},
		{"the stream was deleted", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opt, prefix := testRedis(t)
			up := newUpstream(value)
			reader, other := newReplica(t, opt, up, testOptions(prefix)...), newReplica(t, opt, up, testOptions(prefix)...)
			admin := redis.NewClient(opt)
			defer admin.Close()
			stream := "{" + prefix + "}:stream"
			require.NoError(t, admin.XAdd(t.Context(), &redis.XAddArgs{Stream: stream, ID: maxStreamID, Values: []string{"id", "x"}}).Err())
			require.Eventually(t, func() bool { return reader.fleet.Stats().LastID == maxStreamID }, 5*time.Second, time.Millisecond)
			if tc.delete {
				require.NoError(t, admin.Del(t.Context(), stream).Err())
			}
			require.NoError(t, reader.validate(value))
			purges := reader.fleet.Stats().Purges

			up.revoke("key_0")
			require.NoError(t, other.fleet.Revoke(t.Context(), apikey.Invalidation{ID: "key_0"}), "published, past the forged entry")
			require.Eventually(t, func() bool { return reader.validate(value) != nil }, 5*time.Second, time.Millisecond,
				"the reader learned the revocation")
			assert.True(t, reader.fleet.Stats().Connected, "syncs succeed")
			assert.LessOrEqual(t, reader.fleet.Stats().Purges, purges+1)
		})
	}
}

// TestStreamEntriesSigned: with a shared secret, an entry written without
// it, or copied from an earlier one into the next place, makes the readers
// purge, since it may stand where a revocation was; signed entries apply.
func TestStreamEntriesSigned(t *testing.T) {
	const value = "sk_test_signed_stream"
	secret := WithSharedSecret(bytes.Repeat([]byte("s"), 32))
	for _, tc := range []struct {
		name  string
		forge func(genuine map[string]any, epoch string, seq int64) map[string]any
	}{
		{"no MAC", func(g map[string]any, epoch string, seq int64) map[string]any {
			return map[string]any{"epoch": epoch, "seq": seq, "from": "x", "origin": "local", "id": "key_9", "digest": "", "all": "", "nonce": "n", "mac": ""}
		}},
		{"another key in a signed entry", func(g map[string]any, epoch string, seq int64) map[string]any {
			g["epoch"], g["seq"], g["id"], g["nonce"] = epoch, seq, "key_9", "a nonce never seen"
			return g
		}},
		{"a copy of an earlier entry", func(g map[string]any, epoch string, seq int64) map[string]any {
			g["epoch"], g["seq"] = epoch, seq
			return g
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opt, prefix := testRedis(t)
			up := newUpstream(value)
			opts := append(testOptions(prefix), secret)
			reader, other := newReplica(t, opt, up, opts...), newReplica(t, opt, up, opts...)
			other.cache.InvalidateID("key_genuine")
			require.Eventually(t, func() bool { return reader.fleet.Stats().Received == 1 }, 5*time.Second, time.Millisecond,
				"a signed entry applies")
			require.NoError(t, reader.validate(value))

			admin := redis.NewClient(opt)
			defer admin.Close()
			p := "{" + prefix + "}:"
			entries, err := admin.XRange(t.Context(), p+"stream", "-", "+").Result()
			require.NoError(t, err)
			seq, err := admin.Incr(t.Context(), p+"gen").Result()
			require.NoError(t, err)
			// A reader whose first read of Redis, in Attach, timed out on a
			// loaded machine purged once already, when it reached Redis.
			purges := reader.fleet.Stats().Purges
			forged := tc.forge(entries[0].Values, fleetEpoch(t, admin, prefix), seq)
			require.NoError(t, admin.XAdd(t.Context(), &redis.XAddArgs{Stream: p + "stream", Values: forged}).Err())

			require.Eventually(t, func() bool { return reader.fleet.Stats().Purges == purges+1 }, 5*time.Second, time.Millisecond)
			assert.Zero(t, reader.cache.Stats().Size, "purged")
			assert.Equal(t, uint64(1), reader.fleet.Stats().Received, "the forged entry was not applied as one")
		})
	}
}
