package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/apikeyauth/apikey"
)

// Invalidator is what Watch keeps up to date with the database: an
// *apikey.Cache is one.
type Invalidator interface {
	Invalidate(apikey.Invalidation)
}

// gapWait is how long a watcher waits for a missing sequence number, a
// change whose transaction has not committed yet, before it gives up on it
// and purges its cache instead: PostgreSQL hands out sequence numbers
// before commit, and a rolled-back change leaves a hole for good. It is
// longer than a change's transaction may last (changeTimeout), so that a
// change given up on has ended one way or the other; one that committed
// all the same is still applied when it is read (see apply).
const gapWait = changeTimeout + 2*time.Second

var errAlreadyWatching = errors.New("sqlstore: Watch: already watching")

// Watch makes every change to a key (Revoke, Expire, Rotate, SetPermissions,
// SetMetadata), in this process or any other sharing the database, reach
// c as an apikey.Invalidation of the key's ID:
//
//   - made through this Store, at once, with Origin apikey.OriginLocal;
//   - read from the changes feed, with Origin apikey.OriginStore: on
//     PostgreSQL within milliseconds, through LISTEN/NOTIFY on a connection
//     of its own that reconnects by itself; on any backend within the poll
//     interval (WithPollInterval), by reading the changes table from the
//     last change applied. This bounds what a lost notification, a
//     reconnection or SQLite can delay. The feed carries this Store's own
//     changes too, so each of them reaches c twice.
//
// When the changes cannot be read (at every failed poll), when a missing
// change is given up on, and when the changes table goes back (a restore
// from a backup, a truncated table, a new database), Watch purges c with
// Origin apikey.OriginStore, since it can no longer tell what changed.
// Call Watch once, before serving; Close stops its goroutines.
func (s *Store) Watch(ctx context.Context, c Invalidator) error {
	var last int64
	if err := s.db.QueryRowContext(ctx, "SELECT COALESCE(MAX(seq), 0) FROM apikey_changes").Scan(&last); err != nil {
		return fmt.Errorf("sqlstore: Watch: %w", err)
	}
	w := &watcher{c: c, next: last + 1, seen: map[int64]bool{}, logger: s.set.logger}
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return ErrClosed
	case s.watcher != nil:
		s.mu.Unlock()
		return errAlreadyWatching
	}
	s.watcher = w
	s.done.Add(1)
	go s.every(s.ctx, s.set.pollEach, func() { s.pollOnce(s.ctx, w) })
	if s.dialect.postgres() {
		s.done.Add(1) // under s.mu, so that Close waits for the listener
	}
	s.mu.Unlock()
	if s.dialect.postgres() {
		// Listen before returning, so that no change made after Watch
		// waits for a poll; if that fails, the goroutine tries again. The
		// store's lock is not held: Revoke or Close must not wait for a
		// database that does not answer.
		dctx, cancel := context.WithCancel(ctx)
		stop := context.AfterFunc(s.ctx, cancel)
		conn, err := s.startListening(dctx)
		stop()
		cancel()
		if err != nil {
			s.set.logger.Warn("sqlstore: listening for changes failed; polling only until it connects", "error", err)
		}
		go s.listen(s.ctx, w, conn)
	}
	return nil
}

func (s *Store) watching() *watcher {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.watcher
}

// watcher applies each change once, whichever way it arrives first.
type watcher struct {
	c      Invalidator
	logger *slog.Logger

	mu       sync.Mutex
	next     int64          // every change before it has been applied
	seen     map[int64]bool // changes from next on that have been applied
	gapSince time.Time      // when next was first seen missing behind later changes
	failing  bool           // the last poll failed
}

// apply invalidates the key of a change read from the feed. A change below
// next is applied too: invalidating is idempotent, and on PostgreSQL a
// transaction can commit a lower sequence number after later ones were
// applied (or after the watcher gave up waiting for it). Only changes from
// next on are deduplicated, and only they move next.
func (w *watcher) apply(seq int64, id string) {
	w.mu.Lock()
	if seq >= w.next {
		if w.seen[seq] {
			w.mu.Unlock()
			return
		}
		w.seen[seq] = true
		w.advance()
	}
	w.mu.Unlock()
	w.c.Invalidate(apikey.Invalidation{ID: id, Origin: apikey.OriginStore})
}

// advance moves next past the changes applied; w.mu must be held.
func (w *watcher) advance() {
	for w.seen[w.next] {
		delete(w.seen, w.next)
		w.next++
	}
}

