package redisfleet

import (
	"bytes"
	"context"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apikeyauth/apikey"
)

// A Revoke whose publication fails while the Fleet closes is still
// published by Close, or replaced by a purge, as everything queued is:
// Close waits for the Revokes in flight before it flushes the queue, and
// its timeout bounds the wait. Here the first write of Revoke's
// publication hangs until its deadline; Close, called meanwhile, used to
// flush an empty queue and close the connection under it, and the
// invalidation Revoke then queued was neither published nor purged.
func TestRevokeDuringClose(t *testing.T) {
	opt, prefix := testRedis(t)
	admin := redis.NewClient(opt)
	defer admin.Close()
	const id = "key_revoked_while_closing"
	gate := &hangFirstWrite{marker: []byte(id), hung: make(chan struct{})}
	o := *opt
	o.Dialer = gate.dial
	f, err := New(&o, append(testOptions(prefix), WithTimeout(500*time.Millisecond))...)
	require.NoError(t, err)
	cache, err := apikey.NewCache(apikey.ValidatorFunc(func(context.Context, string) (*apikey.Key, error) {
		return nil, apikey.ErrInvalidKey
	}), apikey.WithHooks(f.Hooks()))
	require.NoError(t, err)
	require.NoError(t, f.Attach(cache))

	revoked := make(chan error, 1)
	go func() { revoked <- f.Revoke(context.Background(), apikey.Invalidation{ID: id}) }()
	<-gate.hung
	require.NoError(t, f.Close())
	assert.ErrorIs(t, <-revoked, ErrNotAcknowledged)

	entries, err := admin.XRange(context.Background(), "{"+prefix+"}:stream", "-", "+").Result()
	require.NoError(t, err)
	found := false
	for _, e := range entries {
		if e.Values["id"] == id || e.Values["all"] == "1" {
			found = true
		}
	}
	assert.True(t, found, "the revocation, or a purge in its place, is on the stream: %v", entries)
}

// hangFirstWrite dials connections whose first write holding marker hangs
// until the connection's write deadline or its close.
type hangFirstWrite struct {
	marker []byte
	once   sync.Once
	hung   chan struct{} // closed when that write hangs
}

func (g *hangFirstWrite) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &hangingConn{Conn: c, g: g, closed: make(chan struct{})}, nil
}

type hangingConn struct {
	net.Conn
	g         *hangFirstWrite
	mu        sync.Mutex
	deadline  time.Time
	closeOnce sync.Once
	closed    chan struct{}
}

func (c *hangingConn) SetDeadline(t time.Time) error {
	c.setWriteDeadline(t)
	return c.Conn.SetDeadline(t)
}

func (c *hangingConn) SetWriteDeadline(t time.Time) error {
	c.setWriteDeadline(t)
	return c.Conn.SetWriteDeadline(t)
}

func (c *hangingConn) setWriteDeadline(t time.Time) {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
}

func (c *hangingConn) Close() error {
	c.closeOnce.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

func (c *hangingConn) Write(b []byte) (int, error) {
	hang := false
	if bytes.Contains(b, c.g.marker) {
		c.g.once.Do(func() { hang = true })
	}
	if !hang {
		return c.Conn.Write(b)
	}
	c.mu.Lock()
	deadline := c.deadline
	c.mu.Unlock()
	var expired <-chan time.Time
	if !deadline.IsZero() {
		timer := time.NewTimer(time.Until(deadline))
		defer timer.Stop()
		expired = timer.C
	}
	close(c.g.hung)
	select {
	case <-c.closed:
		return 0, net.ErrClosed
	case <-expired:
		return 0, os.ErrDeadlineExceeded
	}
}

// A Revoke whose cache's hooks panic (another Invalidation hook given
// beside the fleet's, before or after it) leaves no claim behind: the
// invalidation the fleet's hook left to Revoke is queued, and a later
// identical invalidation is published, not taken by a stale claim. Either
// way nothing stays outstanding, which would keep this replica off the
// shared cache for good.
func TestRevokeWithAPanickingHook(t *testing.T) {
	for _, fleetFirst := range []bool{true, false} {
		t.Run(map[bool]string{true: "after the fleet's hook", false: "before the fleet's hook"}[fleetFirst], func(t *testing.T) {
			opt, prefix := testRedis(t)
			admin := redis.NewClient(opt)
			defer admin.Close()
			f, err := New(opt, testOptions(prefix)...)
			require.NoError(t, err)
			t.Cleanup(func() { require.NoError(t, f.Close()) })
			var armed atomic.Bool // the next invalidation's hook panics
			panicking := apikey.Hooks{Invalidation: func(apikey.Invalidation) {
				if armed.CompareAndSwap(true, false) {
					panic("a hook's bug")
				}
			}}
			hooks := []apikey.Option{apikey.WithHooks(f.Hooks()), apikey.WithHooks(panicking)}
			if !fleetFirst {
				hooks[0], hooks[1] = hooks[1], hooks[0]
			}
			cache, err := apikey.NewCache(newUpstream(), hooks...)
			require.NoError(t, err)
			require.NoError(t, f.Attach(cache))
			r := &replica{fleet: f, cache: cache}
			r.waitConnected(t)

			const id = "key_revoked_with_a_panicking_hook"
			armed.Store(true)
			assert.PanicsWithValue(t, "a hook's bug", func() { _ = f.Revoke(context.Background(), apikey.Invalidation{ID: id}) })
			cache.InvalidateID(id) // the hook does not panic any more
			require.Eventually(t, func() bool {
				entries, err := admin.XRange(context.Background(), "{"+prefix+"}:stream", "-", "+").Result()
				require.NoError(t, err)
				for _, e := range entries {
					if e.Values["id"] == id {
						return !f.unpublished()
					}
				}
				return false
			}, 10*time.Second, time.Millisecond, "the revocation was never published, or stays outstanding")
		})
	}
}
