package sqlstore

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apikeyauth/apikey"
)

// The prune that every change runs finds the old changes through the index
// on changed_at (migration 0005), not by reading the whole changes table:
// the database's own plan for the statement names the index.
func TestPruneChangesUsesIndex(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s := openStore(t, b.dsn(t))
			assert.Contains(t, explainPrune(t, s), "apikey_changes_changed_at")
		})
	}
}

// explainPrune returns the plan of pruneChanges, on PostgreSQL with
// sequential scans discouraged, so that the plan names the index whenever
// there is one, however few rows the table holds.
func explainPrune(t *testing.T, s *Store) string {
	t.Helper()
	ctx := context.Background()
	tx, err := s.db.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer tx.Rollback()
	explain := "EXPLAIN QUERY PLAN "
	if s.dialect.postgres() {
		explain = "EXPLAIN "
		_, err := tx.ExecContext(ctx, "SET LOCAL enable_seqscan = off")
		require.NoError(t, err)
	}
	rows, err := tx.QueryContext(ctx, s.dialect.bind(explain+pruneChanges), int64(1))
	require.NoError(t, err)
	defer rows.Close()
	cols, err := rows.Columns()
	require.NoError(t, err)
	var plan strings.Builder
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		require.NoError(t, rows.Scan(ptrs...))
		for _, v := range vals {
			plan.WriteString(v.String + " ")
		}
		plan.WriteString("\n")
	}
	require.NoError(t, rows.Err())
	return plan.String()
}

// A database at 0004 holding changes takes 0005, and the prune then
// deletes exactly the changes older than changesKept, through the index.
func TestMigrateChangesIndexFrom0004(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			clk := newClock()
			s, err := Open(ctx, b.dsn(t), WithKeyFormat(testFormat), WithClock(clk.Now))
			require.NoError(t, err)
			t.Cleanup(func() { s.Close() })
			migrateUpTo(t, s, 4)
			assert.ErrorIs(t, s.CheckSchema(ctx), ErrSchemaOutdated)
			assert.NotContains(t, explainPrune(t, s), "apikey_changes_changed_at", "no index before 0005")
			k, _, err := s.Create(ctx, NewKey{Name: "k", Owner: apikey.Owner{ID: "org_1"}})
			require.NoError(t, err)
			require.NoError(t, s.SetPermissions(ctx, k.ID, []string{"a"}))
			clk.Add(30 * time.Minute)
			require.NoError(t, s.SetPermissions(ctx, k.ID, []string{"b"}))
			require.NoError(t, s.Migrate(ctx))
			require.NoError(t, s.CheckSchema(ctx))
			assert.Contains(t, explainPrune(t, s), "apikey_changes_changed_at")
			assert.Equal(t, 3, countChanges(t, s))
			clk.Add(changesKept - 30*time.Minute + time.Microsecond)
			require.NoError(t, s.SetPermissions(ctx, k.ID, []string{"c"}))
			assert.Equal(t, 2, countChanges(t, s), "the two changes over an hour old are pruned, the one 30 minutes younger kept")
		})
	}
}

func countChanges(t *testing.T, s *Store) int {
	t.Helper()
	var n int
	require.NoError(t, s.db.QueryRow("SELECT COUNT(*) FROM apikey_changes").Scan(&n))
	return n
}

// The prune that every change runs, over an hour's worth of changes at
// about 28 a second (100,000 rows, none old enough to go: as at most
// changes, which delete one row or none), with the index of 0005 and
// without it.
func BenchmarkPruneChanges(b *testing.B) {
	for _, be := range backends {
		s := openStore(b, be.dsn(b))
		ctx := context.Background()
		_, err := s.db.ExecContext(ctx, `INSERT INTO apikey_changes (key_id, changed_at, token, prev_token)
			WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < 100000)
			SELECT 'key_' || n, 1000000 + n, 't' || n, 't' || (n - 1) FROM i`)
		require.NoError(b, err)
		if s.dialect.postgres() {
			_, err = s.db.ExecContext(ctx, "ANALYZE apikey_changes")
			require.NoError(b, err)
		}
		prune := s.dialect.bind(pruneChanges)
		for _, indexed := range []bool{true, false} {
			name := be.name + "/index"
			if !indexed {
				name = be.name + "/no-index"
			}
			b.Run(name, func(b *testing.B) {
				if !indexed {
					_, err := s.db.ExecContext(ctx, "DROP INDEX apikey_changes_changed_at")
					require.NoError(b, err)
					b.Cleanup(func() {
						_, err := s.db.ExecContext(ctx, "CREATE INDEX apikey_changes_changed_at ON apikey_changes (changed_at)")
						require.NoError(b, err)
					})
				}
				b.ReportAllocs()
				for b.Loop() {
					if _, err := s.db.ExecContext(ctx, prune, int64(1000000)); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// An operator who builds 0005's index beforehand, without blocking the
// changes (CREATE INDEX CONCURRENTLY on PostgreSQL, as docs/sqlstore.md
// says for a large table), can still migrate: 0005 finds the index.
func TestMigrateChangesIndexBuiltBeforehand(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			s, err := Open(ctx, b.dsn(t), WithKeyFormat(testFormat))
			require.NoError(t, err)
			t.Cleanup(func() { s.Close() })
			migrateUpTo(t, s, 4)
			build := "CREATE INDEX apikey_changes_changed_at ON apikey_changes (changed_at)"
			if s.dialect.postgres() {
				build = "CREATE INDEX CONCURRENTLY apikey_changes_changed_at ON apikey_changes (changed_at)"
			}
			_, err = s.db.ExecContext(ctx, build)
			require.NoError(t, err)
			require.NoError(t, s.Migrate(ctx))
			require.NoError(t, s.CheckSchema(ctx))
			assert.Contains(t, explainPrune(t, s), "apikey_changes_changed_at")
		})
	}
}

// migrateUpTo applies s's migrations up to version, as a database that
// an older release migrated has them.
func migrateUpTo(t *testing.T, s *Store, version int) {
	t.Helper()
	ms, err := s.migrations()
	require.NoError(t, err)
	for _, m := range ms {
		if m.version <= version {
			require.NoError(t, s.migrate(context.Background(), m.version, m.name))
		}
	}
}
