package redisfleet

import (
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apikeyauth/apikey"
)

// blackhole listens on loopback, accepts connections and never answers:
// a Redis that hangs.
func blackhole(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return ln.Addr().String()
}

// refused returns a loopback address where nothing listens: a Redis that
// is stopped.
func refused(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// TestRedisDown serves requests with a Redis that hangs or is stopped:
// cached keys succeed, new keys are validated upstream, invalidations apply
// locally, and no Redis call holds a request past the fleet's timeout.
func TestRedisDown(t *testing.T) {
	const timeout = 100 * time.Millisecond
	// bound is what a request may take: one Redis call at most, bounded by
	// the timeout, plus scheduling under the race detector on a busy
	// machine. go-redis's own defaults would take 5s.
	const bound = 10 * timeout
	for _, tc := range []struct {
		name string
		addr func(*testing.T) string
	}{
		{"blackholed", blackhole},
		{"stopped", refused},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := newUpstream("sk_test_cached", "sk_test_new")
			var logs syncBuffer
			f, err := New(&redis.Options{Addr: tc.addr(t)}, WithTimeout(timeout), WithSharedCache(10*time.Second),
				WithBlock(50*time.Millisecond), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			require.NoError(t, err)
			auth, err := apikey.New(f.Validator(up), apikey.WithHooks(f.Hooks()))
			require.NoError(t, err)
			require.NoError(t, f.Attach(auth.Cache()))
			h := auth.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
			get := func(value string) (int, time.Duration) {
				r := httptest.NewRequest(http.MethodGet, "/", nil)
				r.Header.Set("Authorization", "Bearer "+value)
				w := httptest.NewRecorder()
				start := time.Now()
				h.ServeHTTP(w, r)
				return w.Code, time.Since(start)
			}

			code, took := get("sk_test_cached")
			assert.Equal(t, http.StatusNoContent, code, "validated upstream")
			assert.Less(t, took, bound)
			assert.Equal(t, int64(1), up.calls.Load())
			code, took = get("sk_test_cached")
			assert.Equal(t, http.StatusNoContent, code, "cached")
			assert.Less(t, took, bound)
			assert.Equal(t, int64(1), up.calls.Load())
			code, took = get("sk_test_new")
			assert.Equal(t, http.StatusNoContent, code, "a new key, validated upstream")
			assert.Less(t, took, bound)
			assert.Equal(t, int64(2), up.calls.Load())

			up.revoke("key_0")
			start := time.Now()
			auth.Cache().InvalidateID("key_0")
			assert.Less(t, time.Since(start), bound, "an invalidation never waits for Redis")
			code, _ = get("sk_test_cached")
			assert.Equal(t, http.StatusUnauthorized, code, "the invalidation applied here")

			require.Eventually(t, func() bool { return f.Stats().PublishErrors > 0 }, 5*time.Second, time.Millisecond)
			st := f.Stats()
			assert.False(t, st.Connected)
			assert.Positive(t, st.SharedErrors)
			assert.Zero(t, st.Published)

			start = time.Now()
			require.NoError(t, f.Close())
			assert.Less(t, time.Since(start), 2*bound, "Close: one last bounded attempt to publish")
			assert.Equal(t, uint64(0), f.Stats().Published)
			assert.Equal(t, 1, strings.Count(logs.String(), "Redis does not answer"), "said once: %s", logs.String())
			assert.NotContains(t, logs.String(), "sk_test_")
		})
	}
}
