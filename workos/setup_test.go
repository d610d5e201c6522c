package workos

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/apikeyauth/apikey"
	"github.com/apikeyauth/apikey/workos/workostest"
	"github.com/stretchr/testify/require"
)

// testSecret is the WorkOS secret key the fake server accepts.
const testSecret = workostest.SecretKey

// newClient returns a Client for the fake server that does not wait
// between retries.
func newClient(t testing.TB, srv *workostest.Server, opts ...Option) *Client {
	c, err := New(testSecret, append([]Option{WithBaseURL(srv.URL), withSleep(noSleep)}, opts...)...)
	require.NoError(t, err)
	return c
}

func noSleep(ctx context.Context, d time.Duration) error { return ctx.Err() }

// withSleep replaces how the client waits between retries.
func withSleep(sleep func(ctx context.Context, d time.Duration) error) Option {
	return func(s *settings) { s.sleep = sleep }
}

// recordingSleep records the waits it is asked for, without waiting.
type recordingSleep struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *recordingSleep) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *recordingSleep) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.waits...)
}

// recordingInvalidator records the invalidations it is told of.
type recordingInvalidator struct {
	mu   sync.Mutex
	invs []apikey.Invalidation
}

func (r *recordingInvalidator) Invalidate(inv apikey.Invalidation) {
	r.mu.Lock()
	r.invs = append(r.invs, inv)
	r.mu.Unlock()
}

// all returns the IDs invalidated, in order.
func (r *recordingInvalidator) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ids []string
	for _, inv := range r.invs {
		ids = append(ids, inv.ID)
	}
	return ids
}

// origins returns the origins of the invalidations, in order.
func (r *recordingInvalidator) origins() []apikey.Origin {
	r.mu.Lock()
	defer r.mu.Unlock()
	var o []apikey.Origin
	for _, inv := range r.invs {
		o = append(o, inv.Origin)
	}
	return o
}

// serverKey is the key as the fake server now holds it.
func serverKey(t testing.TB, srv *workostest.Server, id string) workostest.Key {
	k, ok := srv.Key(id)
	require.True(t, ok, "the server knows no key %s", id)
	return k
}

// connect connects inv to c, and returns c.
func connect(c *Client, inv Invalidator) *Client {
	c.SetInvalidator(inv)
	return c
}
