package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/apikeyauth/apikey"
	"github.com/apikeyauth/apikey/internal/keyctl"
	"github.com/apikeyauth/apikey/sqlstore"
)

// The environment variables that must match the application's settings.
const (
	envKeyPrefix  = "APIKEYS_KEY_PREFIX"
	envPepperFile = "APIKEYS_PEPPER_FILE"
)

// withStores registers SQLite and PostgreSQL for --store, with now as the
// stores' clock.
func withStores(now func() time.Time) []keyctl.Option {
	return []keyctl.Option{
		keyctl.WithStore(keyctl.Store{
			Name:     "SQLite",
			Prefixes: []string{"sqlite:"},
			Usage:    "sqlite:PATH                 a SQLite file (made by create when missing)",
			Open: func(ctx context.Context, req keyctl.OpenRequest) (keyctl.Backend, error) {
				return openSQLite(ctx, req, now)
			},
		}),
		keyctl.WithStore(keyctl.Store{
			Name:     "PostgreSQL",
			Prefixes: []string{"postgres://", "postgresql://"},
			Usage:    "postgres://USER@HOST/DB     PostgreSQL (?search_path=SCHEMA for a schema)",
			Open: func(ctx context.Context, req keyctl.OpenRequest) (keyctl.Backend, error) {
				return openStore(ctx, req, now)
			},
		}),
	}
}

// openSQLite refuses a file that does not exist, except to create a key:
// a mistyped path must not answer "no keys" from a database made for it.
func openSQLite(ctx context.Context, req keyctl.OpenRequest, now func() time.Time) (keyctl.Backend, error) {
	path, _, _ := strings.Cut(strings.TrimPrefix(req.DSN, "sqlite:"), "?")
	if path == "" {
		return nil, errors.New("--store sqlite: needs a file: sqlite:PATH")
	}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) && !req.Creates {
		return nil, fmt.Errorf("no SQLite database at %s ('apikeys create --store sqlite:PATH ...' makes one)", path)
	}
	return openStore(ctx, req, now)
}

// errSchema is the answer to a command other than create on a database
// whose tables are missing or older than this command: it does not
// migrate a database behind its application's back.
var errSchema = errors.New("the database has no apikeys tables, or older ones than this apikeys: " +
	"run the application's Store.Migrate, or 'apikeys create', first")

// openStore opens the store. Only create, which may make the database,
// brings its tables up to date; the other commands refuse tables that are
// missing or older than the command's.
func openStore(ctx context.Context, req keyctl.OpenRequest, now func() time.Time) (keyctl.Backend, error) {
	opts := []sqlstore.Option{
		sqlstore.WithClock(now),
		// The command reports its errors itself, on one line.
		sqlstore.WithLogger(slog.New(slog.DiscardHandler)),
	}
	if p := req.Env(envKeyPrefix); p != "" {
		opts = append(opts, sqlstore.WithKeyFormat(apikey.KeyFormat{Prefix: p}))
	}
	if f := req.Env(envPepperFile); f != "" {
		pepper, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", envPepperFile, err)
		}
		// The file's bytes as they are: a trimmed pepper is another pepper.
		h, err := apikey.NewHMACHasher(pepper)
		if err != nil {
			return nil, err
		}
		opts = append(opts, sqlstore.WithHasher(h))
	}
	s, err := sqlstore.Open(ctx, req.DSN, opts...)
	if err != nil {
		return nil, err
	}
	if req.Creates {
		err = s.Migrate(ctx)
	} else if err = s.CheckSchema(ctx); errors.Is(err, sqlstore.ErrSchemaOutdated) {
		err = errSchema
	}
	if errors.Is(err, sqlstore.ErrKeyFormatMismatch) {
		err = fmt.Errorf("%w; unset %s to issue keys of the database's format", err, envKeyPrefix)
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	return &storeBackend{s: s, now: now}, nil
}
