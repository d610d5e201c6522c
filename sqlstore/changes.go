package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"strconv"
	"time"

	"github.com/apikeyauth/apikey"
)

// changesKept is how long the changes table keeps a change. A process away
// for longer purges its cache when it comes back (see watcher.poll).
const changesKept = time.Hour

// pruneChanges deletes the changes older than its parameter, on every
// change: the 0005 migration's index on changed_at makes it read only the
// rows it deletes, instead of the whole table.
const pruneChanges = "DELETE FROM apikey_changes WHERE changed_at < ?"

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
// The line names the change before it (see the head row in the 0002
// migration), and the transaction locks the head row before it takes its
// sequence number: changes commit one at a time, in the order of their
// numbers, so a watcher never waits for a number that a rollback or a
// crash left unused, and a change it never saw breaks the chain it
// follows (see watcher.follow). Key changes are rare; serializing them
// costs little.
//
// The transaction runs to its end even if ctx is canceled (a client gone
// away); changeTimeout bounds it instead.
func (s *Store) change(ctx context.Context, id string, update func(ctx context.Context, tx *sql.Tx) (sql.Result, error)) error {
	if !storable(id) {
		return ErrNotFound
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), changeTimeout)
	defer cancel()
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
		return s.record(ctx, tx, id)
	})
	if err != nil {
		return err
	}
	if w := s.watching(); w != nil {
		w.c.Invalidate(apikey.Invalidation{ID: id, Origin: apikey.OriginLocal})
	}
	return nil
}

// record writes a line in the changes table for the key id, within tx:
// the next link of the chain, under the head row's lock; the changes
// older than changesKept are pruned. An empty id is a link that
// invalidates nothing (a key created), so that a restore that loses it is
// noticed all the same. On PostgreSQL a change of a key is also notified.
func (s *Store) record(ctx context.Context, tx *sql.Tx, id string) error {
	now, token := micros(s.set.now()), rand.Text()
	// Pruned before the head row is locked: the lock is held, and every
	// other change waits, for as few statements as can be.
	if _, err := tx.ExecContext(ctx, s.dialect.bind(pruneChanges), now-changesKept.Microseconds()); err != nil {
		return err
	}
	var prev string
	err := tx.QueryRowContext(ctx, s.dialect.lockHead()).Scan(&prev)
	if err != nil && !errors.Is(err, sql.ErrNoRows) { // no head row: a chain starts again
		return err
	}
	var seq int64
	err = tx.QueryRowContext(ctx, s.dialect.bind("INSERT INTO apikey_changes (key_id, changed_at, token, prev_token) VALUES (?, ?, ?, ?) RETURNING seq"),
		id, now, token, prev).Scan(&seq)
	if err != nil {
		return err
	}
	if _, err = tx.ExecContext(ctx, s.dialect.bind(`INSERT INTO apikey_changes_head (id, seq, token) VALUES (1, ?, ?)
		ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, token = excluded.token`), seq, token); err != nil {
		return err
	}
	if id != "" && s.dialect.postgres() {
		_, err = tx.ExecContext(ctx, "SELECT pg_notify($1, $2)", s.channel, strconv.FormatInt(seq, 10)+" "+id)
	}
	return err
}

// idleInTx bounds, on PostgreSQL, how long a transaction of the Store may
// wait for its client between statements. A writer that loses its network
// mid-change gives up after changeTimeout, but the server cannot tell: it
// would hold the head row's lock, and every change of every process would
// wait behind it, until TCP keepalives notice, hours later. Past idleInTx
// the server ends the session and its locks.
const idleInTx = changeTimeout

// inTx runs f in a transaction, committed when f returns nil.
func (s *Store) inTx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if s.dialect.postgres() {
		// Local to the transaction, so that it holds behind a pooler.
		if _, err := tx.ExecContext(ctx, "SELECT set_config('idle_in_transaction_session_timeout', $1, true)",
			strconv.FormatInt(s.idleInTx.Milliseconds(), 10)); err != nil {
			return err
		}
	}
	if err := f(tx); err != nil {
		return err
	}
	return tx.Commit()
}
