package sqlstore

import (
	"context"
	"database/sql"
	"strconv"
	"time"
)

// changesKept is how long the changes table keeps a change. A process away
// for longer purges its cache when it comes back (see watcher.poll).
const changesKept = time.Hour

// change runs update, which must touch the key's row, in one transaction
// with a line in the changes table and, on PostgreSQL, a notification that
// is delivered when, and only if, the transaction commits. Then it forgets
// the key in the cache this Store watches, if any, without waiting for
// either.
func (s *Store) change(ctx context.Context, id string, update func(*sql.Tx) (sql.Result, error)) error {
	var seq int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := update(tx)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return ErrNotFound
		}
		now := micros(s.set.now())
		err = tx.QueryRowContext(ctx, s.dialect.bind("INSERT INTO apikey_changes (key_id, changed_at) VALUES (?, ?) RETURNING seq"),
			id, now).Scan(&seq)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.dialect.bind("DELETE FROM apikey_changes WHERE changed_at < ?"), now-changesKept.Microseconds())
		if err == nil && s.dialect.postgres() {
			_, err = tx.ExecContext(ctx, "SELECT pg_notify($1, $2)", s.channel, strconv.FormatInt(seq, 10)+" "+id)
		}
		return err
	})
	if err != nil {
		return err
	}
	if w := s.watching(); w != nil {
		w.apply(seq, id)
	}
	return nil
}

func (s *Store) inTx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := f(tx); err != nil {
		return err
	}
	return tx.Commit()
}
