package redisfleet

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apikeyauth/apikey"
	"github.com/apikeyauth/apikey/workos"
)

// A Fleet is what workos.NewWebhookHandler needs to acknowledge a webhook
// only once the fleet holds it.
var _ workos.Revoker = (*Fleet)(nil)

// TestRevoke: Revoke forgets the key here at once and returns nil only once
// Redis holds the invalidation: in the stream, and the shared entry
// removed and tombstoned, this replica's own included. The other replica
// then refuses the key.
func TestRevoke(t *testing.T) {
	opt, prefix := testRedis(t)
	const value = "sk_test_revoke"
	up := newUpstream(value)
	opts := append(testOptions(prefix), WithSharedCache(time.Minute))
	a, b := newReplica(t, opt, up, opts...), newReplica(t, opt, up, opts...)
	require.NoError(t, a.validate(value))
	require.NoError(t, b.validate(value))
	admin := redis.NewClient(opt)
	defer admin.Close()
	p := "{" + prefix + "}:"
	slot := p + "key:" + digestHex(apikey.DigestOf(value))
	require.Equal(t, int64(1), admin.Exists(t.Context(), slot).Val())

	up.revoke("key_0")
	require.NoError(t, a.fleet.Revoke(t.Context(), apikey.Invalidation{ID: "key_0"}))
	// Acknowledged: Redis holds it now, whatever the publisher does later.
	assert.Zero(t, admin.Exists(t.Context(), slot).Val(), "the shared entry is gone")
	assert.Equal(t, int64(1), admin.Exists(t.Context(), p+"tomb:id:key_0").Val(), "and tombstoned")
	entries, err := admin.XRange(t.Context(), p+"stream", "-", "+").Result()
	require.NoError(t, err)
	require.NotEmpty(t, entries)
	assert.Equal(t, "key_0", entries[0].Values["id"])
	assert.ErrorIs(t, a.validate(value), apikey.ErrInvalidKey, "refused here at once")
	assert.Eventually(t, func() bool { return b.validate(value) != nil }, 5*time.Second, time.Millisecond, "and by the other replica")
}

// TestRevokeWithoutRedis: when Redis is stopped or hangs, Revoke returns an
// error matching ErrNotAcknowledged within the fleet's timeout (or ctx's
// end); the key is refused here all the same, and the invalidation is
// published once Redis is back.
func TestRevokeWithoutRedis(t *testing.T) {
	const value = "sk_test_revoke_down"
	for _, tc := range []struct {
		name string
		addr func(t *testing.T) string
	}{
		{"stopped", refused},
		{"hangs", blackhole},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := newUpstream(value)
			const timeout = 100 * time.Millisecond
			f, err := New(&redis.Options{Addr: tc.addr(t), MaxRetries: -1}, WithTimeout(timeout), WithLogger(discard))
			require.NoError(t, err)
			defer f.Close()
			cache, err := apikey.NewCache(f.Validator(up), apikey.WithHooks(f.Hooks()))
			require.NoError(t, err)
			require.NoError(t, f.Attach(cache))
			_, err = cache.Validate(t.Context(), value)
			require.NoError(t, err)

			up.revoke("key_0")
			start := time.Now()
			err = f.Revoke(t.Context(), apikey.Invalidation{ID: "key_0"})
			assert.ErrorIs(t, err, ErrNotAcknowledged)
			assert.Less(t, time.Since(start), 20*timeout, "a bounded wait")
			_, err = cache.Validate(t.Context(), value)
			assert.ErrorIs(t, err, apikey.ErrInvalidKey, "forgotten here all the same")

			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			assert.ErrorIs(t, f.Revoke(ctx, apikey.Invalidation{ID: "key_0"}), ErrNotAcknowledged, "a context that ended")
		})
	}

	t.Run("retried once Redis is back", func(t *testing.T) {
		opt, prefix := testRedis(t)
		lock, lockedOpt := newLockout(t, opt)
		up := newUpstream(value)
		r := newReplica(t, lockedOpt, up, testOptions(prefix)...)
		lock.cutOff(t)
		assert.ErrorIs(t, r.fleet.Revoke(t.Context(), apikey.Invalidation{ID: "key_0"}), ErrNotAcknowledged)
		lock.letIn(t)
		require.Eventually(t, func() bool { return r.fleet.Stats().Published >= 1 }, 10*time.Second, time.Millisecond)
	})
}

// TestRevokeRefusals: an invalidation that names nothing is a mistake, and
// a closed fleet acknowledges nothing.
func TestRevokeRefusals(t *testing.T) {
	opt, prefix := testRedis(t)
	r := newReplica(t, opt, newUpstream(), testOptions(prefix)...)
	assert.ErrorIs(t, r.fleet.Revoke(t.Context(), apikey.Invalidation{}), apikey.ErrMisconfigured)
	require.NoError(t, r.fleet.Close())
	assert.ErrorIs(t, r.fleet.Revoke(t.Context(), apikey.Invalidation{ID: "key_0"}), ErrNotAcknowledged)
}
