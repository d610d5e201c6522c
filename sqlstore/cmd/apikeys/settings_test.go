package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apikeyauth/apikey"
	"github.com/apikeyauth/apikey/internal/keyctl"
)

// runBare runs the command without the harness's --store.
func runBare(t *testing.T, env map[string]string, stdin string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := keyctl.Run(context.Background(), args, strings.NewReader(stdin), &stdout, &stderr,
		func(k string) string { return env[k] }, withStores((&clock{now: t0}).Now)...)
	return result{args: args, code: code, stdout: stdout.String(), stderr: stderr.String()}
}

func TestStoreSettings(t *testing.T) {
	t.Run("the key prefix and the pepper must match the application's", func(t *testing.T) {
		for _, db := range databases {
			t.Run(db.name, func(t *testing.T) {
				h := newHarness(t, db.open(t))
				pepper := filepath.Join(t.TempDir(), "pepper")
				require.NoError(t, os.WriteFile(pepper, bytes.Repeat([]byte{0xa5, '\n'}, 20), 0o600))
				h.env[envKeyPrefix] = "acme_live_"
				h.env[envPepperFile] = pepper
				id, value := created(t, h, "--org", "acme", "--name", "peppered")
				assert.True(t, apikey.KeyFormat{Prefix: "acme_live_"}.Check(value))
				r := h.run(value, "validate")
				requireCode(t, exitOK, r)
				assert.Contains(t, r.stdout, id)
				delete(h.env, envPepperFile)
				requireCode(t, exitNo, h.run(value, "validate"))

				h.env[envPepperFile] = filepath.Join(t.TempDir(), "missing")
				r = h.run(value, "validate")
				requireCode(t, exitUndecided, r)
				assert.Contains(t, r.stderr, "apikeys validate: reading APIKEYS_PEPPER_FILE: ")
				require.NoError(t, os.WriteFile(pepper, []byte("short"), 0o600))
				h.env[envPepperFile] = pepper
				r = h.run(value, "validate")
				requireCode(t, exitUndecided, r)
				assert.Contains(t, r.stderr, "the pepper must be at least 32 bytes")
				assert.Contains(t, r.stderr, "(check --store and the store's settings)")
				h.env[envPepperFile] = ""
				h.env[envKeyPrefix] = "no-underscore"
				r = h.run("", "create", "--org", "acme", "--name", "x")
				requireCode(t, exitUndecided, r)
				assert.Contains(t, r.stderr, "apikeys create: ")
				assert.Empty(t, r.stdout)
			})
		}
	})

	t.Run("APIKEYS_STORE stands for --store", func(t *testing.T) {
		d := sqliteDatabase(t)
		env := map[string]string{"APIKEYS_STORE": d.store}
		r := runBare(t, env, "", "create", "--org", "acme", "--name", "from env")
		requireCode(t, exitOK, r)
		r = runBare(t, env, "", "list", "--org", "acme")
		requireCode(t, exitOK, r)
		assert.Contains(t, r.stdout, "from env")
	})

	t.Run("what cannot be opened is one line and exit status 2", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "typo.db")
		for name, tc := range map[string]struct {
			args []string
			want string
		}{
			"a SQLite file that does not exist": {
				[]string{"list", "--org", "acme", "--store", "sqlite:" + missing},
				"apikeys list: no SQLite database at " + missing + " ('apikeys create --store sqlite:PATH ...' makes one)\n",
			},
			"a scheme no store takes": {
				[]string{"list", "--org", "acme", "--store", "mysql://root@db/keys"},
				"apikeys list: --store must begin with sqlite:, postgres://, postgresql://\n",
			},
			"WorkOS flags with --store": {
				[]string{"delete", "key_1", "--yes", "--store", "sqlite:" + missing, "--base-url", "http://127.0.0.1:1"},
				"apikeys delete: --base-url and --api-key-file are for WorkOS: they do not go with --store\n",
			},
		} {
			t.Run(name, func(t *testing.T) {
				r := runBare(t, nil, "", tc.args...)
				requireCode(t, exitUndecided, r)
				assert.Empty(t, r.stdout)
				assert.Equal(t, tc.want, r.stderr)
			})
		}
		_, err := os.Stat(missing)
		assert.ErrorIs(t, err, os.ErrNotExist, "no database was made for a listing")
	})

	t.Run("only create migrates; the others refuse tables missing or older", func(t *testing.T) {
		for _, db := range databases {
			t.Run(db.name, func(t *testing.T) {
				d := db.open(t)
				if !d.postgres {
					d.exec(t, "PRAGMA user_version = 1") // makes the file, without tables
				}
				h := newHarness(t, d)
				for _, args := range [][]string{{"list", "--org", "acme"}, {"audit", "--org", "acme"}, {"delete", "key_1", "--yes"}} {
					r := h.run("", args...)
					requireCode(t, exitUndecided, r)
					assert.Equal(t, "apikeys "+args[0]+": "+errSchema.Error()+"\n", r.stderr)
				}
				r := h.run("sk_"+strings.Repeat("a", 42)+"\n", "validate")
				requireCode(t, exitUndecided, r)
				assert.Contains(t, r.stderr, errSchema.Error())
				_, err := d.count(t, "apikey_schema_migrations")
				assert.Error(t, err, "no command but create made the tables")

				created(t, h, "--org", "acme", "--name", "first")
				requireCode(t, exitOK, h.run("", "list", "--org", "acme"))
				d.exec(t, "DELETE FROM apikey_schema_migrations")
				r = h.run("", "list", "--org", "acme")
				requireCode(t, exitUndecided, r)
				assert.Equal(t, "apikeys list: "+errSchema.Error()+"\n", r.stderr, "a migration missing")
			})
		}
	})

	t.Run("an unreachable PostgreSQL: one line without the password", func(t *testing.T) {
		r := runBare(t, nil, "", "list", "--org", "acme", "--timeout", "5s",
			"--store", "postgres://postgres:hunter2secret@127.0.0.1:1/test?sslmode=disable&connect_timeout=2")
		requireCode(t, exitUndecided, r)
		assert.Empty(t, r.stdout)
		assert.Len(t, r.stderrLines(), 1, r.stderr)
		assert.True(t, strings.HasPrefix(r.stderr, "apikeys list: sqlstore: Open: the database does not answer: "), r.stderr)
		assert.NotContains(t, r.stderr, "hunter2secret")
	})

	t.Run("--help says what --org and --store mean here", func(t *testing.T) {
		r := runBare(t, nil, "", "list", "--help")
		requireCode(t, exitOK, r)
		assert.Contains(t, r.stdout, "with --store, the keys' owner ID")
		assert.Contains(t, r.stdout, "sqlite:PATH")
		assert.Contains(t, r.stdout, "postgres://USER@HOST/DB")
		r = runBare(t, nil, "", "--help")
		requireCode(t, exitOK, r)
		assert.Contains(t, r.stdout, "or in your own\ndatabase with --store.")
	})
}
