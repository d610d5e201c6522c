package redisfleet

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apikeyauth/apikey"
)

// TestSharedSecret: with a shared secret, an entry someone wrote to Redis
// without it, signed with another secret, or moved from another key's place
// is refused and counted, and the key is validated upstream; an entry
// another replica signed with the same secret is served.
func TestSharedSecret(t *testing.T) {
	const value = "sk_test_secret"
	secret := bytes.Repeat([]byte("s"), 32)
	other := bytes.Repeat([]byte("o"), 32)
	forged, err := json.Marshal(apikey.Key{ID: "key_0", Permissions: []string{"admin"}})
	require.NoError(t, err)
	digest := digestHex(apikey.DigestOf(value))
	signed := func(secret []byte, digest string) string {
		f := &Fleet{s: settings{secret: secret}}
		return f.encodeEntry(digest, "0", forged)
	}
	for _, tc := range []struct {
		name   string
		entry  string
		served bool
	}{
		{"no MAC", "0:" + string(forged), false},
		{"a MAC that is not hex", "0:zz:" + string(forged), false},
		{"another secret", signed(other, digest), false},
		{"moved from another digest", signed(secret, digestHex(apikey.DigestOf("sk_test_other"))), false},
		{"the fleet's secret", signed(secret, digest), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opt, prefix := testRedis(t)
			up := newUpstream(value)
			r := newReplica(t, opt, up, append(testOptions(prefix), WithSharedCache(10*time.Second), WithSharedSecret(secret))...)
			admin := redis.NewClient(opt)
			defer admin.Close()
			require.NoError(t, admin.Set(t.Context(), "{"+prefix+"}:key:"+digest, tc.entry, time.Minute).Err())

			key, err := r.cache.Validate(t.Context(), value)
			require.NoError(t, err)
			st := r.fleet.Stats()
			if tc.served {
				assert.Equal(t, []string{"admin"}, key.Permissions)
				assert.Zero(t, up.calls.Load())
				assert.Zero(t, st.SharedRejected)
				return
			}
			assert.Equal(t, []string{"posts:read"}, key.Permissions, "the upstream's answer, not the forged one")
			assert.Equal(t, int64(1), up.calls.Load())
			assert.Equal(t, uint64(1), st.SharedRejected)
		})
	}

	t.Run("replicas with the secret share keys", func(t *testing.T) {
		opt, prefix := testRedis(t)
		up := newUpstream(value)
		opts := append(testOptions(prefix), WithSharedCache(10*time.Second), WithSharedSecret(secret))
		a, b := newReplica(t, opt, up, opts...), newReplica(t, opt, up, opts...)
		require.NoError(t, a.validate(value))
		require.NoError(t, b.validate(value))
		assert.Equal(t, int64(1), up.calls.Load())
		assert.Equal(t, uint64(1), b.fleet.Stats().SharedHits)
	})
}
