package sqlstore

import (
	"context"
	"database/sql"
	"sync"
	"time"
)

// maxQueuedUses bounds the last uses waiting for the writer: past it, uses
// are dropped (last_used_at is a hint, never worth memory without bound).
const maxQueuedUses = 100_000

// lastUsed queues the uses that Validate sees, at most one per key per
// interval, for the writer. Validate only takes a mutex: no write, no
// waiting on the database.
type lastUsed struct {
	interval time.Duration
	mu       sync.Mutex
	queued   map[string]time.Time // key ID → the use to write
	recent   map[string]time.Time // key ID → when its last use was queued
}

func newLastUsed(interval time.Duration) *lastUsed {
	return &lastUsed{interval: interval, queued: map[string]time.Time{}, recent: map[string]time.Time{}}
}

func (l *lastUsed) touch(id string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if t, ok := l.recent[id]; ok && now.Sub(t) < l.interval || len(l.queued) >= maxQueuedUses {
		return
	}
	l.recent[id] = now
	l.queued[id] = now
}

// take returns the queued uses and forgets the ones queued more than an
// interval before now.
func (l *lastUsed) take(now time.Time) map[string]time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	batch := l.queued
	l.queued = map[string]time.Time{}
	for id, t := range l.recent {
		if now.Sub(t) >= l.interval {
			delete(l.recent, id)
		}
	}
	return batch
}

// putBack queues again what a failed write did not record, unless a newer
// use has been queued since.
func (l *lastUsed) putBack(batch map[string]time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for id, t := range batch {
		if _, ok := l.queued[id]; !ok {
			l.queued[id] = t
		}
	}
}

// Flush writes the queued last uses now, in one transaction: one UPDATE per
// key, and none that would move a last use backwards. On failure the uses
// stay queued for the next try. The Store calls it every last-used interval
// and on Close.
func (s *Store) Flush(ctx context.Context) error {
	batch := s.used.take(s.set.now())
	if len(batch) == 0 {
		return nil
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, s.dialect.bind("UPDATE apikey_keys SET last_used_at = ? WHERE id = ? AND last_used_at < ?"))
		if err != nil {
			return err
		}
		defer stmt.Close()
		for id, t := range batch {
			if _, err := stmt.ExecContext(ctx, micros(t), id, micros(t)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.used.putBack(batch)
		return unavailable(err)
	}
	return nil
}

func (s *Store) writeLastUses(ctx context.Context) {
	defer s.done.Done()
	t := time.NewTicker(s.set.lastUsedEach)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fctx, cancel := context.WithTimeout(ctx, s.set.lastUsedEach)
			if err := s.Flush(fctx); err != nil && ctx.Err() == nil {
				s.set.logger.Warn("sqlstore: writing last uses failed; they stay queued", "error", err)
			}
			cancel()
		}
	}
}
