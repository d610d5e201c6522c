package redisfleet

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apikeyauth/apikey"
)

// redisLog collects what go-redis logs.
type redisLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *redisLog) Printf(_ context.Context, format string, v ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, v...))
}

// TestCloseMidRead closes fleets while their reader waits in Redis: Close
// wakes the reader there (CLIENT UNBLOCK) and lets it end before closing
// its connection. Closing the connection under it instead made go-redis
// log "Unexpected conn … state changed by hook to CLOSED" whenever a call
// had just got its answer. The closes are quick all the same, and go-redis
// logs nothing.
func TestCloseMidRead(t *testing.T) {
	srv := startRedisServer(t, "")
	var log redisLog
	redis.SetLogger(&log)
	defer redis.SetLogger(stderrLog{}) // go-redis cannot give its default back: one like it
	const closes = 10
	for range closes {
		f, err := New(srv.options(), WithPrefix("closemidread"), WithBlock(time.Minute), WithLogger(discard))
		require.NoError(t, err)
		require.NoError(t, f.Attach(newCacheFor(t, f)))
		r := &replica{fleet: f}
		r.waitConnected(t)
		start := time.Now()
		require.NoError(t, f.Close())
		assert.Less(t, time.Since(start), 10*time.Second, "Close does not wait for the read to end by itself")
	}
	admin := redis.NewClient(srv.options())
	defer admin.Close()
	info, err := admin.Info(t.Context(), "commandstats").Result()
	require.NoError(t, err)
	m := regexp.MustCompile(`cmdstat_client\|unblock:calls=(\d+)`).FindStringSubmatch(info)
	require.NotNil(t, m, "Close woke the readers")
	n, _ := strconv.Atoi(m[1])
	assert.GreaterOrEqual(t, n, closes)
	log.mu.Lock()
	defer log.mu.Unlock()
	assert.Empty(t, log.lines)
}

// stderrLog prints go-redis's lines to stderr, as its default logger does.
type stderrLog struct{}

func (stderrLog) Printf(_ context.Context, format string, v ...any) {
	fmt.Fprintf(os.Stderr, "redis: "+format+"\n", v...)
}

func newCacheFor(t *testing.T, f *Fleet) *apikey.Cache {
	t.Helper()
	cache, err := apikey.NewCache(f.Validator(newUpstream()), apikey.WithHooks(f.Hooks()))
	require.NoError(t, err)
	return cache
}
