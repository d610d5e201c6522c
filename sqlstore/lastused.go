package sqlstore

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apikeyauth/apikey"
)

// maxQueuedUses bounds the last uses waiting for the writer: past it, uses
// are dropped (last_used_at is a hint, never worth memory without bound).
const maxQueuedUses = 100_000

// lastUsed queues the uses that Validate and the request hook see, at most
// one per key per interval, for the writer. A key already queued within the
// interval costs one lock-free map read: no write, no waiting on the
// database, no lock shared by every request.
type lastUsed struct {
	interval time.Duration
	recent   sync.Map // key ID → *atomic.Int64, when its last use was queued (unix ns)

	mu     sync.Mutex
	queued map[string]time.Time // key ID → the use to write
}

func newLastUsed(interval time.Duration) *lastUsed {
	return &lastUsed{interval: interval, queued: map[string]time.Time{}}
}

func (l *lastUsed) touch(id string, now time.Time) {
	if v, ok := l.recent.Load(id); ok && now.Sub(time.Unix(0, v.(*atomic.Int64).Load())) < l.interval {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	v, _ := l.recent.LoadOrStore(id, new(atomic.Int64))
	last := v.(*atomic.Int64)
	if now.Sub(time.Unix(0, last.Load())) < l.interval || len(l.queued) >= maxQueuedUses {
		return // queued meanwhile, or the queue is full
	}
	last.Store(now.UnixNano())
	l.queued[id] = now
}

// take returns the queued uses and forgets the ones queued more than an
// interval before now.
func (l *lastUsed) take(now time.Time) map[string]time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	batch := l.queued
	l.queued = map[string]time.Time{}
	l.recent.Range(func(id, v any) bool {
		if now.Sub(time.Unix(0, v.(*atomic.Int64).Load())) >= l.interval {
			l.recent.Delete(id)
		}
		return true
	})
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

// Hooks returns the hook that records, as a use, every request the
// middleware authenticates, cache hits included: without it the store
// sees only cache misses. Give it to apikey.New with apikey.WithHooks. It
// costs a map read per request.
func (s *Store) Hooks() apikey.Hooks {
	return apikey.Hooks{Request: func(e apikey.RequestEvent) {
		if e.Outcome == apikey.OutcomeAuthenticated && e.Key != nil {
			s.used.touch(e.Key.ID, s.set.now())
		}
	}}
}

func (s *Store) writeLastUses(ctx context.Context) {
	s.every(ctx, s.set.lastUsedEach, func() {
		fctx, cancel := context.WithTimeout(ctx, s.set.lastUsedEach)
		defer cancel()
		if err := s.Flush(fctx); err != nil && ctx.Err() == nil {
			s.set.logger.Warn("sqlstore: writing last uses failed; they stay queued", "error", err)
		}
	})
}
