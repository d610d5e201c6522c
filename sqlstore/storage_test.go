package sqlstore

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apikeyauth/apikey"
)

// The database holds digests only: no value, and no piece of one beyond
// what the display form shows, appears anywhere in it.
func TestStorageHoldsNoValue(t *testing.T) {
	pepper := []byte(strings.Repeat("pepper!!", 4))
	peppered, err := apikey.NewHMACHasher(pepper)
	require.NoError(t, err)
	for _, b := range backends {
		for _, h := range []struct {
			name   string
			hasher apikey.Hasher
			digest func(value string) []byte
		}{
			{"sha256", apikey.Hasher{}, func(v string) []byte { d := sha256.Sum256([]byte(v)); return d[:] }},
			{"hmac", peppered, func(v string) []byte { m := hmac.New(sha256.New, pepper); m.Write([]byte(v)); return m.Sum(nil) }},
		} {
			t.Run(b.name+"/"+h.name, func(t *testing.T) {
				ctx := context.Background()
				dsn := b.dsn(t)
				s := openStore(t, dsn, WithHasher(h.hasher))
				var values []string
				for range 20 {
					k, v, err := s.Create(ctx, NewKey{Name: "k", Owner: apikey.Owner{ID: "org_1"}})
					require.NoError(t, err)
					values = append(values, v)
					var stored []byte
					require.NoError(t, s.db.QueryRow(s.dialect.bind("SELECT digest FROM apikey_keys WHERE id = ?"), k.ID).Scan(&stored))
					assert.Equal(t, h.digest(v), stored)
					_, err = s.Validate(ctx, v)
					require.NoError(t, err)
				}
				k, v, err := s.Create(ctx, NewKey{Name: "rotated", Owner: apikey.Owner{ID: "org_1"}})
				require.NoError(t, err)
				_, v2, err := s.Rotate(ctx, k.ID, time.Hour)
				require.NoError(t, err)
				values = append(values, v, v2)
				require.NoError(t, s.Flush(ctx))

				dump := dumpDatabase(t, s, dsn)
				require.NotEmpty(t, dump)
				for _, v := range values {
					secret := v[len(testFormat.Prefix) : len(v)-4] // all but the displayed tail
					for i := 0; i+8 <= len(secret); i++ {
						require.NotContains(t, dump, secret[i:i+8], "a piece of a key value is stored")
					}
				}
			})
		}
	}
}

// dumpDatabase returns everything the database holds for the store: the
// SQLite files byte for byte, or every row of every table of the schema.
func dumpDatabase(t *testing.T, s *Store, dsn string) string {
	t.Helper()
	if !s.dialect.postgres() {
		var b strings.Builder
		path := strings.TrimPrefix(dsn, "sqlite:")
		files, err := filepath.Glob(path + "*") // the database, its WAL and shared memory
		require.NoError(t, err)
		require.NotEmpty(t, files)
		for _, f := range files {
			data, err := os.ReadFile(f)
			require.NoError(t, err)
			b.Write(data)
		}
		return b.String()
	}
	rows, err := s.db.Query(`SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()`)
	require.NoError(t, err)
	var tables []string
	for rows.Next() {
		var name string
		require.NoError(t, rows.Scan(&name))
		tables = append(tables, name)
	}
	require.NoError(t, rows.Err())
	require.Contains(t, tables, "apikey_keys")
	var b strings.Builder
	for _, table := range tables {
		rows, err := s.db.Query("SELECT row_to_json(t)::text FROM " + table + " t")
		require.NoError(t, err)
		for rows.Next() {
			var row string
			require.NoError(t, rows.Scan(&row))
			b.WriteString(row)
		}
		require.NoError(t, rows.Err())
	}
	return b.String()
}

// countLastUsedWrites installs a trigger that counts every write of a
// last use, and returns a function that reads the count.
func countLastUsedWrites(t *testing.T, s *Store) func() int {
	t.Helper()
	stmts := []string{
		"CREATE TABLE last_used_writes (key_id TEXT NOT NULL)",
		`CREATE TRIGGER count_last_used AFTER UPDATE OF last_used_at ON apikey_keys
			BEGIN INSERT INTO last_used_writes VALUES (NEW.id); END`,
	}
	if s.dialect.postgres() {
		stmts[1] = `CREATE FUNCTION count_last_used() RETURNS trigger LANGUAGE plpgsql AS
			$$ BEGIN INSERT INTO last_used_writes VALUES (NEW.id); RETURN NEW; END $$`
		stmts = append(stmts, `CREATE TRIGGER count_last_used AFTER UPDATE OF last_used_at ON apikey_keys
			FOR EACH ROW EXECUTE FUNCTION count_last_used()`)
	}
	for _, q := range stmts {
		_, err := s.db.Exec(q)
		require.NoError(t, err)
	}
	return func() int {
		var n int
		require.NoError(t, s.db.QueryRow("SELECT COUNT(*) FROM last_used_writes").Scan(&n))
		return n
	}
}

