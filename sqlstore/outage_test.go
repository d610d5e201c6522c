package sqlstore

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apikeyauth/apikey"
)

// proxy forwards TCP connections to a database until it is cut: then it
// drops every connection and refuses new ones, as a lost network does.
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  []net.Conn
	wg     sync.WaitGroup
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &proxy{ln: ln, target: target}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		ln.Close()
		p.cut()
		p.wg.Wait()
	})
	return p
}

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		if down {
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		// Cut while this connection was being set up: cut did not see it,
		// so it must not be let through now, or it outlives the outage.
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			c.Close()
			up.Close()
			continue
		}
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		p.wg.Add(2)
		go func() { defer p.wg.Done(); io.Copy(up, c); up.Close() }()
		go func() { defer p.wg.Done(); io.Copy(c, up); c.Close() }()
	}
}

func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *proxy) restore() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}

// While PostgreSQL is out of reach, requests are answered 503 (cached keys
// too: the store cannot tell what changed, so the cache is purged), the
// uses seen before are kept and written once it is back, requests work
// again, and no log holds a key value.
func TestDatabaseOutage(t *testing.T) {
	ctx := context.Background()
	dsn := postgresTestDSN(t)
	u, err := url.Parse(dsn)
	require.NoError(t, err)
	p := startProxy(t, u.Host)
	u.Host = p.ln.Addr().String()
	q := u.Query()
	q.Set("connect_timeout", "2")
	u.RawQuery = q.Encode()

	var logs lockedBuffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	defaultLogger := slog.Default()
	slog.SetDefault(logger) // the middleware's own reports too
	t.Cleanup(func() { slog.SetDefault(defaultLogger) })

	admin := openStore(t, dsn)
	s := openStore(t, u.String(), WithPollInterval(20*time.Millisecond), WithLogger(logger))
	auth, err := apikey.New(s, apikey.WithFormatCheck(s.KeyFormat().Check), apikey.WithValidationTimeout(3*time.Second))
	require.NoError(t, err)
	require.NoError(t, s.Watch(ctx, auth.Cache()))
	h := auth.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	k1, v1, err := admin.Create(ctx, NewKey{Name: "one", Owner: apikey.Owner{ID: "org_1"}})
	require.NoError(t, err)
	_, v2, err := admin.Create(ctx, NewKey{Name: "two", Owner: apikey.Owner{ID: "org_1"}})
	require.NoError(t, err)
	var bodies bytes.Buffer
	do := func(value string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", "Bearer "+value)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		bodies.Write(w.Body.Bytes())
		for _, vs := range w.Header() {
			for _, v := range vs {
				bodies.WriteString(v)
			}
		}
		return w
	}

	require.Equal(t, http.StatusNoContent, do(v1).Code)

	p.cut()
	w := do(v2)
	assert.Equal(t, http.StatusServiceUnavailable, w.Code, "a key not cached")
	assert.NotEmpty(t, w.Header().Get("Retry-After"))
	assert.Contains(t, w.Body.String(), "temporarily_unavailable")
	require.Eventually(t, func() bool { return do(v1).Code == http.StatusServiceUnavailable }, 5*time.Second, 10*time.Millisecond,
		"a cached key, once the store cannot read the changes")
	assert.Error(t, s.Flush(ctx), "the last use cannot be written")
	got, err := admin.Get(ctx, k1.ID)
	require.NoError(t, err)
	assert.True(t, got.LastUsedAt.IsZero())

	p.restore()
	require.Eventually(t, func() bool { return s.Flush(ctx) == nil }, 10*time.Second, 20*time.Millisecond)
	got, err = admin.Get(ctx, k1.ID)
	require.NoError(t, err)
	assert.False(t, got.LastUsedAt.IsZero(), "the use seen before the outage is written after it")
	require.Eventually(t, func() bool { return do(v1).Code == http.StatusNoContent }, 10*time.Second, 20*time.Millisecond)
	assert.Equal(t, http.StatusNoContent, do(v2).Code)

	require.NoError(t, s.Close())
	assert.Contains(t, logs.String(), "reading the changes failed", "the outage is reported")
	for _, v := range []string{v1, v2} {
		assert.NotContains(t, logs.String(), v[len(testFormat.Prefix):len(v)-4], "a key value in a log")
		assert.NotContains(t, bodies.String(), v[len(testFormat.Prefix):len(v)-4], "a key value in a response")
	}
}

// lockedBuffer is a buffer that goroutines and processes' pipes may share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// During a PostgreSQL outage the watcher, polling and reconnecting its
// listener many times a second here, logs each of its two states once
// when it is lost and once when it is back, not at every attempt; and it
// does come back, though a poll interval this short is less than opening
// a connection may take.
func TestWatchLogsOutageOnce(t *testing.T) {
	ctx := context.Background()
	dsn := postgresTestDSN(t)
	u, err := url.Parse(dsn)
	require.NoError(t, err)
	p := startProxy(t, u.Host)
	u.Host = p.ln.Addr().String()
	var logs lockedBuffer
	s := openStore(t, u.String(), WithPollInterval(20*time.Millisecond), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	inv := newInvalidations()
	require.NoError(t, s.Watch(ctx, inv))

	p.cut()
	purges := 0
	for purges < 10 { // ten failed polls, and as many attempts to listen again
		if inv.next(t, 5*time.Second).All {
			purges++
		}
	}
	p.restore()
	require.Eventually(t, func() bool {
		return strings.Contains(logs.String(), "reading the changes works again") && strings.Contains(logs.String(), "listening for changes again")
	}, 10*time.Second, 10*time.Millisecond, logs.String())
	time.Sleep(100 * time.Millisecond) // a few more polls, each of which could log
	for _, line := range []string{
		"reading the changes failed", "reading the changes works again",
		"listening for changes failed", "listening for changes again",
	} {
		assert.Equal(t, 1, strings.Count(logs.String(), line), line)
	}
}
