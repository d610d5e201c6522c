package redisfleet

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apikeyauth/apikey"
)

func TestNewRefusesBadOptions(t *testing.T) {
	opt := &redis.Options{Addr: redisAddr()}
	for _, tc := range []struct {
		name string
		opt  *redis.Options
		opts []Option
		want string
	}{
		{"nil options", nil, nil, "the Redis options are nil"},
		{"empty prefix", opt, []Option{WithPrefix("")}, "prefix is empty"},
		{"brace in prefix", opt, []Option{WithPrefix("a}b")}, `prefix "a}b" has a brace`},
		{"zero max len", opt, []Option{WithMaxLen(0)}, "MaxLen must be positive, not 0"},
		{"zero timeout", opt, []Option{WithTimeout(0)}, "timeout must be positive, not 0s"},
		{"tiny block", opt, []Option{WithBlock(time.Microsecond)}, "at least 1ms"},
		{"negative shared TTL", opt, []Option{WithSharedCache(-time.Second)}, "must not be negative, not -1s"},
		{"shared TTL too long", opt, []Option{WithSharedCache(2 * time.Hour)}, "at most 59m0s"},
		{"negative lease wait", opt, []Option{WithLeaseWait(-time.Second)}, "lease wait"},
		{"zero queue", opt, []Option{WithQueue(0)}, "queue size"},
		{"negative retry", opt, []Option{WithRetryFor(-time.Second)}, "retry window"},
		{"nil logger", opt, []Option{WithLogger(nil)}, "logger is nil"},
		{"short secret", opt, []Option{WithSharedSecret(make([]byte, 31))}, "at least 32 bytes, not 31"},
		{"empty secret", opt, []Option{WithSharedSecret(nil)}, "at least 32 bytes, not 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := New(tc.opt, tc.opts...)
			assert.Nil(t, f)
			assert.ErrorIs(t, err, apikey.ErrMisconfigured)
			assert.ErrorContains(t, err, tc.want)
		})
	}
}

func TestAttach(t *testing.T) {
	prefix := "apikeytest-attach-" + randomToken()
	t.Cleanup(func() { // Attach wrote the epoch if a Redis answered
		admin := redis.NewClient(&redis.Options{Addr: redisAddr()})
		defer admin.Close()
		_ = admin.Del(context.Background(), "{"+prefix+"}:epoch").Err()
	})
	f, err := New(&redis.Options{Addr: redisAddr()}, WithPrefix(prefix), WithLogger(discard))
	require.NoError(t, err)
	cache, err := apikey.NewCache(newUpstream(), apikey.WithHooks(f.Hooks()))
	require.NoError(t, err)

	assert.ErrorIs(t, f.Attach(nil), apikey.ErrMisconfigured)
	require.NoError(t, f.Attach(cache))
	assert.ErrorIs(t, f.Attach(cache), ErrAttached, "a second cache")
	require.NoError(t, f.Close())
	require.NoError(t, f.Close(), "Close twice")

	g, err := New(&redis.Options{Addr: redisAddr()}, WithLogger(discard))
	require.NoError(t, err)
	require.NoError(t, g.Close())
	assert.ErrorIs(t, g.Attach(cache), ErrAttached, "after Close")
}

// TestValidatorRefusesNilUpstream: a nil upstream gives a nil Validator,
// which apikey.New refuses at setup, rather than one that panics on the
// first miss.
func TestValidatorRefusesNilUpstream(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []Option
		next apikey.Validator
	}{
		{"shared cache, nil", []Option{WithSharedCache(time.Second)}, nil},
		{"shared cache, nil pointer", []Option{WithSharedCache(time.Second)}, (*upstream)(nil)},
		{"no shared cache, nil pointer", nil, (*upstream)(nil)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := New(&redis.Options{Addr: redisAddr()}, append(tc.opts, WithLogger(discard))...)
			require.NoError(t, err)
			defer f.Close()
			v := f.Validator(tc.next)
			assert.Nil(t, v)
			_, err = apikey.New(v, apikey.WithHooks(f.Hooks()))
			assert.ErrorIs(t, err, apikey.ErrMisconfigured)
		})
	}
}

func TestValidatorWithoutSharedCacheIsUpstream(t *testing.T) {
	f, err := New(&redis.Options{Addr: redisAddr()}, WithLogger(discard))
	require.NoError(t, err)
	defer f.Close()
	up := newUpstream()
	assert.Same(t, up, f.Validator(up))
}

