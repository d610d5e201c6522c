package redisfleet

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apikeyauth/apikey"
)

// lockout gives a replica a Redis user of its own, so that a test can cut
// it off: kill its connections, and keep it from coming back until let in.
type lockout struct {
	admin      *redis.Client
	user, pass string
}

func newLockout(t *testing.T, opt *redis.Options) (*lockout, *redis.Options) {
	t.Helper()
	l := &lockout{admin: redis.NewClient(opt), user: "apikeytest-" + randomToken()[:12], pass: randomToken()}
	t.Cleanup(func() {
		_ = l.admin.Do(context.Background(), "ACL", "DELUSER", l.user).Err()
		_ = l.admin.Close()
	})
	l.letIn(t)
	o := *opt
	o.Username, o.Password = l.user, l.pass
	return l, &o
}

func (l *lockout) letIn(t *testing.T) {
	t.Helper()
	require.NoError(t, l.admin.Do(context.Background(), "ACL", "SETUSER", l.user, "on", ">"+l.pass, "~*", "&*", "+@all").Err())
}

// cutOff disables the user and kills its connections with CLIENT KILL.
func (l *lockout) cutOff(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, l.admin.Do(ctx, "ACL", "SETUSER", l.user, "off").Err())
	killed, err := l.admin.Do(ctx, "CLIENT", "KILL", "USER", l.user).Int()
	require.NoError(t, err)
	require.Positive(t, killed, "the replica had connections to kill")
}

// TestReconnect kills a replica's Redis connections, revokes a key through
// another replica meanwhile, and shows that the first one refuses the key
// once it is back: by resuming the stream where it stopped, or by purging
// its cache when the stream no longer holds what it missed.
func TestReconnect(t *testing.T) {
	const value = "sk_test_reconnect"
	for _, tc := range []struct {
		name      string
		others    int // invalidations of other keys published while away
		maxLen    int64
		wantPurge bool
	}{
		{"resumes the stream", 0, DefaultMaxLen, false},
		{"resumes past other invalidations", 50, DefaultMaxLen, false},
		{"purges when the stream was trimmed", 500, 10, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opt, prefix := testRedis(t)
			lock, lockedOpt := newLockout(t, opt)
			up := newUpstream(value)
			away := newReplica(t, lockedOpt, up, testOptions(prefix)...)
			other := newReplica(t, opt, up, append(testOptions(prefix), WithMaxLen(tc.maxLen))...)
			require.NoError(t, away.validate(value))
			require.NoError(t, other.validate(value))

			lock.cutOff(t)
			require.Eventually(t, func() bool { return !away.fleet.Stats().Connected }, 5*time.Second, time.Millisecond)
			up.revoke("key_0")
			other.cache.InvalidateID("key_0")
			for i := range tc.others {
				other.cache.InvalidateID(fmt.Sprintf("other_%d", i))
			}
			require.Eventually(t, func() bool { return other.fleet.Stats().Published == uint64(tc.others+1) }, 5*time.Second, time.Millisecond)
			assert.NoError(t, away.validate(value), "cut off, the replica cannot know yet")
			assert.False(t, away.fleet.Stats().Connected)

			lock.letIn(t)
			away.waitConnected(t)
			require.Eventually(t, func() bool { return away.validate(value) != nil }, 5*time.Second, time.Millisecond)
			assert.ErrorIs(t, away.validate(value), apikey.ErrInvalidKey)
			st := away.fleet.Stats()
			if tc.wantPurge {
				assert.Equal(t, uint64(1), st.Purges)
			} else {
				assert.Zero(t, st.Purges)
				assert.Equal(t, uint64(tc.others+1), st.Received, "everything published while away")
			}
		})
	}
}

