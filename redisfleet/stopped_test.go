package redisfleet

import (
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apikeyauth/apikey"
)

// TestPublishWhileRedisStopped: an invalidation published while Redis is
// stopped (SIGSTOP) times out, and is given up after the retry window; but
// Redis took it, and applies it when it resumes. So it is counted as
// unconfirmed, not as dropped.
func TestPublishWhileRedisStopped(t *testing.T) {
	srv := startRedisServer(t, "")
	f, err := New(srv.options(), WithPrefix("stopped"), WithTimeout(100*time.Millisecond), WithRetryFor(300*time.Millisecond),
		WithLogger(discard))
	require.NoError(t, err)
	defer f.Close()
	admin := redis.NewClient(srv.options())
	defer admin.Close()
	require.NoError(t, admin.Ping(t.Context()).Err())
	f.Hooks().Invalidation(invalidationOfID("warm"))
	require.Eventually(t, func() bool { return f.Stats().Published == 1 }, 5*time.Second, time.Millisecond, "a connection to reuse")

	require.NoError(t, srv.cmd.Process.Signal(syscall.SIGSTOP))
	f.Hooks().Invalidation(invalidationOfID("while_stopped"))
	require.Eventually(t, func() bool { st := f.Stats(); return st.Dropped+st.Unconfirmed == 1 }, 10*time.Second, time.Millisecond)
	require.NoError(t, srv.cmd.Process.Signal(syscall.SIGCONT))

	require.Eventually(t, func() bool {
		entries, _ := admin.XRange(t.Context(), "{stopped}:stream", "-", "+").Result()
		for _, e := range entries {
			if e.Values["id"] == "while_stopped" {
				return true
			}
		}
		return false
	}, 5*time.Second, time.Millisecond, "Redis applied it once resumed")
	st := f.Stats()
	assert.Zero(t, st.Dropped, "it was not dropped")
	assert.Equal(t, uint64(1), st.Unconfirmed)
}

func invalidationOfID(id string) apikey.Invalidation {
	return apikey.Invalidation{ID: id, Origin: apikey.OriginLocal}
}