// TestThreeReplicas revokes a key on one of three replicas and watches the
// other two refuse it, for each kind of invalidation.
func TestThreeReplicas(t *testing.T) {
	const value = "sk_test_three_replicas"
	for _, tc := range []struct {
		name string
		inv  apikey.Invalidation
	}{
		{"by id", apikey.Invalidation{ID: "key_0"}},
		{"by digest", apikey.Invalidation{Digest: apikey.DigestOf(value)}},
		{"purge", apikey.Invalidation{All: true}},
		{"from a webhook", apikey.Invalidation{ID: "key_0", Origin: apikey.OriginWebhook}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opt, prefix := testRedis(t)
			up := newUpstream(value)
			rs := []*replica{
				newReplica(t, opt, up, testOptions(prefix)...),
				newReplica(t, opt, up, testOptions(prefix)...),
				newReplica(t, opt, up, testOptions(prefix)...),
			}
			for _, r := range rs {
				require.NoError(t, r.validate(value))
			}
			up.revoke("key_0")
			for _, r := range rs {
				require.NoError(t, r.validate(value), "cached: the upstream is not asked")
			}

			rs[0].cache.Invalidate(tc.inv)

			assert.ErrorIs(t, rs[0].validate(value), apikey.ErrInvalidKey, "refused where revoked")
			for _, r := range rs[1:] {
				require.Eventually(t, func() bool { return r.fleet.Stats().Received == 1 }, 5*time.Second, time.Millisecond)
				assert.ErrorIs(t, r.validate(value), apikey.ErrInvalidKey, "refused by the others")
			}
			require.Eventually(t, func() bool { return rs[0].fleet.Stats().Published == 1 }, 5*time.Second, time.Millisecond)
			time.Sleep(100 * time.Millisecond) // two block times: anything sent back would have arrived
			assert.Zero(t, rs[0].fleet.Stats().Received, "a replica skips what it published")
			for _, r := range rs[1:] {
				st := r.fleet.Stats()
				assert.Zero(t, st.Published, "what a replica received is never sent back")
				assert.Equal(t, uint64(1), st.Received)
				assert.Zero(t, st.Purges)
			}
		})
	}
}

// TestPublishAfterScriptFlush publishes after Redis forgot the fleet's
// scripts, as after a restart: the publisher loads it again.
func TestPublishAfterScriptFlush(t *testing.T) {
	opt, prefix := testRedis(t)
	up := newUpstream()
	a := newReplica(t, opt, up, testOptions(prefix)...)
	b := newReplica(t, opt, up, testOptions(prefix)...)
	admin := redis.NewClient(opt)
	defer admin.Close()
	require.NoError(t, admin.ScriptFlush(t.Context()).Err())

	a.cache.InvalidateID("key_0")
	require.Eventually(t, func() bool { return b.fleet.Stats().Received == 1 }, 5*time.Second, time.Millisecond)
	// Publications run the script by its hash only: without loading it
	// again, no retry could succeed.
	require.Eventually(t, func() bool { return a.fleet.Stats().Published == 1 }, 5*time.Second, time.Millisecond)
}

// TestBadEntries writes entries no replica published into the stream and
// the shared cache: the readers purge rather than guess, and go on; the
// validator asks upstream rather than trust an unreadable result.
func TestBadEntries(t *testing.T) {
	const value = "sk_test_bad_entries"
	ctx := t.Context()
	for _, tc := range []struct {
		name   string
		fields []any
	}{
		{"no sequence number", []any{"id", "key_0"}},
		{"an unreadable digest", []any{"seq", "next", "digest", "zz"}},
		{"a digest too short", []any{"seq", "next", "digest", "abcd"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opt, prefix := testRedis(t)
			up := newUpstream(value)
			a := newReplica(t, opt, up, testOptions(prefix)...)
			b := newReplica(t, opt, up, testOptions(prefix)...)
			a.cache.InvalidateID("unrelated") // the stream and its epoch exist
			require.Eventually(t, func() bool { return b.fleet.Stats().Received == 1 }, 5*time.Second, time.Millisecond)
			require.NoError(t, b.validate(value))

			admin := redis.NewClient(opt)
			defer admin.Close()
			p := "{" + prefix + "}:"
			epoch, err := admin.Get(ctx, p+"epoch").Result()
			require.NoError(t, err)
			seq, err := admin.Incr(ctx, p+"gen").Result()
			require.NoError(t, err)
			fields := append([]any{"epoch", epoch}, tc.fields...)
			for i, f := range fields {
				if f == "next" {
					fields[i] = seq
				}
			}
			require.NoError(t, admin.XAdd(ctx, &redis.XAddArgs{Stream: p + "stream", Values: fields}).Err())

			require.Eventually(t, func() bool { return b.fleet.Stats().Purges == 1 }, 5*time.Second, time.Millisecond)
			assert.Zero(t, b.cache.Stats().Size)
			a.cache.InvalidateID("after")
			require.Eventually(t, func() bool { return b.fleet.Stats().Received == 2 }, 5*time.Second, time.Millisecond,
				"the reader goes on past a bad entry")
		})
	}

	t.Run("an unreadable shared entry", func(t *testing.T) {
		opt, prefix := testRedis(t)
		up := newUpstream(value)
		r := newReplica(t, opt, up, append(testOptions(prefix), WithSharedCache(10*time.Second))...)
		admin := redis.NewClient(opt)
		defer admin.Close()
		key := "{" + prefix + "}:key:" + digestHex(apikey.DigestOf(value))
		require.NoError(t, admin.Set(ctx, key, "0:{not json", time.Minute).Err())

		start := time.Now()
		require.NoError(t, r.validate(value))
		assert.Less(t, time.Since(start), DefaultLeaseWait/2, "no wait for a lease no one holds")
		assert.Equal(t, int64(1), up.calls.Load(), "asked upstream")
		assert.Positive(t, r.fleet.Stats().SharedErrors)
		body, err := admin.Get(ctx, key).Result()
		require.NoError(t, err)
		assert.Contains(t, body, `"id":"key_0"`, "overwritten with the key")
	})
}
