package redisfleet

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apikeyauth/apikey"
)

// TestSharedCacheOneUpstreamCall warms one key on five replicas at once:
// one upstream call between them. A revocation then removes it from the
// shared cache too.
func TestSharedCacheOneUpstreamCall(t *testing.T) {
	opt, prefix := testRedis(t)
	const value = "sk_test_shared"
	up := newUpstream(value)
	up.delay = 50 * time.Millisecond // the others arrive while it is validated
	opts := append(testOptions(prefix), WithSharedCache(10*time.Second))
	var rs []*replica
	for range 5 {
		rs = append(rs, newReplica(t, opt, up, opts...))
	}

	var wg sync.WaitGroup
	for _, r := range rs {
		wg.Go(func() { assert.NoError(t, r.validate(value)) })
	}
	wg.Wait()
	assert.Equal(t, int64(1), up.calls.Load(), "one upstream call for five replicas")
	var hits, stored uint64
	for _, r := range rs {
		hits += r.fleet.Stats().SharedHits
		stored += r.fleet.Stats().SharedStored
	}
	assert.Equal(t, uint64(4), hits)
	assert.Equal(t, uint64(1), stored)

	late := newReplica(t, opt, up, opts...)
	require.NoError(t, late.validate(value))
	assert.Equal(t, int64(1), up.calls.Load(), "a replica that comes later finds it too")

	up.revoke("key_0")
	rs[0].cache.InvalidateID("key_0")
	require.Eventually(t, func() bool { return rs[0].fleet.Stats().Published == 1 }, 5*time.Second, time.Millisecond)
	assert.Zero(t, sharedEntries(t, opt, prefix), "the revocation removed the shared entry")
	fresh := newReplica(t, opt, up, opts...)
	assert.ErrorIs(t, fresh.validate(value), apikey.ErrInvalidKey, "not served from the shared cache")
}

// TestSharedCacheTTL keeps a shared entry no longer than the shared TTL,
// and never past the key's expiry.
func TestSharedCacheTTL(t *testing.T) {
	for _, tc := range []struct {
		name    string
		expires time.Duration // from now; 0 for never
		want    time.Duration
	}{
		{"the shared TTL", 0, 10 * time.Second},
		{"the key's expiry", 3 * time.Second, 3 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opt, prefix := testRedis(t)
			up := newUpstream("sk_test_ttl")
			if tc.expires > 0 {
				up.keys["sk_test_ttl"].ExpiresAt = time.Now().Add(tc.expires)
			}
			r := newReplica(t, opt, up, append(testOptions(prefix), WithSharedCache(10*time.Second))...)
			require.NoError(t, r.validate("sk_test_ttl"))
			admin := redis.NewClient(opt)
			defer admin.Close()
			ttl, err := admin.PTTL(context.Background(), "{"+prefix+"}:key:"+digestHex(apikey.DigestOf("sk_test_ttl"))).Result()
			require.NoError(t, err)
			assert.LessOrEqual(t, ttl, tc.want)
			assert.Greater(t, ttl, tc.want-time.Second)
		})
	}
}

// TestSharedCacheRevocationWinsInFlight revokes a key on one replica while
// another is validating it: the answer that comes back valid must not be
// written to the shared cache, where the others would find it.
func TestSharedCacheRevocationWinsInFlight(t *testing.T) {
	const value = "sk_test_in_flight"
	for _, tc := range []struct {
		name string
		inv  apikey.Invalidation
	}{
		{"by id", apikey.Invalidation{ID: "key_0"}},
		{"by digest", apikey.Invalidation{Digest: apikey.DigestOf(value)}},
		{"purge", apikey.Invalidation{All: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opt, prefix := testRedis(t)
			opts := append(testOptions(prefix), WithSharedCache(10*time.Second))
			slow := newUpstream(value)
			slow.gate = make(chan struct{})
			validating := newReplica(t, opt, slow, opts...)
			revoking := newReplica(t, opt, newUpstream(value), opts...)

			done := make(chan error)
			go func() { done <- validating.validate(value) }()
			require.Eventually(t, func() bool { return slow.calls.Load() == 1 }, 5*time.Second, time.Millisecond)
			revoking.cache.Invalidate(tc.inv)
			require.Eventually(t, func() bool { return revoking.fleet.Stats().Published == 1 }, 5*time.Second, time.Millisecond)
			slow.gate <- struct{}{} // the upstream answers "valid": it was asked before the revocation
			require.NoError(t, <-done, "the request that asked first gets its answer")

			st := validating.fleet.Stats()
			assert.Equal(t, uint64(1), st.SharedRefused)
			assert.Zero(t, st.SharedStored)
			assert.Zero(t, sharedEntries(t, opt, prefix), "nothing written back")
		})
	}
}

