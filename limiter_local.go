package apikey

import (
	"context"
	"hash/maphash"
	"sync"
	"time"
)

// LocalLimiter is the Limiter that counts in this process: the default of
// New. It runs the generic cell rate algorithm (GCRA), the metering of a
// token bucket kept as one timestamp per bucket: a limit of Rate per Period
// with Burst lets Burst requests through at once, then one every
// Period/Rate. Buckets are spread over shards, each behind its own mutex;
// an idle bucket, being full, is forgotten, by the shard's own calls (no
// goroutine), so memory follows the buckets in use.
//
// Allow never allocates once a bucket exists, and reads the clock once per
// call. Build one with NewLocalLimiter; it is safe for concurrent use. The
// zero value is not usable. Behind a fleet of N processes, each counts its
// own requests: give each 1/N of the limits with WithLimiterShare.
type LocalLimiter struct {
	shards [localLimiterShards]limiterShard
	seed   maphash.Seed
	now    func() time.Time // nil: the real clock, read as time.Since(base)
	base   time.Time        // the clock's zero: buckets hold nanoseconds since
	share  float64
	// clockSet records WithLimiterClock, so that a nil clock is refused.
	clockSet bool
}

// localLimiterShards is a power of two, so that a shard is picked by mask.
const localLimiterShards = 64

type limiterShard struct {
	mu sync.Mutex
	// cells holds the buckets by the hash of their ID, the one hash a
	// charge computes (it also picks the shard): hashing a Bucket, four
	// strings, as a map[Bucket] key would, costs more than the rest of a
	// charge. Buckets whose IDs hash alike (the limits of one key, say)
	// share a chain.
	cells   map[uint64]*tatCell
	buckets int // the cells in all chains
	sweepAt int // sweep idle buckets when there are this many
	_       [32]byte
}

// tatCell is one bucket's state: its theoretical arrival time, in
// nanoseconds since the limiter's base.
type tatCell struct {
	bucket Bucket
	tat    int64
	next   *tatCell // the next bucket in the chain of the same hash
}

// find returns b's cell in the chain of hash h, or nil.
func (s *limiterShard) find(h uint64, b Bucket) *tatCell {
	for c := s.cells[h]; c != nil; c = c.next {
		if c.bucket == b {
			return c
		}
	}
	return nil
}

// LimiterOption configures NewLocalLimiter.
type LimiterOption func(*LocalLimiter)

// WithLimiterClock sets the clock the limiter reads, so that tests can
// move time instead of sleeping. Default: time.Now.
func WithLimiterClock(now func() time.Time) LimiterOption {
	return func(l *LocalLimiter) { l.now, l.clockSet = now, true }
}

// WithLimiterShare makes the limiter enforce a share of every limit, from
// 0 (exclusive) to 1: 1/N for each of N processes that should together
// keep a limit (a fallback while a shared store is down, say). A share
// never brings a rate or a burst below 1. Default: 1.
func WithLimiterShare(share float64) LimiterOption {
	return func(l *LocalLimiter) { l.share = share }
}

// NewLocalLimiter returns an in-process Limiter. A nil option, a nil clock
// or a share outside (0, 1] is an error matching ErrMisconfigured.
func NewLocalLimiter(opts ...LimiterOption) (*LocalLimiter, error) {
	l := &LocalLimiter{seed: maphash.MakeSeed(), share: 1}
	for i, opt := range opts {
		if opt == nil {
			return nil, configError("NewLocalLimiter", "option %d is nil", i)
		}
		opt(l)
	}
	switch {
	case l.clockSet && l.now == nil:
		return nil, configError("NewLocalLimiter", "the clock is nil")
	case !(l.share > 0 && l.share <= 1):
		return nil, configError("NewLocalLimiter", "the share must be above 0 and at most 1, not %g", l.share)
	}
	l.base = time.Now()
	if l.now != nil {
		l.base = l.now()
	}
	for i := range l.shards {
		l.shards[i].cells = make(map[uint64]*tatCell)
		l.shards[i].sweepAt = minSweep
	}
	return l, nil
}

// minSweep is the smallest shard that is swept for idle buckets.
const minSweep = 64

