package redisfleet

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apikeyauth/apikey"
)

// TestSharedReadRacesPublication: an invalidation applied here, not yet in
// Redis when the shared read is sent, is published while the read waits,
// and the publisher settles before the read answers: the read may have run
// before the publication in Redis, so its answer is not used. Redis is
// paused (CLIENT PAUSE WRITE, on a Redis of the test's own) to hold the
// read while the publication settles, if the replica reads at all.
func TestSharedReadRacesPublication(t *testing.T) {
	srv := startRedisServer(t, "")
	const value = "sk_test_race"
	up := newUpstream(value)
	opts := append(testOptions("race"), WithSharedCache(time.Minute), WithBlock(time.Minute))
	a, b := newReplica(t, srv.options(), up, opts...), newReplica(t, srv.options(), up, opts...)
	require.NoError(t, b.validate(value))
	admin := redis.NewClient(srv.options())
	defer admin.Close()
	ctx := t.Context()

	a.fleet.outstanding.Add(1) // an invalidation applied, not yet published
	require.NoError(t, admin.Do(ctx, "CLIENT", "PAUSE", 10_000, "WRITE").Err())
	done := make(chan error, 1)
	go func() { done <- a.validate(value) }()
	read := func() bool { // a's shared read, held by the pause (only it runs a script: the readers wait in XREAD)
		list, err := admin.ClientList(ctx).Result()
		return err == nil && strings.Contains(list, "flags=b") && strings.Contains(list, "cmd=evalsha")
	}
	require.Eventually(t, func() bool { return len(done) > 0 || read() }, 5*time.Second, time.Millisecond,
		"a either skipped the shared cache or is reading it")
	a.fleet.outstanding.Add(-1) // published meanwhile, and settled
	require.NoError(t, admin.Do(ctx, "CLIENT", "UNPAUSE").Err())
	require.NoError(t, <-done)
	assert.Equal(t, int64(2), up.calls.Load(), "a asked upstream, not the shared cache")
}

// TestRevokeWithoutHooks: a replica whose cache does not have the fleet's
// hooks does not read the shared cache while its Revoke waits for Redis:
// the entry still there would be stored again in its local cache, and the
// replica skips its own stream entry. Redis is paused to hold the Revoke.
func TestRevokeWithoutHooks(t *testing.T) {
	srv := startRedisServer(t, "")
	const value = "sk_test_revoke_no_hooks"
	up := newUpstream(value)
	opts := append(testOptions("nohooks"), WithSharedCache(time.Minute), WithBlock(time.Minute), WithTimeout(5*time.Second))
	other := newReplica(t, srv.options(), up, opts...)
	require.NoError(t, other.validate(value), "the key is in the shared cache")
	f, err := New(srv.options(), opts...)
	require.NoError(t, err)
	defer f.Close()
	cache, err := apikey.NewCache(f.Validator(up)) // no hooks
	require.NoError(t, err)
	require.NoError(t, f.Attach(cache))
	admin := redis.NewClient(srv.options())
	defer admin.Close()
	ctx := t.Context()

	up.revoke("key_0")
	require.NoError(t, admin.Do(ctx, "CLIENT", "PAUSE", 10_000, "WRITE").Err())
	revoked := make(chan error, 1)
	go func() { revoked <- f.Revoke(context.Background(), apikey.Invalidation{ID: "key_0"}) }()
	require.Eventually(t, func() bool {
		list, err := admin.ClientList(ctx).Result()
		return err == nil && strings.Contains(list, "flags=b") && strings.Contains(list, "cmd=evalsha")
	}, 5*time.Second, time.Millisecond, "Revoke waits for Redis")
	validated := make(chan error, 1)
	go func() { _, err := cache.Validate(context.Background(), value); validated <- err }()
	select {
	case err := <-validated:
		assert.ErrorIs(t, err, apikey.ErrInvalidKey, "asked the upstream, not the shared cache")
	case <-time.After(2 * time.Second):
		t.Error("the validation waited for the paused Redis: it read the shared cache")
		defer func() { <-validated }()
	}
	require.NoError(t, admin.Do(ctx, "CLIENT", "UNPAUSE").Err())
	require.NoError(t, <-revoked)
}
