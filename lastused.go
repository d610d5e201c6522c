package apikey

import (
	"iter"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// DefaultLastUsedSize is the number of key IDs a LastUsed built with size 0
// remembers.
const DefaultLastUsedSize = 100_000

// lastUsedResolution is how stale a recorded time may be: a key used
// continuously is written at most once per resolution, so that its
// requests do not all contend for the LRU's lock.
const lastUsedResolution = time.Second

// LastUsed remembers, in this process, when each key was last seen
// authenticating a request, to the second. Give its Hooks to New.
//
// Behind a Cache, a store's own "last used" time (WorkOS's last_used_at, a
// Key's LastUsedAt) moves only when the cache misses: at most once per
// cache TTL per key and per process, and not at all while the key is served
// from the cache. LastUsed is the local record of every request instead;
// read it with Get or All, to export it or to write it to your store in
// batches, off the request path. It counts only requests this process
// authenticated: a fleet's last use is the latest of its processes'.
//
// It holds at most size key IDs, forgetting the least recently used first,
// in about 150 bytes each. It is safe for concurrent use and runs no
// goroutine. Its zero value is not usable: build one with NewLastUsed.
type LastUsed struct {
	ids *lru.Cache[string, *atomic.Int64] // unix nanoseconds
	now func() time.Time
}

// NewLastUsed returns a LastUsed that remembers up to size key IDs; 0
// means DefaultLastUsedSize. A negative size is an error matching
// ErrMisconfigured.
func NewLastUsed(size int) (*LastUsed, error) {
	if size == 0 {
		size = DefaultLastUsedSize
	}
	if size < 0 {
		return nil, configError("NewLastUsed", "the size must not be negative, not %d", size)
	}
	ids, err := lru.New[string, *atomic.Int64](size)
	if err != nil {
		return nil, configError("NewLastUsed", "%v", err)
	}
	return &LastUsed{ids: ids, now: time.Now}, nil
}

// Hooks returns the hook that records each authenticated request's key.
func (l *LastUsed) Hooks() Hooks {
	return Hooks{Request: func(e RequestEvent) {
		if e.Outcome == OutcomeAuthenticated && e.Key != nil {
			l.Record(e.Key.ID, l.now())
		}
	}}
}

// Record notes that the key with this ID was used at t, unless a later
// time, or one less than a second earlier, is already noted.
func (l *LastUsed) Record(id string, t time.Time) {
	ns := t.UnixNano()
	if last, ok := l.ids.Peek(id); ok {
		prev := last.Load()
		if ns-prev < int64(lastUsedResolution) {
			return
		}
		if last.CompareAndSwap(prev, ns) {
			l.ids.Get(id) // to the LRU's front
		}
		return
	}
	v := new(atomic.Int64)
	v.Store(ns)
	if prev, ok, _ := l.ids.PeekOrAdd(id, v); ok {
		// Another request added it first: keep the later time.
		for old := prev.Load(); old < ns && !prev.CompareAndSwap(old, ns); old = prev.Load() {
		}
	}
}

// Get returns when the key with this ID was last seen, and false if it was
// not seen or has been forgotten.
func (l *LastUsed) Get(id string) (time.Time, bool) {
	v, ok := l.ids.Peek(id)
	if !ok {
		return time.Time{}, false
	}
	return time.Unix(0, v.Load()), true
}

// All returns every key ID remembered and when it was last seen, from the
// least to the most recently used. It reads a snapshot of the IDs:
// requests recorded meanwhile may or may not show.
func (l *LastUsed) All() iter.Seq2[string, time.Time] {
	return func(yield func(string, time.Time) bool) {
		for _, id := range l.ids.Keys() {
			if t, ok := l.Get(id); ok && !yield(id, t) {
				return
			}
		}
	}
}

// Len returns the number of key IDs remembered.
func (l *LastUsed) Len() int { return l.ids.Len() }
