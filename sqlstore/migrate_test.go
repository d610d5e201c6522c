package sqlstore

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apikeyauth/apikey"
)

// Several processes migrating a new schema at once all succeed.
func TestMigrateConcurrently(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			dsn := b.dsn(t)
			const n = 8
			stores := make([]*Store, n)
			for i := range stores {
				s, err := Open(ctx, dsn, WithKeyFormat(testFormat))
				require.NoError(t, err)
				t.Cleanup(func() { s.Close() })
				stores[i] = s
			}
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i, s := range stores {
				wg.Go(func() { errs[i] = s.Migrate(ctx) })
			}
			wg.Wait()
			for i, err := range errs {
				assert.NoError(t, err, "store %d", i)
			}
			_, _, err := stores[0].Create(ctx, NewKey{Name: "k", Owner: apikey.Owner{ID: "org_1"}})
			assert.NoError(t, err)
		})
	}
}

// CheckSchema tells a database without the tables, or without one of the
// package's migrations, from an up-to-date one, and changes nothing.
func TestCheckSchema(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			s, err := Open(ctx, b.dsn(t), WithKeyFormat(testFormat))
			require.NoError(t, err)
			t.Cleanup(func() { s.Close() })
			assert.ErrorIs(t, s.CheckSchema(ctx), ErrSchemaOutdated, "no tables")
			_, err = s.db.Exec("SELECT COUNT(*) FROM apikey_schema_migrations")
			assert.Error(t, err, "CheckSchema created nothing")
			require.NoError(t, s.Migrate(ctx))
			assert.NoError(t, s.CheckSchema(ctx))
			_, err = s.db.Exec("DELETE FROM apikey_schema_migrations")
			require.NoError(t, err)
			err = s.CheckSchema(ctx)
			assert.ErrorIs(t, err, ErrSchemaOutdated, "a migration missing")
			assert.ErrorContains(t, err, "migration 0001")
		})
	}
}
