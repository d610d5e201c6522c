package redisfleet

import (
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redis/go-redis/v9"

	"github.com/apikeyauth/apikey"
)

// TestConnectionStateLogged: the reader logs losing Redis once, however
// many reconnections fail, and regaining it once, however many reads and
// checks succeed after.
func TestConnectionStateLogged(t *testing.T) {
	srv := startRedisServer(t, "")
	lock, lockedOpt := newLockout(t, srv.options())
	var logs syncBuffer
	r := newReplica(t, lockedOpt, newUpstream(), WithPrefix("connlog"), WithBlock(10*time.Millisecond),
		WithTimeout(time.Second), WithLogger(slogTo(&logs)))
	admin := lock.admin
	const lost, back = "Redis does not answer", "reading invalidations from Redis"
	calls := func(stat string) int {
		info, err := admin.Info(t.Context(), "errorstats", "commandstats").Result()
		require.NoError(t, err)
		m := regexp.MustCompile(stat + `[:=](\d+)`).FindStringSubmatch(info)
		if m == nil {
			return 0
		}
		n, _ := strconv.Atoi(m[1])
		return n
	}

	lock.cutOff(t)
	require.Eventually(t, func() bool { return calls("errorstat_WRONGPASS:count") >= 3 }, 10*time.Second, time.Millisecond,
		"three reconnections refused")
	assert.Equal(t, 1, strings.Count(logs.String(), lost), logs.String())

	lock.letIn(t)
	r.waitConnected(t)
	checks := calls("cmdstat_evalsha:calls")
	require.Eventually(t, func() bool { return calls("cmdstat_evalsha:calls") >= checks+5 }, 10*time.Second, time.Millisecond,
		"five more checks of the stream")
	assert.Equal(t, 1, strings.Count(logs.String(), lost), logs.String())
	assert.Equal(t, 2, strings.Count(logs.String(), back), "at start, and once back: %s", logs.String())
}

// TestConnectionStateLoggedFromStart: a replica that never reached Redis
// logs it once, however many attempts fail.
func TestConnectionStateLoggedFromStart(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var accepts atomic.Int64
	go func() { // a Redis that hangs up on every connection
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepts.Add(1)
			_ = c.Close()
		}
	}()
	defer ln.Close()
	var logs syncBuffer
	f, err := New(&redis.Options{Addr: ln.Addr().String(), MaxRetries: -1}, WithBlock(10*time.Millisecond),
		WithTimeout(50*time.Millisecond), WithLogger(slogTo(&logs)))
	require.NoError(t, err)
	defer f.Close()
	cache, err := apikey.NewCache(f.Validator(newUpstream()), apikey.WithHooks(f.Hooks()))
	require.NoError(t, err)
	require.NoError(t, f.Attach(cache))
	require.Eventually(t, func() bool { return accepts.Load() >= 4 }, 10*time.Second, time.Millisecond, "attempts")
	assert.False(t, f.Stats().Connected)
	assert.Equal(t, 1, strings.Count(logs.String(), "Redis does not answer"), logs.String())
}