// pollOnce applies the changes from the first one not yet applied.
func (s *Store) pollOnce(ctx context.Context, w *watcher) {
	w.mu.Lock()
	from := w.next
	w.mu.Unlock()
	pctx, cancel := context.WithTimeout(ctx, s.set.pollEach)
	defer cancel()
	last, err := s.readChanges(pctx, from, w)
	if ctx.Err() != nil {
		return
	}
	w.mu.Lock()
	wasFailing := w.failing
	w.failing = err != nil
	w.mu.Unlock()
	if err != nil {
		if !wasFailing {
			w.logger.Warn("sqlstore: reading the changes failed; the cache is purged until it works again", "error", err)
		}
		w.c.Invalidate(apikey.Invalidation{All: true, Origin: apikey.OriginStore})
		return
	}
	if wasFailing {
		w.logger.Info("sqlstore: reading the changes works again")
	}
	if last < from-1 {
		w.restart(last, from)
		return
	}
	w.checkGap(s.set.now())
}

// pollPage bounds one query of a poll; a poll reads as many pages as there
// are.
const pollPage = 1000

// readChanges applies the changes from seq from on, page after page, and
// returns the highest sequence number in the table. Each page starts after
// the last row of the one before, not at next: with a change missing at
// next, rereading from there would return the same page over and over.
func (s *Store) readChanges(ctx context.Context, from int64, w *watcher) (last int64, err error) {
	if err := s.db.QueryRowContext(ctx, "SELECT COALESCE(MAX(seq), 0) FROM apikey_changes").Scan(&last); err != nil {
		return 0, err
	}
	for {
		n, after, err := s.readPage(ctx, from, w)
		if err != nil || n < pollPage {
			return last, err
		}
		from = after + 1
	}
}

func (s *Store) readPage(ctx context.Context, from int64, w *watcher) (n int, last int64, err error) {
	rows, err := s.db.QueryContext(ctx, s.dialect.bind("SELECT seq, key_id FROM apikey_changes WHERE seq >= ? ORDER BY seq LIMIT ?"), from, pollPage)
	if err != nil {
		return 0, 0, err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&last, &id); err != nil {
			return n, last, err
		}
		n++
		w.apply(last, id)
	}
	return n, last, rows.Err()
}

// restart follows the changes table back to an earlier point: its highest
// sequence number, last, is below the changes already applied (before
// from), as after a restore from a backup, a truncated table or a new
// database. What the cache holds may have been revoked since, unseen, so
// it is purged, and the watcher starts over after last.
func (w *watcher) restart(last, from int64) {
	w.logger.Warn("sqlstore: the changes table went back; the cache is purged", "last", last, "expected_at_least", from-1)
	w.mu.Lock()
	w.next = last + 1
	clear(w.seen)
	w.gapSince = time.Time{}
	w.mu.Unlock()
	w.c.Invalidate(apikey.Invalidation{All: true, Origin: apikey.OriginStore})
}

// checkGap gives up on a change that has been missing for gapWait while
// later ones arrived: it may be lost (a rollback, or pruned while this
// process was away), so the cache is purged and the watcher moves on.
func (w *watcher) checkGap(now time.Time) {
	w.mu.Lock()
	if len(w.seen) == 0 {
		w.gapSince = time.Time{}
		w.mu.Unlock()
		return
	}
	if w.gapSince.IsZero() {
		w.gapSince = now
	}
	if now.Sub(w.gapSince) < gapWait {
		w.mu.Unlock()
		return
	}
	next := w.next
	for seq := range w.seen {
		if next == w.next || seq < next {
			next = seq
		}
	}
	w.next = next
	w.advance()
	w.gapSince = time.Time{}
	w.mu.Unlock()
	w.c.Invalidate(apikey.Invalidation{All: true, Origin: apikey.OriginStore})
}

// reconnectPause is how long the listener waits before connecting again
// after losing its connection (the poll interval, if shorter).
const reconnectPause = time.Second

// listen applies the notifications of the schema's channel as they come,
// on a connection of its own (conn, if not nil, to begin with), connecting
// again after a pause when it is lost. Each time it connects again, it
// reads the changes table once for what it missed meanwhile, rather than
// leave that to the next poll.
func (s *Store) listen(ctx context.Context, w *watcher, conn *pgx.Conn) {
	defer s.done.Done()
	pause := min(reconnectPause, s.set.pollEach)
	for {
		var err error
		if conn == nil {
			if conn, err = s.startListening(ctx); err == nil {
				s.pollOnce(ctx, w)
			}
		}
		if conn != nil {
			err = s.receive(ctx, w, conn)
			conn.Close(context.Background())
			conn = nil
		}
		if ctx.Err() != nil {
			return
		}
		w.logger.Warn("sqlstore: listening for changes failed; polling only until it reconnects", "error", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
	}
}

// listenTimeout bounds connecting the listener and starting to listen.
const listenTimeout = 5 * time.Second

func (s *Store) startListening(ctx context.Context) (*pgx.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, s.listenTimeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, s.listenConfig)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{s.channel}.Sanitize()); err != nil {
		conn.Close(context.Background())
		return nil, err
	}
	return conn, nil
}

func (s *Store) receive(ctx context.Context, w *watcher, conn *pgx.Conn) error {
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		seq, id, ok := strings.Cut(n.Payload, " ")
		if v, err := strconv.ParseInt(seq, 10, 64); ok && err == nil {
			w.apply(v, id)
		}
	}
}