// N validations of a key within one interval make at most one write, off
// the request path; Close writes what is still queued.
func TestLastUsedBatching(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			clk := newClock()
			dsn := b.dsn(t)
			s := openStore(t, dsn, WithClock(clk.Now), WithLastUsedInterval(time.Minute))
			writes := countLastUsedWrites(t, s)
			a, va, err := s.Create(ctx, NewKey{Name: "a", Owner: apikey.Owner{ID: "org_1"}})
			require.NoError(t, err)
			bk, vb, err := s.Create(ctx, NewKey{Name: "b", Owner: apikey.Owner{ID: "org_1"}})
			require.NoError(t, err)

			first := clk.Now()
			for i := range 1000 {
				_, err := s.Validate(ctx, va)
				require.NoError(t, err)
				if i%100 == 0 {
					_, err := s.Validate(ctx, vb)
					require.NoError(t, err)
				}
				clk.Add(50 * time.Millisecond) // 1000 uses over 50 s: one interval
			}
			assert.Zero(t, writes(), "validation never writes")
			require.NoError(t, s.Flush(ctx))
			assert.Equal(t, 2, writes(), "one write per key")
			got, err := s.Get(ctx, a.ID)
			require.NoError(t, err)
			assert.Equal(t, first, got.LastUsedAt)

			require.NoError(t, s.Flush(ctx))
			assert.Equal(t, 2, writes(), "nothing queued, nothing written")

			clk.Add(5 * time.Second) // 55 s after the first use: same interval
			_, err = s.Validate(ctx, va)
			require.NoError(t, err)
			require.NoError(t, s.Flush(ctx))
			assert.Equal(t, 2, writes())

			clk.Add(10 * time.Second) // a new interval
			last := clk.Now()
			_, err = s.Validate(ctx, va)
			require.NoError(t, err)
			require.NoError(t, s.Close(), "Close writes what is queued")
			assert.Equal(t, 3, func() int {
				s2 := openStore(t, dsn)
				var n int
				require.NoError(t, s2.db.QueryRow("SELECT COUNT(*) FROM last_used_writes").Scan(&n))
				got, err := s2.Get(ctx, a.ID)
				require.NoError(t, err)
				assert.Equal(t, last, got.LastUsedAt)
				got, err = s2.Get(ctx, bk.ID)
				require.NoError(t, err)
				assert.Equal(t, first, got.LastUsedAt)
				return n
			}())
		})
	}
}

func TestLastUsedNeverGoesBack(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	s := openStore(t, sqliteTestDSN(t), WithClock(clk.Now))
	k, v, err := s.Create(ctx, NewKey{Name: "a", Owner: apikey.Owner{ID: "org_1"}})
	require.NoError(t, err)
	later := clk.Now().Add(time.Hour)
	_, err = s.db.Exec("UPDATE apikey_keys SET last_used_at = ? WHERE id = ?", micros(later), k.ID)
	require.NoError(t, err)
	_, err = s.Validate(ctx, v)
	require.NoError(t, err)
	require.NoError(t, s.Flush(ctx))
	got, err := s.Get(ctx, k.ID)
	require.NoError(t, err)
	assert.Equal(t, later, got.LastUsedAt, "another process's later use stays")
}

// With the store's hook, requests served from the cache count as uses too,
// still at most one write per key per interval.
func TestLastUsedThroughTheMiddleware(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	s := openStore(t, sqliteTestDSN(t), WithClock(clk.Now))
	writes := countLastUsedWrites(t, s)
	k, v, err := s.Create(ctx, NewKey{Name: "a", Owner: apikey.Owner{ID: "org_1"}})
	require.NoError(t, err)
	auth, err := apikey.New(s, apikey.WithHooks(s.Hooks()), apikey.WithClock(clk.Now), apikey.WithCacheTTL(time.Hour))
	require.NoError(t, err)
	h := auth.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	request := func() {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", "Bearer "+v)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		require.Equal(t, http.StatusOK, w.Code)
	}
	for range 100 {
		request()
	}
	require.NoError(t, s.Flush(ctx))
	assert.Equal(t, 1, writes())
	assert.Equal(t, uint64(99), auth.Cache().Stats().Hits)

	clk.Add(2 * time.Minute) // a new interval; the key is still cached
	request()
	require.NoError(t, s.Flush(ctx))
	assert.Equal(t, 2, writes())
	assert.Equal(t, uint64(100), auth.Cache().Stats().Hits, "served from the cache")
	got, err := s.Get(ctx, k.ID)
	require.NoError(t, err)
	assert.Equal(t, clk.Now(), got.LastUsedAt, "a use served from the cache")
}
