package main

import (
	"bytes"
	"context"
	"database/sql"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/apikeyauth/apikey"
	"github.com/apikeyauth/apikey/internal/keyctl"
	"github.com/apikeyauth/apikey/sqlstore"
	"github.com/apikeyauth/apikey/sqlstore/sqlstoretest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// database is a fresh, empty database of one kind for one test: the
// --store value, and the driver and DSN of database/sql to reach it
// behind the command's back.
type database struct {
	store, driver, sqlDSN string
	postgres              bool
}

var databases = []struct {
	name string
	open func(t *testing.T) database
}{
	{"sqlite", sqliteDatabase},
	{"postgres", postgresDatabase},
}

func sqliteDatabase(t *testing.T) database {
	dsn := sqlstoretest.SQLite(t)
	return database{store: dsn, driver: "sqlite", sqlDSN: "file:" + strings.TrimPrefix(dsn, "sqlite:") + "?_pragma=busy_timeout(5000)"}
}

// postgresDatabase is a schema of the test's own: without a PostgreSQL the
// test is skipped, saying so, or fails when APIKEY_TEST_REQUIRE_SERVICES=1.
func postgresDatabase(t *testing.T) database {
	dsn := sqlstoretest.Postgres(t)
	return database{store: dsn, driver: "pgx", sqlDSN: dsn, postgres: true}
}

// exec runs statements on the database behind the command's back.
func (d database) exec(t *testing.T, stmts ...string) {
	t.Helper()
	db, err := sql.Open(d.driver, d.sqlDSN)
	require.NoError(t, err)
	defer db.Close()
	for _, s := range stmts {
		_, err := db.Exec(s)
		require.NoError(t, err, s)
	}
}

// count counts the rows of table, behind the command's back.
func (d database) count(t *testing.T, table string) (int, error) {
	t.Helper()
	db, err := sql.Open(d.driver, d.sqlDSN)
	require.NoError(t, err)
	defer db.Close()
	var n int
	err = db.QueryRow("SELECT COUNT(*) FROM " + table).Scan(&n)
	return n, err
}

// failExpiries makes every change of a key's expiry fail in the database
// until the returned function is called.
func (d database) failExpiries(t *testing.T) (restore func()) {
	if d.postgres {
		d.exec(t, `CREATE FUNCTION apikeys_test_fail() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN RAISE EXCEPTION 'injected failure'; END $$`,
			`CREATE TRIGGER apikeys_test_fail BEFORE UPDATE OF expires_at ON apikey_keys
			FOR EACH ROW EXECUTE FUNCTION apikeys_test_fail()`)
		return func() {
			d.exec(t, "DROP TRIGGER apikeys_test_fail ON apikey_keys", "DROP FUNCTION apikeys_test_fail()")
		}
	}
	d.exec(t, `CREATE TRIGGER apikeys_test_fail BEFORE UPDATE OF expires_at ON apikey_keys
		BEGIN SELECT RAISE(ABORT, 'injected failure'); END`)
	return func() { d.exec(t, "DROP TRIGGER apikeys_test_fail") }
}

// clock is the settable clock of the command and of the store.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

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

// t0 is when the tests' first keys are created.
var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

// harness runs the command in-process on one database, and checks when
// the test ends that no output carried a key value (see scanOutputs).
type harness struct {
	t     *testing.T
	db    database
	clock *clock
	env   map[string]string
	// values are every key value the command printed or read.
	values []string
	runs   []result
}

// result is one run of the command.
type result struct {
	args           []string
	code           int
	stdout, stderr string
	format         apikey.KeyFormat // of the keys it issued
}

func newHarness(t *testing.T, db database) *harness {
	h := &harness{t: t, db: db, clock: &clock{now: t0}, env: map[string]string{}}
	t.Cleanup(h.scanOutputs)
	return h
}

// run runs the command with args and --store, stdin as its standard input.
func (h *harness) run(stdin string, args ...string) result {
	h.t.Helper()
	var stdout, stderr bytes.Buffer
	full := append(append([]string{}, args...), "--store", h.db.store)
	opts := append(withStores(h.clock.Now), keyctl.WithClock(h.clock.Now))
	code := keyctl.Run(context.Background(), full, strings.NewReader(stdin), &stdout, &stderr,
		func(k string) string { return h.env[k] }, opts...)
	r := result{full, code, stdout.String(), stderr.String(), h.format()}
	h.runs = append(h.runs, r)
	if v := strings.TrimSpace(stdin); v != "" {
		h.values = append(h.values, v)
	}
	if (args[0] == "create" || args[0] == "rotate") && r.stdout != "" {
		h.values = append(h.values, strings.TrimSuffix(r.stdout, "\n"))
	}
	return r
}

// scanOutputs fails the test if any output holds a key value, except the
// stdout of create and rotate, which must be the new value alone on one
// line. Errors and notes are single lines.
func (h *harness) scanOutputs() {
	for _, r := range h.runs {
		stdout := r.stdout
		if (r.args[0] == "create" || r.args[0] == "rotate") && stdout != "" {
			line, rest, _ := strings.Cut(stdout, "\n")
			assert.Empty(h.t, rest, "%v: stdout has more than the value's line", r.args)
			assert.True(h.t, r.format.Check(line), "%v: stdout is not a key value", r.args)
			stdout = ""
		}
		for _, v := range h.values {
			assert.NotContains(h.t, stdout, v, "%v: stdout holds a key value", r.args)
			assert.NotContains(h.t, r.stderr, v, "%v: stderr holds a key value", r.args)
		}
		for _, line := range strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n") {
			if line != "" && !strings.HasPrefix(line, "apikeys") {
				assert.Fail(h.t, "stderr line without the apikeys prefix", "%v: %q", r.args, line)
			}
		}
	}
}

// format is the format of the keys the command issues.
func (h *harness) format() apikey.KeyFormat {
	if p := h.env[envKeyPrefix]; p != "" {
		return apikey.KeyFormat{Prefix: p}
	}
	return apikey.KeyFormat{Prefix: sqlstore.DefaultPrefix}
}

// requireCode checks the exit status, showing the outputs when it differs.
func requireCode(t *testing.T, want int, r result) {
	t.Helper()
	require.Equal(t, want, r.code, "%v\nstdout:\n%s\nstderr:\n%s", r.args, r.stdout, r.stderr)
}

func (r result) stderrLines() []string {
	return strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
}
