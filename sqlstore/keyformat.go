package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// The database records the prefix of its keys in apikey_settings, so that
// every process that issues keys into it (the application, the apikeys
// command) issues keys of the one format that the applications check: a
// mismatch fails loudly instead of issuing keys that every request refuses.

const selectPrefix = "SELECT value FROM apikey_settings WHERE name = 'key_prefix'"

// recordedPrefix returns the prefix the database records, or "" when it
// records none or has no settings table yet (a database before Migrate).
func (s *Store) recordedPrefix(ctx context.Context) (string, error) {
	if ok, err := s.hasTable(ctx, "apikey_settings"); err != nil || !ok {
		return "", err
	}
	var p string
	err := s.db.QueryRowContext(ctx, selectPrefix).Scan(&p)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return p, err
}

// checkFormat, within tx, compares the Store's key format with the one the
// database records, and records it when the database records none: the
// format given with WithKeyFormat always (an application knows its own),
// the default only when the database holds keys and every one has it (a
// database from before the format was recorded, opened by a tool that was
// given none, must not take another format than its keys'; an empty one
// waits for its application to record its own).
func (s *Store) checkFormat(ctx context.Context, tx *sql.Tx) error {
	prefix := s.set.format.Prefix
	var recorded string
	err := tx.QueryRowContext(ctx, selectPrefix).Scan(&recorded)
	if errors.Is(err, sql.ErrNoRows) {
		if !s.set.formatGiven {
			// The display value of a key starts with its prefix and "...".
			var keys, other int
			err = tx.QueryRowContext(ctx, s.dialect.bind("SELECT COUNT(*), COUNT(CASE WHEN substr(display_value, 1, ?) <> ? THEN 1 END) FROM apikey_keys"),
				len(prefix)+3, prefix+"...").Scan(&keys, &other)
			if err != nil {
				return err
			}
			if other > 0 {
				return fmt.Errorf("%w: the database records no key format, and %d of its keys do not start with %q, the default prefix", ErrKeyFormatMismatch, other, prefix)
			}
			if keys == 0 {
				// A database without keys is no evidence of its format:
				// the default recorded here, by a tool or a migration job
				// run before the application, would refuse the
				// application its own format. It is recorded once the
				// database holds keys of it.
				return nil
			}
		}
		// Another process may record its own meanwhile: the one recorded
		// first holds.
		if _, err = tx.ExecContext(ctx, s.dialect.bind("INSERT INTO apikey_settings (name, value) VALUES ('key_prefix', ?) ON CONFLICT (name) DO NOTHING"), prefix); err != nil {
			return err
		}
		err = tx.QueryRowContext(ctx, selectPrefix).Scan(&recorded)
	}
	if err != nil {
		return err
	}
	if recorded != prefix {
		return fmt.Errorf("%w: the database's keys start with %q, this Store's with %q (%s)", ErrKeyFormatMismatch, recorded, prefix, s.formatSource())
	}
	return nil
}

func (s *Store) formatSource() string {
	if s.set.formatGiven {
		return "WithKeyFormat"
	}
	return "the default"
}

// hasTable reports whether the Store's schema has the table.
func (s *Store) hasTable(ctx context.Context, name string) (bool, error) {
	q := "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?"
	if s.dialect.postgres() {
		q = "SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = $1"
	}
	var n int
	err := s.db.QueryRowContext(ctx, q, name).Scan(&n)
	return n > 0, err
}
