package apikey

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"golang.org/x/time/rate"
)

// knownFor is how long a key validated as valid counts as known.
const knownFor = 24 * time.Hour

// errOverBudget is the answer to a miss that the budget refuses: 503, and
// never a call upstream.
var errOverBudget = &UnavailableError{RetryAfter: time.Second, Err: errors.New("the upstream budget is spent")}

// budget bounds the validator calls a Cache makes: per second (a token
// bucket) and at once (a count of calls in flight). Part of both is kept
// for known keys, those validated as valid in the last 24 hours, so that a
// flood of keys never seen cannot starve the customers whose entries expire
// during it.
type budget struct {
	general, reserved *rate.Limiter // nil: no bound per second

	maxInFlight     int64 // for known keys
	generalInFlight int64 // for the others
	inFlight        atomic.Int64

	known   knownKeys
	refused atomic.Uint64
}

func newBudget(s *settings) *budget {
	b := &budget{
		maxInFlight:     int64(s.maxInFlight),
		generalInFlight: max(1, int64(float64(s.maxInFlight)*(1-s.reserve))),
	}
	b.known.init(2 * s.size)
	if s.rate > 0 {
		// Each share's burst is at least one, or a small budget would
		// leave known keys, or the others, no way in at all.
		reservedBurst := int(float64(s.burst) * s.reserve)
		if s.reserve > 0 {
			reservedBurst = max(1, reservedBurst)
		}
		b.reserved = rate.NewLimiter(rate.Limit(s.rate*s.reserve), reservedBurst)
		b.general = rate.NewLimiter(rate.Limit(s.rate*(1-s.reserve)), max(1, s.burst-reservedBurst))
	}
	return b
}

// take reserves one validator call for the key with digest d, or says why
// not. A call taken must be given back with release when it returns.
func (b *budget) take(d Digest, now instant, wall time.Time) error {
	known := b.known.has(d, now)
	limit := b.generalInFlight
	if known {
		limit = b.maxInFlight
	}
	if b.inFlight.Add(1) > limit {
		b.inFlight.Add(-1)
		b.refused.Add(1)
		return errOverBudget
	}
	if b.general != nil && !(known && b.reserved.AllowN(wall, 1)) && !b.general.AllowN(wall, 1) {
		b.inFlight.Add(-1)
		b.refused.Add(1)
		return errOverBudget
	}
	return nil
}

func (b *budget) release() { b.inFlight.Add(-1) }

// knownKeys remembers the digests of keys validated as valid, and when, in
// a bounded LRU: memory stays bounded however many keys come and go.
type knownKeys struct {
	mu  sync.Mutex
	lru *simplelru.LRU[Digest, instant]
}

func (k *knownKeys) init(size int) {
	lru, err := simplelru.NewLRU[Digest, instant](size, nil)
	if err != nil {
		panic(err) // unreachable: the size is positive
	}
	k.lru = lru
}

func (k *knownKeys) remember(d Digest, now instant) {
	k.mu.Lock()
	k.lru.Add(d, now)
	k.mu.Unlock()
}

func (k *knownKeys) forget(d Digest) {
	k.mu.Lock()
	k.lru.Remove(d)
	k.mu.Unlock()
}

func (k *knownKeys) has(d Digest, now instant) bool {
	k.mu.Lock()
	at, ok := k.lru.Peek(d)
	k.mu.Unlock()
	return ok && now-at < instant(knownFor)
}
