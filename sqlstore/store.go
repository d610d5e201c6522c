package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx" with database/sql
	_ "modernc.org/sqlite"             // registers "sqlite", pure Go

	"github.com/apikeyauth/apikey"
)

// Store keeps API keys in PostgreSQL or SQLite, by the digest of their
// value only, and validates them: it is an apikey.Validator. It also issues,
// lists, rotates, expires and revokes them (see Create), records when each
// was last used without a write per request, and, once watching a cache
// (see Watch), makes every change reach every process's cache.
//
// Build one with Open and end it with Close. A Store is safe for concurrent
// use. It never stores, logs or returns a key value, except the new value
// that Create and Rotate return once.
type Store struct {
	db            *sql.DB
	dialect       dialect
	selectDigest  string          // Validate's query, bound to the dialect once
	listenConfig  *pgx.ConnConfig // PostgreSQL: the listener's own connection
	channel       string          // PostgreSQL: the NOTIFY channel of the schema
	listenTimeout time.Duration   // PostgreSQL: listenTimeout, but in tests
	idleInTx      time.Duration   // PostgreSQL: idleInTx, but in tests
	where         string          // the database, without a password: see String
	// set is behind a pointer, as listenConfig is, so that fmt prints an
	// address for it, not the pepper, wherever it does not call Format
	// (a Store in an unexported field of a struct printed with %s).
	set  *settings
	used *lastUsed
	// spendMu serializes Spend on SQLite (see spend).
	spendMu sync.Mutex

	mu      sync.Mutex
	watcher *watcher // nil until Watch
	closed  bool
	ctx     context.Context // ends when Close begins: every goroutine's
	stop    context.CancelFunc
	done    sync.WaitGroup
}

// Open connects to the database that dsn names and returns a Store over it:
//
//	postgres://user@host:5432/db?sslmode=disable  PostgreSQL, through pgx
//	sqlite:PATH                                   SQLite, through a pure-Go driver
//
// A PostgreSQL DSN may set search_path to keep the tables in a schema of
// their own. Open checks that the database answers and, without
// WithKeyFormat, reads the key format it records, but changes nothing:
// call Migrate to create or update the tables. It starts the goroutine that
// writes last uses; Close stops it.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	set := defaultSettings()
	for _, opt := range opts {
		opt(&set)
	}
	if err := set.check(); err != nil {
		return nil, err
	}
	s := &Store{set: &set, listenTimeout: listenTimeout, idleInTx: idleInTx}
	var err error
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		s.dialect = postgres
		if s.listenConfig, err = pgx.ParseConfig(dsn); err != nil {
			return nil, fmt.Errorf("sqlstore: Open: %w", err) // pgx's parse errors hide the password
		}
		s.db, err = sql.Open(postgres.driver, dsn)
		s.where = postgresWhere(s.listenConfig)
	case strings.HasPrefix(dsn, "sqlite:"):
		s.dialect = sqlite
		s.db, err = sql.Open(sqlite.driver, sqliteDSN(strings.TrimPrefix(dsn, "sqlite:")))
		s.where = sqliteWhere(dsn)
	default:
		return nil, misconfigured("the DSN must start with postgres://, postgresql:// or sqlite:")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: Open: %w", err)
	}
	s.selectDigest = s.dialect.bind(selectKey + " WHERE digest = ?")
	if err := s.db.PingContext(ctx); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("sqlstore: Open: the database does not answer: %w", err)
	}
	if s.dialect.postgres() {
		var schema string
		if err := s.db.QueryRowContext(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
			s.db.Close()
			return nil, fmt.Errorf("sqlstore: Open: %w", err)
		}
		s.channel = channelFor(schema)
	}
	if !set.formatGiven {
		p, err := s.recordedPrefix(ctx)
		if err != nil {
			s.db.Close()
			return nil, fmt.Errorf("sqlstore: Open: reading the key format: %w", err)
		}
		if p != "" {
			s.set.format = apikey.KeyFormat{Prefix: p}
		}
	}
	s.used = newLastUsed(set.lastUsedEach)
	s.ctx, s.stop = context.WithCancel(context.Background())
	s.done.Add(1)
	go s.writeLastUses(s.ctx)
	return s, nil
}

// sqliteDSN asks for what several processes sharing one file need: the
// write-ahead log, a wait instead of "database is locked", and write
// transactions that take the lock when they begin.
func sqliteDSN(path string) string {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return "file:" + path + sep + "_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_txlock=immediate"
}

// channelFor names the NOTIFY channel of a schema, so that stores in
// different schemas of one database do not hear each other. PostgreSQL
// cuts channel names at 63 bytes.
func channelFor(schema string) string {
	c := "apikey_changes." + schema
	if len(c) > 63 {
		c = c[:63]
	}
	return c
}

// Close stops the Store's goroutines, writes the last uses still queued,
// and closes the database. Later calls return nil.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.stop()
	s.done.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.Flush(ctx)
	return errors.Join(err, s.db.Close())
}

// KeyFormat returns the format of the keys the Store issues: the one given
// with WithKeyFormat, else the one the database recorded when Open read it,
// else the default. Pass its Check to apikey.WithFormatCheck.
func (s *Store) KeyFormat() apikey.KeyFormat { return s.set.format }

// Validate returns the key whose value is value, or an error wrapping
// apikey.ErrInvalidKey when no key has it or the key has expired. It looks
// the key up by the digest of value, one indexed query, and queues its use
// for the last-used writer: it never writes. A database error is an
// *apikey.UnavailableError.
func (s *Store) Validate(ctx context.Context, value string) (*apikey.Key, error) {
	d := s.set.hasher.Sum(value)
	now := s.set.now()
	k, err := scanKey(s.db.QueryRowContext(ctx, s.selectDigest, d[:]), now)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, apikey.ErrInvalidKey
	case err != nil:
		return nil, unavailable(err)
	}
	if !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt) {
		return nil, apikey.ErrInvalidKey
	}
	s.used.touch(k.ID, now)
	return k, nil
}

// every calls f every d until ctx ends, as one of the Store's goroutines.
func (s *Store) every(ctx context.Context, d time.Duration, f func()) {
	defer s.done.Done()
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f()
		}
	}
}