// sharedEntries counts the shared cache's entries under prefix.
func sharedEntries(t *testing.T, opt *redis.Options, prefix string) int {
	t.Helper()
	admin := redis.NewClient(opt)
	defer admin.Close()
	keys, err := admin.Keys(context.Background(), "{"+prefix+"}:key:*").Result()
	require.NoError(t, err)
	return len(keys)
}

// TestSharedCacheSkippedWhileUnpublished: a replica that applied an
// invalidation not yet in Redis does not read the shared cache, which may
// still hold what the invalidation removes.
func TestSharedCacheSkippedWhileUnpublished(t *testing.T) {
	opt, prefix := testRedis(t)
	const value = "sk_test_unpublished"
	up := newUpstream(value)
	opts := append(testOptions(prefix), WithSharedCache(10*time.Second))
	a := newReplica(t, opt, up, opts...)
	b := newReplica(t, opt, up, opts...)
	require.NoError(t, b.validate(value))
	require.Equal(t, int64(1), up.calls.Load())

	a.fleet.outstanding.Add(1) // as if an invalidation were queued, not yet published
	require.NoError(t, a.validate(value))
	assert.Equal(t, int64(2), up.calls.Load(), "asked upstream, not the shared cache")
	assert.Zero(t, a.fleet.Stats().SharedHits)
	a.fleet.outstanding.Add(-1)

	fresh := newReplica(t, opt, up, opts...)
	require.NoError(t, fresh.validate(value))
	assert.Equal(t, int64(2), up.calls.Load(), "published: the shared cache answers again")
}

// TestSharedCacheSkippedAfterWait: an invalidation applied here while this
// replica waited on another's lease keeps it from the shared cache, whose
// answer may be what the invalidation removes.
func TestSharedCacheSkippedAfterWait(t *testing.T) {
	opt, prefix := testRedis(t)
	const value = "sk_test_after_wait"
	up := newUpstream(value)
	r := newReplica(t, opt, up, append(testOptions(prefix), WithSharedCache(10*time.Second), WithLeaseWait(5*time.Second))...)
	admin := redis.NewClient(opt)
	defer admin.Close()
	ctx := t.Context()
	p, digest := "{"+prefix+"}:", digestHex(apikey.DigestOf(value))
	require.NoError(t, admin.Set(ctx, p+"lease:"+digest, "another replica", time.Minute).Err())

	done := make(chan error, 1)
	go func() { done <- r.validate(value) }()
	require.Eventually(t, func() bool { return r.fleet.Stats().SharedWaits == 1 }, 5*time.Second, time.Millisecond)
	r.fleet.outstanding.Add(1) // an invalidation applied, not yet published
	defer r.fleet.outstanding.Add(-1)
	body, err := json.Marshal(apikey.Key{ID: "key_0"})
	require.NoError(t, err)
	require.NoError(t, admin.Set(ctx, p+"key:"+digest, r.fleet.encodeEntry(sharedEntry{digest: digest,
		epoch: fleetEpoch(t, admin, prefix), clock: "0", notAfter: time.Now().Add(time.Minute).UnixMilli(), id: "key_0", body: body}), time.Minute).Err())

	require.NoError(t, <-done)
	assert.Equal(t, int64(1), up.calls.Load(), "asked upstream, not the shared cache")
	assert.Zero(t, r.fleet.Stats().SharedHits)
}

// TestSharedCacheBoundsTheLocalTTL: a replica that read a key from the
// shared cache keeps it locally no longer than the shared entry lives, so
// that a key revoked without any invalidation is not served for the two
// TTLs added together.
func TestSharedCacheBoundsTheLocalTTL(t *testing.T) {
	opt, prefix := testRedis(t)
	const value = "sk_test_bounded"
	up := newUpstream(value)
	opts := append(testOptions(prefix), WithSharedCache(300*time.Millisecond))
	a, b := newReplica(t, opt, up, opts...), newReplica(t, opt, up, opts...)
	require.NoError(t, a.validate(value))
	require.NoError(t, b.validate(value))
	require.Equal(t, int64(1), up.calls.Load(), "b read a's answer from the shared cache")

	// The shared entry ends (Redis's own clock); b's local cache, whose TTL
	// is 30s, must let the key go with it.
	require.Eventually(t, func() bool { return sharedEntries(t, opt, prefix) == 0 }, 5*time.Second, 10*time.Millisecond)
	require.NoError(t, b.validate(value))
	assert.Equal(t, int64(2), up.calls.Load(), "b asked again once the shared entry was gone")
}
