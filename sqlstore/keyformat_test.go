package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apikeyauth/apikey"
)

// The database records the format of its keys: a Store opened without one
// issues keys of the database's format, and a Store given another one
// refuses to migrate or issue keys, loudly, instead of issuing keys that
// every application checking the database's format refuses.
func TestKeyFormatRecorded(t *testing.T) {
	demo, sk := apikey.KeyFormat{Prefix: "demo_"}, apikey.KeyFormat{Prefix: "sk_"}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			dsn := b.dsn(t)
			open := func(opts ...Option) *Store { return openUnmigrated(t, dsn, opts...) }
			app := open(WithKeyFormat(demo))
			assert.Equal(t, demo, app.KeyFormat())
			require.NoError(t, app.Migrate(ctx), "records demo_")
			_, v, err := app.Create(ctx, NewKey{Name: "k", Owner: apikey.Owner{ID: "org_1"}})
			require.NoError(t, err)
			require.True(t, demo.Check(v))

			tool := open()
			assert.Equal(t, demo, tool.KeyFormat(), "the database's format, read by Open")
			require.NoError(t, tool.Migrate(ctx))
			_, v, err = tool.Create(ctx, NewKey{Name: "k", Owner: apikey.Owner{ID: "org_1"}})
			require.NoError(t, err)
			assert.True(t, demo.Check(v), "a key the application accepts")

			other := open(WithKeyFormat(sk))
			err = other.Migrate(ctx)
			assert.ErrorIs(t, err, ErrKeyFormatMismatch)
			assert.ErrorContains(t, err, `the database's keys start with "demo_", this Store's with "sk_" (WithKeyFormat)`)
			k, v, err := other.Create(ctx, NewKey{Name: "k", Owner: apikey.Owner{ID: "org_1"}})
			assert.ErrorIs(t, err, ErrKeyFormatMismatch)
			assert.Nil(t, k)
			assert.Empty(t, v)
			p, err := app.List(ctx, "", "", 0)
			require.NoError(t, err)
			require.Len(t, p.Keys, 2, "nothing issued by the mismatched Store")
			_, _, err = other.Rotate(ctx, p.Keys[0].ID, 0)
			assert.ErrorIs(t, err, ErrKeyFormatMismatch)

			// A database from before the format was recorded: its keys'
			// format is recorded by the first Store of that format.
			_, err = app.db.Exec("DELETE FROM apikey_settings")
			require.NoError(t, err)
			byDefault := open()
			assert.Equal(t, sk, byDefault.KeyFormat(), "none recorded: the default")
			err = byDefault.Migrate(ctx)
			assert.ErrorIs(t, err, ErrKeyFormatMismatch)
			assert.ErrorContains(t, err, `the database records no key format, and 2 of its keys do not start with "sk_", the default prefix`)
			_, _, err = byDefault.Create(ctx, NewKey{Name: "k", Owner: apikey.Owner{ID: "org_1"}})
			assert.ErrorIs(t, err, ErrKeyFormatMismatch)
			require.NoError(t, app.Migrate(ctx), "records demo_ again")
			assert.Equal(t, demo, open().KeyFormat())

			// An application that changed its prefix over time upgrades
			// without trouble: the format it is given is recorded.
			_, err = app.db.Exec("DELETE FROM apikey_settings")
			require.NoError(t, err)
			renamed := apikey.KeyFormat{Prefix: "acme_"}
			require.NoError(t, open(WithKeyFormat(renamed)).Migrate(ctx))
			assert.Equal(t, renamed, open().KeyFormat())
		})
	}
}

// A new database records the format of the first Store given one, or
// else the default once it holds keys of the default: a migration job or
// the apikeys command run with no format before the application, on an
// empty database, must not lock the application out of its own format.
func TestKeyFormatNewDatabase(t *testing.T) {
	demo := apikey.KeyFormat{Prefix: "demo_"}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			dsn := b.dsn(t)
			open := func(opts ...Option) *Store { return openUnmigrated(t, dsn, opts...) }
			recorded := func(s *Store) string {
				var p string
				err := s.db.QueryRow(selectPrefix).Scan(&p)
				if errors.Is(err, sql.ErrNoRows) {
					return ""
				}
				require.NoError(t, err)
				return p
			}

			job := open()
			require.NoError(t, job.Migrate(ctx))
			assert.Empty(t, recorded(job), "an empty database: no evidence of a format")
			app := open(WithKeyFormat(demo))
			require.NoError(t, app.Migrate(ctx), "the application after a migration job without a format")
			assert.Equal(t, "demo_", recorded(app))

			_, err := app.db.Exec("DELETE FROM apikey_settings")
			require.NoError(t, err)
			_, err = app.db.Exec("DELETE FROM apikey_keys")
			require.NoError(t, err)
			byDefault := open()
			require.NoError(t, byDefault.Migrate(ctx))
			_, _, err = byDefault.Create(ctx, NewKey{Name: "k", Owner: apikey.Owner{ID: "org_1"}})
			require.NoError(t, err)
			require.NoError(t, byDefault.Migrate(ctx))
			assert.Equal(t, DefaultPrefix, recorded(byDefault), "a database holding keys of the default")
		})
	}
}
