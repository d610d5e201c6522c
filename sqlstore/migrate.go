package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
)

// Migrate brings the schema up to date: it applies, in order and each in
// its own transaction, the embedded migrations that the database has not
// seen, and records their versions in apikey_schema_migrations. Then it
// records the Store's key format as the database's when the database
// records none (the default format only over a database holding keys that
// all have it), and otherwise checks that they are the same: a Store that
// would issue keys of another format than the database's gets
// ErrKeyFormatMismatch. It is safe to call on
// every start and from several processes at once (PostgreSQL takes an
// advisory lock; SQLite's write lock serializes). It never changes or drops
// a migration already applied.
func (s *Store) Migrate(ctx context.Context) error {
	ms, err := s.migrations()
	if err != nil {
		return fmt.Errorf("sqlstore: Migrate: %w", err)
	}
	for _, m := range ms {
		if err := s.migrate(ctx, m.version, m.name); err != nil {
			return fmt.Errorf("sqlstore: Migrate: %s: %w", m.name, err)
		}
	}
	if err := s.inTx(ctx, func(tx *sql.Tx) error { return s.checkFormat(ctx, tx) }); err != nil {
		return fmt.Errorf("sqlstore: Migrate: %w", err)
	}
	return nil
}

// CheckSchema returns nil when the database has every migration that this
// package embeds, and otherwise an error matching ErrSchemaOutdated that
// names the first one missing. It changes nothing: it is for tools that
// must not migrate a database behind its application's back.
func (s *Store) CheckSchema(ctx context.Context) error {
	ms, err := s.migrations()
	if err != nil {
		return fmt.Errorf("sqlstore: CheckSchema: %w", err)
	}
	exists, err := s.hasTable(ctx, "apikey_schema_migrations")
	if err != nil {
		return fmt.Errorf("sqlstore: CheckSchema: %w", err)
	}
	applied := map[int]bool{}
	if exists {
		rows, err := s.db.QueryContext(ctx, "SELECT version FROM apikey_schema_migrations")
		if err != nil {
			return fmt.Errorf("sqlstore: CheckSchema: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var v int
			if err := rows.Scan(&v); err != nil {
				return fmt.Errorf("sqlstore: CheckSchema: %w", err)
			}
			applied[v] = true
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("sqlstore: CheckSchema: %w", err)
		}
	}
	for _, m := range ms {
		if !applied[m.version] {
			return fmt.Errorf("%w: migration %s is not applied", ErrSchemaOutdated, m.name)
		}
	}
	return nil
}

// migration is one of the embedded migrations of the Store's dialect.
type migration struct {
	version int
	name    string
}

// migrations returns the embedded migrations, in the order of their
// versions.
func (s *Store) migrations() ([]migration, error) {
	names, err := fs.Glob(s.dialect.migrations, "*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	ms := make([]migration, 0, len(names))
	for _, name := range names {
		version, err := strconv.Atoi(strings.SplitN(name, "_", 2)[0])
		if err != nil {
			return nil, fmt.Errorf("migration %s has no version number", name)
		}
		ms = append(ms, migration{version, name})
	}
	return ms, nil
}

func (s *Store) migrate(ctx context.Context, version int, name string) error {
	body, err := fs.ReadFile(s.dialect.migrations, name)
	if err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if s.dialect.postgres() {
		// One migrator at a time per database, from before the versions
		// table is created: PostgreSQL's CREATE TABLE IF NOT EXISTS fails
		// when another transaction creates the same table meanwhile. The
		// lock ends with the transaction.
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(hashtext('apikey_schema_migrations'))"); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS apikey_schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`); err != nil {
		return err
	}
	var n int
	if err := tx.QueryRowContext(ctx, s.dialect.bind("SELECT COUNT(*) FROM apikey_schema_migrations WHERE version = ?"), version).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, string(body)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, s.dialect.bind("INSERT INTO apikey_schema_migrations (version, name, applied_at) VALUES (?, ?, ?)"),
		version, name, micros(s.set.now())); err != nil {
		return err
	}
	return tx.Commit()
}
