package sqlstore

import (
	"context"
	"crypto/rand"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/apikeyauth/apikey"
)

// The services the tests need, as .ci/run provides them.
const (
	envPostgres        = "APIKEY_TEST_POSTGRES"
	envRequireServices = "APIKEY_TEST_REQUIRE_SERVICES"
	defaultPostgres    = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
)

var testFormat = apikey.KeyFormat{Prefix: "test_"}

// backend opens a fresh, empty database of one kind for one test.
type backend struct {
	name string
	dsn  func(t testing.TB) string
}

var backends = []backend{
	{"sqlite", sqliteTestDSN},
	{"postgres", postgresTestDSN},
}

func sqliteTestDSN(t testing.TB) string {
	return "sqlite:" + filepath.Join(t.TempDir(), "keys.db")
}

// postgresTestDSN creates a schema of the test's own and returns a DSN
// whose search_path is that schema; the schema is dropped when the test
// ends. Without a PostgreSQL the test is skipped, or fails when
// APIKEY_TEST_REQUIRE_SERVICES=1.
func postgresTestDSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv(envPostgres)
	if base == "" {
		base = defaultPostgres
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		if os.Getenv(envRequireServices) == "1" {
			t.Fatalf("PostgreSQL at %s (%s) does not answer, and %s=1: %v", redact(base), envPostgres, envRequireServices, err)
		}
		t.Skipf("PostgreSQL at %s does not answer (set %s): %v", redact(base), envPostgres, err)
	}
	defer conn.Close(context.Background())
	schema := "sqlstore_test_" + strings.ToLower(rand.Text()[:12])
	_, err = conn.Exec(ctx, "CREATE SCHEMA "+schema)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err == nil {
			conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
			conn.Close(ctx)
		}
	})
	u, err := url.Parse(base)
	require.NoError(t, err)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func redact(dsn string) string {
	if u, err := url.Parse(dsn); err == nil {
		return u.Redacted()
	}
	return "(unparsable DSN)"
}

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
	return &invalidations{ch: make(chan apikey.Invalidation, 1000)}
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