// TestRedisLosesState deletes the fleet's keys, as FLUSHDB or a restart
// without persistence would, and watches every replica purge its cache:
// noticed on the reader's next check when idle, or at once from the next
// entry when another replica publishes first.
func TestRedisLosesState(t *testing.T) {
	const value = "sk_test_flush"
	for _, tc := range []struct {
		name         string
		publishFirst bool
	}{
		{"noticed while idle", false},
		{"noticed from the next entry", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opt, prefix := testRedis(t)
			up := newUpstream(value)
			// A long block: only the next entry can tell the readers in time.
			block := 50 * time.Millisecond
			if tc.publishFirst {
				block = time.Minute
			}
			opts := append(testOptions(prefix), WithBlock(block))
			rs := []*replica{newReplica(t, opt, up, opts...), newReplica(t, opt, up, opts...)}
			rs[0].cache.InvalidateID("unrelated") // so that the stream exists
			require.Eventually(t, func() bool { return rs[1].fleet.Stats().Received == 1 }, 5*time.Second, time.Millisecond)
			for _, r := range rs {
				require.NoError(t, r.validate(value))
				require.Equal(t, 1, r.cache.Stats().Size)
			}

			admin := redis.NewClient(opt)
			defer admin.Close()
			deletePrefix(t, admin, prefix)
			if tc.publishFirst {
				rs[0].cache.InvalidateID("unrelated")
			}

			for i, r := range rs {
				if tc.publishFirst && i == 0 {
					continue // the publisher skips its own entry; its check comes a block later
				}
				require.Eventually(t, func() bool { return r.fleet.Stats().Purges == 1 }, 5*time.Second, time.Millisecond, "replica %d", i)
				assert.Zero(t, r.cache.Stats().Size, "replica %d forgot every key", i)
			}
			calls := up.calls.Load()
			require.NoError(t, rs[1].validate(value))
			assert.Equal(t, calls+1, up.calls.Load(), "the key is validated again")
		})
	}
}

// TestAttachWhileRedisAway starts a replica that cannot reach Redis: what
// it validates meanwhile is purged once it does, since it cannot know which
// invalidations it missed.
func TestAttachWhileRedisAway(t *testing.T) {
	opt, prefix := testRedis(t)
	lock, lockedOpt := newLockout(t, opt)
	require.NoError(t, lock.admin.Do(context.Background(), "ACL", "SETUSER", lock.user, "off").Err())
	const value = "sk_test_attach_away"
	up := newUpstream(value)
	f, err := New(lockedOpt, testOptions(prefix)...)
	require.NoError(t, err)
	defer func() { require.NoError(t, f.Close()) }()
	cache, err := apikey.NewCache(f.Validator(up), apikey.WithHooks(f.Hooks()))
	require.NoError(t, err)
	require.NoError(t, f.Attach(cache))
	assert.False(t, f.Stats().Connected)
	_, err = cache.Validate(context.Background(), value)
	require.NoError(t, err)

	lock.letIn(t)
	require.Eventually(t, func() bool { return f.Stats().Purges == 1 }, 5*time.Second, time.Millisecond)
	assert.Zero(t, cache.Stats().Size)
	assert.True(t, f.Stats().Connected)
}

// TestPublishWhileCutOff revokes a key on a replica that cannot reach
// Redis: the invalidation applies there at once, and reaches the others
// when it is back. With a queue too small to hold what was revoked
// meanwhile, the others are told to purge instead.
func TestPublishWhileCutOff(t *testing.T) {
	const value = "sk_test_publish_cut_off"
	for _, tc := range []struct {
		name        string
		queue       int
		revocations int
		wantDropped bool
	}{
		{"retried when back", DefaultQueue, 3, false},
		// key_0 comes last: dropped, only the purge can revoke it.
		{"a purge for what overflowed", 1, 4, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opt, prefix := testRedis(t)
			lock, lockedOpt := newLockout(t, opt)
			up := newUpstream(value)
			cutOff := newReplica(t, lockedOpt, up, append(testOptions(prefix), WithQueue(tc.queue))...)
			other := newReplica(t, opt, up, testOptions(prefix)...)
			require.NoError(t, other.validate(value))

			lock.cutOff(t)
			require.Eventually(t, func() bool { return !cutOff.fleet.Stats().Connected }, 5*time.Second, time.Millisecond)
			up.revoke("key_0")
			for i := tc.revocations - 1; i >= 0; i-- {
				cutOff.cache.InvalidateID(fmt.Sprintf("key_%d", i))
			}
			assert.ErrorIs(t, cutOff.validate(value), apikey.ErrInvalidKey, "applied here at once")
			require.Eventually(t, func() bool { return cutOff.fleet.Stats().PublishErrors > 0 }, 5*time.Second, time.Millisecond)
			assert.NoError(t, other.validate(value), "not told yet")

			lock.letIn(t)
			require.Eventually(t, func() bool { return other.validate(value) != nil }, 10*time.Second, time.Millisecond)
			if tc.wantDropped {
				assert.Positive(t, cutOff.fleet.Stats().Dropped)
				assert.Zero(t, other.cache.Stats().Size, "the purge emptied the other cache")
			} else {
				assert.Zero(t, cutOff.fleet.Stats().Dropped)
				require.Eventually(t, func() bool { return other.fleet.Stats().Received == uint64(tc.revocations) }, 5*time.Second, time.Millisecond)
			}
		})
	}
}
