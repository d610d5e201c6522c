// Package sqlstoretest gives tests an empty database of their own for
// sqlstore: a SQLite file in a temporary directory, or a schema of its own
// in the PostgreSQL that APIKEY_TEST_POSTGRES names (default
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable). A test that
// asks for PostgreSQL when none answers is skipped, saying so, or fails
// when APIKEY_TEST_REQUIRE_SERVICES=1.
package sqlstoretest

import (
	"context"
	"crypto/rand"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// The environment the tests read, as .ci/run sets it.
const (
	EnvPostgres        = "APIKEY_TEST_POSTGRES"
	EnvRequireServices = "APIKEY_TEST_REQUIRE_SERVICES"
	DefaultPostgres    = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
)

// SQLite returns a sqlstore DSN for a new database file in t's temporary
// directory.
func SQLite(t testing.TB) string {
	return "sqlite:" + filepath.Join(t.TempDir(), "apikeys.db")
}

// Postgres creates a schema for t alone and returns a DSN whose search_path
// is that schema; the schema is dropped when t ends.
func Postgres(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvPostgres)
	if base == "" {
		base = DefaultPostgres
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s is not a URL", EnvPostgres) // the error would show the password
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		if os.Getenv(EnvRequireServices) == "1" {
			t.Fatalf("PostgreSQL at %s (%s) does not answer, and %s=1: %v", u.Redacted(), EnvPostgres, EnvRequireServices, err)
		}
		t.Skipf("PostgreSQL at %s does not answer (set %s): %v", u.Redacted(), EnvPostgres, err)
	}
	defer conn.Close(context.Background())
	schema := "apikey_test_" + strings.ToLower(rand.Text()[:12])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("creating schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if conn, err := pgx.Connect(ctx, base); err == nil {
			conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
			conn.Close(ctx)
		}
	})
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
