package main

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apikeyauth/apikey"
	"github.com/apikeyauth/apikey/sqlstore"
)

// create issues keys of the format the database records, the one the
// application checks (examples/ownkeys issues demo_ keys), so that the new
// key is accepted; a prefix set that differs from the database's fails
// loudly and issues nothing.
func TestCreateUsesTheDatabaseFormat(t *testing.T) {
	demo := apikey.KeyFormat{Prefix: "demo_"}
	for _, db := range databases {
		t.Run(db.name, func(t *testing.T) {
			ctx := context.Background()
			d := db.open(t)
			app, err := sqlstore.Open(ctx, d.store, sqlstore.WithKeyFormat(demo))
			require.NoError(t, err)
			defer app.Close()
			require.NoError(t, app.Migrate(ctx))

			r := runBare(t, nil, "", "create", "--org", "org_demo", "--name", "from the CLI", "--store", d.store)
			requireCode(t, exitOK, r)
			value := strings.TrimSpace(r.stdout)
			assert.True(t, demo.Check(value), "a demo_ key")
			auth, err := apikey.New(app, apikey.WithFormatCheck(app.KeyFormat().Check))
			require.NoError(t, err)
			req := httptest.NewRequest("GET", "/", nil)
			req.Header.Set("Authorization", "Bearer "+value)
			_, err = auth.Authenticate(req)
			assert.NoError(t, err, "the application accepts it")

			r = runBare(t, map[string]string{envKeyPrefix: "sk_"}, "", "create", "--org", "org_demo", "--name", "x", "--store", d.store)
			requireCode(t, exitUndecided, r)
			assert.Empty(t, r.stdout)
			assert.Equal(t, "apikeys create: sqlstore: Migrate: sqlstore: the key format is not the database's: "+
				`the database's keys start with "demo_", this Store's with "sk_" (WithKeyFormat); unset APIKEYS_KEY_PREFIX to issue keys of the database's format`+"\n", r.stderr)
			p, err := app.List(ctx, "", "", 0)
			require.NoError(t, err)
			assert.Len(t, p.Keys, 1, "nothing issued")
		})
	}
}
