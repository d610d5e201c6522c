package sqlstore

import (
	"context"
	"database/sql"
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
// Each change names the one before it, and changes commit one at a time in
// the order of their sequence numbers, so a sequence number never used (a
// rolled-back change, the numbers PostgreSQL skips after a crash) costs
// nothing. When the changes cannot be read (at every failed poll), or a
// change was lost to this process (the changes table restored from a
// backup, reset, or pruned while the process could not read it), Watch
// purges c with Origin apikey.OriginStore, since it
// can no longer tell what changed, and logs why. Call Watch once, before
// serving; Close stops its goroutines.
func (s *Store) Watch(ctx context.Context, c Invalidator) error {
	head, err := s.readHead(ctx)
	if err != nil {
		if serr := s.CheckSchema(ctx); errors.Is(serr, ErrSchemaOutdated) {
			err = serr // what to do about it, rather than a missing table
		}
		return fmt.Errorf("sqlstore: Watch: %w", err)
	}
	w := &watcher{c: c, at: head, notified: map[int64]bool{}, logger: s.set.logger}
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

// link is a change's place in the chain of changes: its sequence number
// and its token, which the next change names.
type link struct {
	seq   int64
	token string
}

// watcher applies each change once, whichever way it arrives first, and
// follows the chain of changes.
type watcher struct {
	c      Invalidator
	logger *slog.Logger

	polling sync.Mutex // one poll at a time: the ticker's, or the listener's when it reconnects

	mu       sync.Mutex
	at       link           // the last change polls have followed
	notified map[int64]bool // changes after at applied from notifications
	failing  bool           // the last poll failed
}

// maxNotified bounds the notifications remembered for the next poll: past
// it, a change may reach the cache twice, which is harmless.
const maxNotified = 10_000

// notify applies a change announced by a notification. The next poll does
// not apply it again, but it still follows it in the chain. A change at or
// before the polls' position is applied all the same: invalidating is
// idempotent, and after a restore the same number may be a new change.
func (w *watcher) notify(seq int64, id string) {
	w.mu.Lock()
	if seq > w.at.seq {
		if w.notified[seq] {
			w.mu.Unlock()
			return
		}
		if len(w.notified) < maxNotified {
			w.notified[seq] = true
		}
	}
	w.mu.Unlock()
	w.c.Invalidate(apikey.Invalidation{ID: id, Origin: apikey.OriginStore})
}

// pollOnce reads the changes after the last one followed and applies them,
// or purges the cache when it cannot, saying so once per outage.
func (s *Store) pollOnce(ctx context.Context, w *watcher) {
	w.polling.Lock()
	defer w.polling.Unlock()
	pctx, cancel := context.WithTimeout(ctx, max(s.set.pollEach, minPollTimeout))
	defer cancel()
	err := s.readChanges(pctx, w)
	if ctx.Err() != nil {
		return
	}
	w.mu.Lock()
	wasFailing := w.failing
	w.failing = err != nil
	w.mu.Unlock()
	if err != nil {
		if !wasFailing {
			w.logger.Warn("sqlstore: reading the changes failed; the cache is purged at every poll until it works again", "error", err)
		}
		w.purge()
		return
	}
	if wasFailing {
		w.logger.Info("sqlstore: reading the changes works again")
	}
}

func (w *watcher) purge() {
	w.c.Invalidate(apikey.Invalidation{All: true, Origin: apikey.OriginStore})
}

// minPollTimeout is the least time a poll gets. A poll after an outage
// must open a connection, which can take longer than a short poll interval:
// cut off at the interval, it would fail, and purge, forever.
const minPollTimeout = time.Second

// pollPage bounds one query of a poll; a poll reads as many pages as there
// are.
const pollPage = 1000

// readHead returns the newest change, or the zero link when there is none.
func (s *Store) readHead(ctx context.Context) (link, error) {
	var head link
	err := s.db.QueryRowContext(ctx, "SELECT seq, token FROM apikey_changes_head WHERE id = 1").Scan(&head.seq, &head.token)
	if errors.Is(err, sql.ErrNoRows) {
		return link{}, nil
	}
	return head, err
}

// readChanges follows the changes after the watcher's position, page after
// page. The newest change, read first, tells in one query that nothing
// changed, which is what almost every poll finds.
func (s *Store) readChanges(ctx context.Context, w *watcher) error {
	head, err := s.readHead(ctx)
	if err != nil {
		return err
	}
	w.mu.Lock()
	at := w.at
	w.mu.Unlock()
	if head == at {
		return nil
	}
	lost := false
	for first := true; ; first = false {
		page, err := s.readPage(ctx, at.seq)
		if err != nil {
			return err
		}
		if first && len(page) == 0 {
			// The newest change differs, and nothing follows ours: the
			// table went back (a restore, a reset, a new database), or
			// lost what came after ours.
			w.lost("the changes table went back", at, head)
			w.restart(head)
			return nil
		}
		broken := w.follow(page)
		if broken != nil && !lost {
			lost = true
			w.lost("a change is missing before this one", at, *broken)
		}
		if len(page) < pollPage {
			break
		}
		at = page[len(page)-1].link
	}
	if lost {
		w.purge()
	}
	return nil
}

// change is a row of the changes table.
type change struct {
	link
	prev  string // the token of the change before it
	keyID string
}

func (s *Store) readPage(ctx context.Context, after int64) ([]change, error) {
	rows, err := s.db.QueryContext(ctx, s.dialect.bind("SELECT seq, token, prev_token, key_id FROM apikey_changes WHERE seq > ? ORDER BY seq LIMIT ?"), after, pollPage)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var page []change
	for rows.Next() {
		var c change
		if err := rows.Scan(&c.seq, &c.token, &c.prev, &c.keyID); err != nil {
			return nil, err
		}
		page = append(page, c)
	}
	return page, rows.Err()
}

// follow applies the changes of a page, in order, skipping those applied
// from notifications, and moves the watcher's position to the last. It
// returns the first change that does not name the one before it: a change
// was lost to this process in between (a restore from a backup, a reset
// table, or changes pruned while it could not read them), and the caller
// purges the cache. A sequence number that was never used (a rollback, or
// the numbers PostgreSQL skips after a crash) leaves the chain whole.
func (w *watcher) follow(page []change) (broken *link) {
	w.mu.Lock()
	var apply []string
	for _, c := range page {
		if c.prev != w.at.token && broken == nil {
			broken = &c.link
		}
		if w.notified[c.seq] {
			delete(w.notified, c.seq)
		} else if c.keyID != "" { // "": a key created, in no cache yet
			apply = append(apply, c.keyID)
		}
		w.at = c.link
	}
	if broken != nil {
		clear(w.notified) // the purge covers them; their numbers may name other changes now
	}
	for seq := range w.notified {
		if seq <= w.at.seq {
			delete(w.notified, seq)
		}
	}
	w.mu.Unlock()
	for _, id := range apply {
		w.c.Invalidate(apikey.Invalidation{ID: id, Origin: apikey.OriginStore})
	}
	return broken
}

// lost logs why the cache is about to be purged.
func (w *watcher) lost(why string, at, seen link) {
	w.logger.Warn("sqlstore: changes were lost to this process ("+why+"); the cache is purged",
		"followed", at.seq, "found", seen.seq)
}

// restart purges the cache and follows the changes from head on.
func (w *watcher) restart(head link) {
	w.mu.Lock()
	w.at = head
	clear(w.notified)
	w.mu.Unlock()
	w.purge()
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
	// Logged once when the connection is lost and once when it is back,
	// not at every attempt: Watch has said so when conn is nil.
	down := conn == nil
	for {
		var err error
		if conn == nil {
			if conn, err = s.startListening(ctx); err == nil {
				if down {
					w.logger.Info("sqlstore: listening for changes again")
					down = false
				}
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
		if !down {
			w.logger.Warn("sqlstore: listening for changes failed; polling only until it reconnects", "error", err)
			down = true
		}
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
			w.notify(v, id)
		}
	}
}
