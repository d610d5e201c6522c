package sqlstore

import (
	"context"
	"database/sql"
	"strconv"
	"time"

	"github.com/apikeyauth/apikey"
)

// changesKept is how long the changes table keeps a change. A process away
// for longer purges its cache when it comes back (see watcher.poll).
const changesKept = time.Hour

// changeTimeout bounds a change's transaction, which does not end with the
// caller's context (see change).
const changeTimeout = 10 * time.Second

// change runs update, which must touch the key's row, in one transaction
// with a line in the changes table and, on PostgreSQL, a notification that
// is delivered when, and only if, the transaction commits. Then it forgets
// the key in the cache this Store watches, if any, at once, with Origin
// apikey.OriginLocal; the watcher applies the change again when it reads
// it from the feed, as every other process does.
//
// The transaction runs to its end even if ctx is canceled (a client gone
// away): on PostgreSQL, a rollback after the sequence number was taken
// leaves a hole that every watcher waits for and then purges its cache
// over. changeTimeout bounds it instead.
func (s *Store) change(ctx context.Context, id string, update func(ctx context.Context, tx *sql.Tx) (sql.Result, error)) error {
	if !storable(id) {
		return ErrNotFound
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), changeTimeout)
	defer cancel()
	var seq int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := update(ctx, tx)
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
		w.c.Invalidate(apikey.Invalidation{ID: id, Origin: apikey.OriginLocal})
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