// Allow implements Limiter. A cost above a limit's burst, which could never
// pass, is an error matching ErrMisconfigured.
func (l *LocalLimiter) Allow(_ context.Context, key *Key, limits []Limit, cost int, decisions []Decision) error {
	for _, lim := range limits {
		if cost > lim.BurstOrDefault() {
			return configError("Limiter", "the cost %d exceeds the burst %d of limit %q, so no request could ever pass", cost, lim.BurstOrDefault(), lim.NameOrDefault())
		}
	}
	now := l.elapsed()
	for i, lim := range limits {
		if !l.take(BucketOf(key, lim), lim, cost, now, true, &decisions[i]) {
			// Give back what the limits before took, and report the rest
			// as they stand.
			for j := range i {
				l.give(BucketOf(key, limits[j]), limits[j], cost, now, &decisions[j])
			}
			for j := i + 1; j < len(limits); j++ {
				l.take(BucketOf(key, limits[j]), limits[j], cost, now, false, &decisions[j])
			}
			return nil
		}
	}
	return nil
}

// elapsed returns the time since base, in nanoseconds. The real clock is
// read as time.Since, which reads only the monotonic clock: half the cost
// of a time.Now.
func (l *LocalLimiter) elapsed() int64 {
	if l.now == nil {
		return int64(time.Since(l.base))
	}
	return int64(l.now().Sub(l.base))
}

// gcra returns a limit's emission interval (the time one request of cost
// 1 takes to come back) and its tolerance (the burst's worth of them), in
// nanoseconds, at the limiter's share.
func (l *LocalLimiter) gcra(lim Limit) (interval, tolerance int64) {
	rate, burst := lim.Rate, lim.BurstOrDefault()
	if l.share != 1 {
		rate = max(1, int(float64(rate)*l.share))
		burst = max(1, int(float64(burst)*l.share))
	}
	interval = max(1, int64(lim.Period)/int64(rate))
	return interval, interval * int64(burst)
}

// take charges cost to b if it has room and commit is set, and reports
// whether it had room.
func (l *LocalLimiter) take(b Bucket, lim Limit, cost int, now int64, commit bool, d *Decision) bool {
	interval, tolerance := l.gcra(lim)
	h := maphash.String(l.seed, b.ID)
	s := &l.shards[h&(localLimiterShards-1)]
	s.mu.Lock()
	c := s.find(h, b)
	tat := now
	if c != nil && c.tat > now {
		tat = c.tat
	}
	next := tat + int64(cost)*interval
	allowed := next-now <= tolerance
	if allowed && commit {
		if c == nil {
			if s.buckets >= s.sweepAt {
				s.sweep(now)
			}
			c = &tatCell{bucket: b, next: s.cells[h]}
			s.cells[h] = c
			s.buckets++
		}
		c.tat = next
	}
	s.mu.Unlock()
	if !allowed {
		*d = Decision{
			Remaining:  remaining(tolerance-(tat-now), interval),
			RetryAfter: time.Duration(next - now - tolerance),
			ResetAfter: time.Duration(tat - now),
		}
		return false
	}
	if !commit {
		next = tat
	}
	*d = Decision{Allowed: true, Remaining: remaining(tolerance-(next-now), interval), ResetAfter: time.Duration(next - now)}
	return true
}

// give takes back cost from b, which take charged at now, and records its
// state in d as if it had not been charged.
func (l *LocalLimiter) give(b Bucket, lim Limit, cost int, now int64, d *Decision) {
	interval, tolerance := l.gcra(lim)
	h := maphash.String(l.seed, b.ID)
	s := &l.shards[h&(localLimiterShards-1)]
	s.mu.Lock()
	tat := now
	if c := s.find(h, b); c != nil { // a sweep may have forgotten it meanwhile
		tat = max(c.tat-int64(cost)*interval, now)
		c.tat = tat
	}
	s.mu.Unlock()
	*d = Decision{Allowed: true, Remaining: remaining(tolerance-(tat-now), interval), ResetAfter: time.Duration(tat - now)}
}

// sweep forgets the buckets that are full again, which behave as if they
// had never been seen, and sets the size of the next sweep so that sweeps
// cost a constant per insertion.
func (s *limiterShard) sweep(now int64) {
	for h, c := range s.cells {
		var kept *tatCell
		link := &kept
		for ; c != nil; c = c.next {
			if c.tat > now {
				*link, link = c, &c.next
			} else {
				s.buckets--
			}
		}
		*link = nil
		if kept == nil {
			delete(s.cells, h)
		} else {
			s.cells[h] = kept
		}
	}
	s.sweepAt = max(minSweep, 2*s.buckets)
}

// remaining returns how many intervals fit in room, at least 0: a bucket
// whose limit was lowered may hold more than its new tolerance.
func remaining(room, interval int64) int {
	return int(max(0, room/interval))
}
