package sqlstore

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/apikeyauth/apikey"
	"github.com/apikeyauth/apikey/sqlstore/sqlstoretest"
)

var testFormat = apikey.KeyFormat{Prefix: "test_"}

// backend opens a fresh, empty database of one kind for one test.
type backend struct {
	name string
	dsn  func(t testing.TB) string
}

var (
	sqliteTestDSN   = sqlstoretest.SQLite
	postgresTestDSN = sqlstoretest.Postgres
	backends        = []backend{{"sqlite", sqliteTestDSN}, {"postgres", postgresTestDSN}}
)

// openStore opens and migrates a Store over dsn, closed when the test ends.
func openStore(t testing.TB, dsn string, opts ...Option) *Store {
	t.Helper()
	ctx := context.Background()
	s, err := Open(ctx, dsn, append([]Option{WithKeyFormat(testFormat)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	require.NoError(t, s.Migrate(ctx))
	return s
}

// openUnmigrated opens a Store with opts alone, closed at the end of the
// test: no key format of the tests' own, no migration.
func openUnmigrated(t testing.TB, dsn string, opts ...Option) *Store {
	t.Helper()
	s, err := Open(context.Background(), dsn, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// clock is a settable clock for WithClock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// invalidations records what a watching Store tells its cache.
type invalidations struct {
	mu  sync.Mutex
	got []apikey.Invalidation
	ch  chan apikey.Invalidation
}

func newInvalidations() *invalidations {
	return &invalidations{ch: make(chan apikey.Invalidation, 10000)}
}

func (r *invalidations) Invalidate(inv apikey.Invalidation) {
	r.mu.Lock()
	r.got = append(r.got, inv)
	r.mu.Unlock()
	r.ch <- inv
}

func (r *invalidations) all() []apikey.Invalidation {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]apikey.Invalidation(nil), r.got...)
}

// next waits for the next invalidation, failing the test after limit.
func (r *invalidations) next(t testing.TB, limit time.Duration) apikey.Invalidation {
	t.Helper()
	select {
	case inv := <-r.ch:
		return inv
	case <-time.After(limit):
		t.Fatalf("no invalidation within %v", limit)
		return apikey.Invalidation{}
	}
}
