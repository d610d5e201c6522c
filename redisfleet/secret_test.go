package redisfleet

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apikeyauth/apikey"
)

// entryAs encodes e as a replica with secret (nil for none) would.
func entryAs(secret []byte, e sharedEntry) string {
	f := &Fleet{}
	if secret != nil {
		f.s.secret = newSharedSecret(secret)
	}
	return f.encodeEntry(e)
}

// fleetEpoch returns the fleet's epoch in Redis, which a replica's Attach
// created.
func fleetEpoch(t *testing.T, admin *redis.Client, prefix string) string {
	t.Helper()
	epoch, err := admin.Get(t.Context(), "{"+prefix+"}:epoch").Result()
	require.NoError(t, err)
	return epoch
}

// TestSharedSecret: with a shared secret, an entry someone wrote to Redis
// without it, signed with another secret, moved from another key's place,
// kept past its expiry or from another epoch is refused and counted, and
// the key is validated upstream; an entry signed with the fleet's secret is
// served.
func TestSharedSecret(t *testing.T) {
	const value = "sk_test_secret"
	secret := bytes.Repeat([]byte("s"), 32)
	other := bytes.Repeat([]byte("o"), 32)
	forged, err := json.Marshal(apikey.Key{ID: "key_0", Permissions: []string{"admin"}})
	require.NoError(t, err)
	digest := digestHex(apikey.DigestOf(value))
	later := time.Now().Add(time.Hour).UnixMilli()
	for _, tc := range []struct {
		name   string
		entry  func(epoch string) string
		served bool
	}{
		{"no MAC", func(epoch string) string {
			return entryAs(nil, sharedEntry{digest: digest, epoch: epoch, clock: "0", notAfter: later, id: "key_0", body: forged})
		}, false},
		{"a MAC that is not hex", func(epoch string) string {
			return "0:" + "9999999999999:" + epoch + ":" + hex.EncodeToString([]byte("key_0")) + ":zz:" + string(forged)
		}, false},
		{"the format before MACs bound the expiry", func(string) string { return "0:" + hex.EncodeToString(make([]byte, 32)) + ":" + string(forged) }, false},
		{"another secret", func(epoch string) string {
			return entryAs(other, sharedEntry{digest: digest, epoch: epoch, clock: "0", notAfter: later, id: "key_0", body: forged})
		}, false},
		{"moved from another digest", func(epoch string) string {
			return entryAs(secret, sharedEntry{digest: digestHex(apikey.DigestOf("sk_test_other")), epoch: epoch, clock: "0",
				notAfter: later, id: "key_0", body: forged})
		}, false},
		{"past the expiry it was signed with", func(epoch string) string {
			return entryAs(secret, sharedEntry{digest: digest, epoch: epoch, clock: "0", notAfter: time.Now().Add(-time.Millisecond).UnixMilli(),
				id: "key_0", body: forged})
		}, false},
		{"its expiry changed", func(epoch string) string {
			e := entryAs(secret, sharedEntry{digest: digest, epoch: epoch, clock: "0", notAfter: time.Now().Add(-time.Second).UnixMilli(),
				id: "key_0", body: forged})
			return "0:" + "9999999999999" + e[bytes.IndexByte([]byte(e[2:]), ':')+2:]
		}, false},
		{"another epoch", func(string) string {
			return entryAs(secret, sharedEntry{digest: digest, epoch: "0123abcd", clock: "0", notAfter: later, id: "key_0", body: forged})
		}, false},
		{"another key's ID", func(epoch string) string {
			return entryAs(secret, sharedEntry{digest: digest, epoch: epoch, clock: "0", notAfter: later, id: "key_1", body: forged})
		}, false},
		{"the fleet's secret", func(epoch string) string {
			return entryAs(secret, sharedEntry{digest: digest, epoch: epoch, clock: "0", notAfter: later, id: "key_0", body: forged})
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opt, prefix := testRedis(t)
			up := newUpstream(value)
			r := newReplica(t, opt, up, append(testOptions(prefix), WithSharedCache(10*time.Second), WithSharedSecret(secret))...)
			admin := redis.NewClient(opt)
			defer admin.Close()
			require.NoError(t, admin.Set(t.Context(), "{"+prefix+"}:key:"+digest, tc.entry(fleetEpoch(t, admin, prefix)), time.Minute).Err())

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
			if tc.name != "another epoch" { // a miss: Redis lost its state, or the epoch changed since
				assert.Equal(t, uint64(1), st.SharedRejected+st.SharedErrors, "counted")
			}
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

// TestSharedEntryReplayed: an entry captured while its key was valid and
// written back after the key was revoked, even without an expiry, is
// refused by every replica, signed or not: the key's tombstones, by ID and
// by digest, are checked on every read. A fresh replica, which never heard
// of the revocation, asks the upstream, which refuses the key.
func TestSharedEntryReplayed(t *testing.T) {
	const value = "sk_test_replayed"
	for _, tc := range []struct {
		name string
		opts []Option
		inv  func(c *apikey.Cache)
	}{
		{"unsigned, revoked by ID", nil, func(c *apikey.Cache) { c.InvalidateID("key_0") }},
		{"signed, revoked by ID", []Option{WithSharedSecret(bytes.Repeat([]byte("s"), 32))}, func(c *apikey.Cache) { c.InvalidateID("key_0") }},
		{"signed, revoked by value", []Option{WithSharedSecret(bytes.Repeat([]byte("s"), 32))}, func(c *apikey.Cache) { c.InvalidateValue(value) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opt, prefix := testRedis(t)
			up := newUpstream(value)
			opts := append(append(testOptions(prefix), WithSharedCache(10*time.Second)), tc.opts...)
			a := newReplica(t, opt, up, opts...)
			require.NoError(t, a.validate(value))
			admin := redis.NewClient(opt)
			defer admin.Close()
			slot := "{" + prefix + "}:key:" + digestHex(apikey.DigestOf(value))
			captured, err := admin.Get(t.Context(), slot).Result()
			require.NoError(t, err, "a stored the key in the shared cache")

			up.revoke("key_0")
			tc.inv(a.cache)
			require.Eventually(t, func() bool { return a.fleet.Stats().Published+a.fleet.Stats().SharedCleared == 1 }, 5*time.Second, time.Millisecond)
			require.NoError(t, admin.Set(context.Background(), slot, captured, 0).Err(), "written back, with no expiry")

			fresh := newReplica(t, opt, up, opts...)
			assert.ErrorIs(t, fresh.validate(value), apikey.ErrInvalidKey, "a fresh replica asks the upstream")
			assert.ErrorIs(t, a.validate(value), apikey.ErrInvalidKey, "so does the revoking one")
			assert.Equal(t, int64(3), up.calls.Load())
			assert.Positive(t, fresh.fleet.Stats().SharedRejected, "counted")
		})
	}
}

// TestSharedEntryWithoutKey: an entry that decodes to no key, such as
// "0:null" without a secret, is not a key without an ID: the key goes to
// the validator, which answers it.
func TestSharedEntryWithoutKey(t *testing.T) {
	const value = "sk_test_null"
	digest := digestHex(apikey.DigestOf(value))
	for _, tc := range []struct {
		name  string
		entry func(epoch string) string
	}{
		{"the old format", func(string) string { return "0:null" }},
		{"null", func(epoch string) string {
			return entryAs(nil, sharedEntry{digest: digest, epoch: epoch, clock: "0", notAfter: time.Now().Add(time.Hour).UnixMilli(),
				id: "key_0", body: []byte("null")})
		}},
		{"no ID", func(epoch string) string {
			return entryAs(nil, sharedEntry{digest: digest, epoch: epoch, clock: "0", notAfter: time.Now().Add(time.Hour).UnixMilli(),
				body: []byte(`{"name":"no id"}`)})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opt, prefix := testRedis(t)
			up := newUpstream(value)
			r := newReplica(t, opt, up, append(testOptions(prefix), WithSharedCache(10*time.Second))...)
			admin := redis.NewClient(opt)
			defer admin.Close()
			require.NoError(t, admin.Set(t.Context(), "{"+prefix+"}:key:"+digest, tc.entry(fleetEpoch(t, admin, prefix)), time.Minute).Err())

			key, err := r.cache.Validate(t.Context(), value)
			require.NoError(t, err)
			assert.Equal(t, "key_0", key.ID, "the validator's answer")
			assert.Equal(t, int64(1), up.calls.Load())
		})
	}
}
