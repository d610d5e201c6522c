package redisfleet

import (
	"sync"
	"sync/atomic"
)

// Stats is what a Fleet has done since New, and the state of its reader.
type Stats struct {
	// Connected reports whether the reader's last call to Redis succeeded.
	Connected bool
	// LastID is the ID of the last stream entry the reader went past; empty
	// before it first reached Redis.
	LastID string
	// Received counts the other replicas' invalidations applied here.
	Received uint64
	// Purges counts the local cache's purges because Redis could not show
	// that no invalidation was missed: the reader was away longer than the
	// stream keeps, or Redis lost the fleet's state (a flush, a restart).
	Purges uint64
	// Published counts the invalidations published.
	Published uint64
	// PublishErrors counts failed attempts to publish, each retried.
	PublishErrors uint64
	// Dropped counts invalidations never published: retried for longer than
	// WithRetryFor, overflowing the queue, or left unpublished by Close (for
	// the last two, a purge is published in their place).
	Dropped uint64
	// Unconfirmed counts invalidations given up like Dropped's, but after
	// an attempt that timed out: Redis may have taken them without
	// answering, as a stopped Redis does once it resumes.
	Unconfirmed uint64

	// SharedHits and SharedMisses count the shared cache's answers.
	SharedHits, SharedMisses uint64
	// SharedWaits counts validations that waited for another replica's.
	SharedWaits uint64
	// SharedStored counts keys written to the shared cache, SharedRefused
	// writes refused because the key was invalidated meanwhile.
	SharedStored, SharedRefused uint64
	// SharedCleared counts the store's invalidations removed from the
	// shared cache, which are not published.
	SharedCleared uint64
	// SharedErrors counts shared-cache calls that failed or timed out; the
	// validations they were part of went on upstream.
	SharedErrors uint64
	// SharedRejected counts shared entries refused because their MAC
	// (WithSharedSecret) was missing or wrong, because they outlived the
	// expiry they were written with, or because their key was invalidated
	// after they were validated: someone wrote to the fleet's keys, or wrote
	// back what they had read. The validations went on upstream.
	SharedRejected uint64
}

// stats holds a Fleet's counters.
type stats struct {
	received, purges, published, publishErrors, dropped, unconfirmed atomic.Uint64
	sharedHits, sharedMisses, sharedWaits                            atomic.Uint64
	sharedStored, sharedRefused, sharedErrors                        atomic.Uint64
	sharedCleared, sharedRejected                                    atomic.Uint64

	mu        sync.Mutex
	connected bool
	known     bool // connected was set once
	lastID    string
}

// Stats returns the Fleet's counters and state.
func (f *Fleet) Stats() Stats {
	st := &f.st
	st.mu.Lock()
	connected, lastID := st.connected, st.lastID
	st.mu.Unlock()
	return Stats{
		Connected: connected, LastID: lastID,
		Received: st.received.Load(), Purges: st.purges.Load(),
		Published: st.published.Load(), PublishErrors: st.publishErrors.Load(), Dropped: st.dropped.Load(),
		Unconfirmed: st.unconfirmed.Load(),
		SharedHits:  st.sharedHits.Load(), SharedMisses: st.sharedMisses.Load(), SharedWaits: st.sharedWaits.Load(),
		SharedStored: st.sharedStored.Load(), SharedRefused: st.sharedRefused.Load(),
		SharedCleared: st.sharedCleared.Load(), SharedErrors: st.sharedErrors.Load(),
		SharedRejected: st.sharedRejected.Load(),
	}
}
