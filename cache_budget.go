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
// for known keys, so that a flood of keys never seen cannot starve the
// customers whose entries expire during it. A key is known while the
// cache holds its entry, expired or not, for up to 24 hours after it was
// validated; with a bound per second, also while known remembers it (up to
// twice the cache size of keys validated within 24 hours), so that the
// reserve holds for keys the cache had to evict.
type budget struct {
	general, reserved *rate.Limiter // nil: no bound per second

	maxInFlight     int64 // for known keys
	generalInFlight int64 // for the others
	inFlight        atomic.Int64

	known   *knownKeys // nil without a bound per second or a reserve
	refused atomic.Uint64

	// lending makes a loan from the reserve one step: otherwise two keys
	// could both see one token more than there are known keys, and both
	// take one, leaving known keys short.
	lending sync.Mutex
}

func newBudget(s *settings) *budget {
	b := &budget{
		maxInFlight:     int64(s.maxInFlight),
		generalInFlight: max(1, int64(float64(s.maxInFlight)*(1-s.reserve))),
	}
	if s.rate > 0 {
		// Each share's burst is at least one, or a small budget would
		// leave known keys, or the others, no way in at all.
		reservedBurst := int(float64(s.burst) * s.reserve)
		if s.reserve > 0 {
			reservedBurst = max(1, reservedBurst)
			b.known = newKnownKeys(2 * s.size)
		}
		b.reserved = rate.NewLimiter(rate.Limit(s.rate*s.reserve), reservedBurst)
		b.general = rate.NewLimiter(rate.Limit(s.rate*(1-s.reserve)), max(1, s.burst-reservedBurst))
	}
	return b
}

// take reserves one validator call for a key, known or not, or says why
// not. A call taken must be given back with release when it returns.
func (b *budget) take(known bool, wall time.Time) error {
	limit := b.generalInFlight
	if known {
		limit = b.maxInFlight
	}
	if b.inFlight.Add(1) > limit {
		b.inFlight.Add(-1)
		b.refused.Add(1)
		return errOverBudget
	}
	if b.general != nil && !b.allow(known, wall) {
		b.inFlight.Add(-1)
		b.refused.Add(1)
		return errOverBudget
	}
	return nil
}

// allow takes a token for a known key from the reserve, or else from the
// general share; for another key from the general share, or else from the
// reserve while it holds more tokens than there are known keys to use
// them: a cache warming up, with no key known yet, may use the whole
// burst.
func (b *budget) allow(known bool, wall time.Time) bool {
	if known {
		return b.reserved.AllowN(wall, 1) || b.general.AllowN(wall, 1)
	}
	return b.general.AllowN(wall, 1) || b.lend(wall)
}

// lend takes a token from the reserve for a key not known, while the
// reserve holds more tokens than there are known keys.
func (b *budget) lend(wall time.Time) bool {
	b.lending.Lock()
	defer b.lending.Unlock()
	return b.reserved.TokensAt(wall) >= float64(b.known.len()+1) && b.reserved.AllowN(wall, 1)
}

func (b *budget) release() { b.inFlight.Add(-1) }

// knownKeys remembers the digests of keys validated as valid, and when, in
// a bounded LRU: memory stays bounded however many keys come and go.
// A nil *knownKeys remembers nothing.
type knownKeys struct {
	mu  sync.Mutex
	lru *simplelru.LRU[Digest, instant]
}

func newKnownKeys(size int) *knownKeys {
	lru, err := simplelru.NewLRU[Digest, instant](size, nil)
	if err != nil {
		panic(err) // unreachable: the size is positive
	}
	return &knownKeys{lru: lru}
}

func (k *knownKeys) remember(d Digest, now instant) {
	if k == nil {
		return
	}
	k.mu.Lock()
	k.lru.Add(d, now)
	k.mu.Unlock()
}

func (k *knownKeys) forget(d Digest) {
	if k == nil {
		return
	}
	k.mu.Lock()
	k.lru.Remove(d)
	k.mu.Unlock()
}

func (k *knownKeys) has(d Digest, now instant) bool {
	if k == nil {
		return false
	}
	k.mu.Lock()
	at, ok := k.lru.Peek(d)
	k.mu.Unlock()
	return ok && now-at < instant(knownFor)
}

func (k *knownKeys) len() int {
	if k == nil {
		return 0
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.lru.Len()
}
