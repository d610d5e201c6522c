package redisfleet

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apikeyauth/apikey"
)

// A claim is taken by the hook of an equal invalidation only, oldest
// first, and once closed can no longer be taken.
func TestClaims(t *testing.T) {
	k1 := apikey.Invalidation{ID: "key_1", Origin: apikey.OriginLocal}
	k2 := apikey.Invalidation{ID: "key_2", Origin: apikey.OriginLocal}
	var c claims
	assert.False(t, c.take(k1), "no claim")

	a := c.add(k1)
	assert.False(t, c.take(k2), "another invalidation")
	assert.False(t, c.take(apikey.Invalidation{ID: "key_1", Origin: apikey.OriginReplica}), "another origin")
	assert.True(t, c.take(k1))
	assert.False(t, c.take(k1), "taken once")
	assert.True(t, c.done(k1, a))

	a, b := c.add(k1), c.add(k1)
	assert.True(t, c.take(k1), "the oldest")
	assert.False(t, c.done(k1, b), "the younger one was not taken")
	assert.True(t, c.done(k1, a))
	assert.False(t, c.take(k1), "closed claims are not taken")
	assert.Zero(t, c.n.Load())
	assert.Empty(t, c.open)
}

// Revokes racing the cache's own invalidations of the same key lose none:
// every one is published, by Revoke or the queue, nothing stays
// outstanding, and the acknowledged Revokes are not all published twice.
func TestRevokeRacesInvalidate(t *testing.T) {
	opt, prefix := testRedis(t)
	admin := redis.NewClient(opt)
	defer admin.Close()
	r := newReplica(t, opt, newUpstream(), testOptions(prefix)...)
	const n = 16
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { assert.NoError(t, r.fleet.Revoke(t.Context(), apikey.Invalidation{ID: "key_0"})) })
		wg.Go(func() { r.cache.InvalidateID("key_0") })
	}
	wg.Wait()
	r.cache.InvalidateID("marker")
	require.Eventually(t, func() bool { return !r.fleet.unpublished() }, 10*time.Second, time.Millisecond)
	got, err := admin.XRange(context.Background(), "{"+prefix+"}:stream", "-", "+").Result()
	require.NoError(t, err)
	count := map[string]int{}
	for _, e := range got {
		id, _ := e.Values["id"].(string)
		count[id]++
	}
	assert.Equal(t, 1, count["marker"])
	// Each Revoke publishes its own, and each hook call queues its own
	// unless it took a claim: 3n less the claims taken.
	assert.GreaterOrEqual(t, count["key_0"], 2*n, "every Revoke's and every InvalidateID's")
	assert.Less(t, count["key_0"], 3*n, "not every Revoke's twice")
	assert.Zero(t, r.fleet.Stats().Dropped)
	assert.Zero(t, r.fleet.revoking.n.Load())
}
