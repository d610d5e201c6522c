package apikey

import (
	"context"
	"hash/maphash"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// LocalLimiter is the Limiter that counts in this process: the default of
// New. It runs the generic cell rate algorithm (GCRA), the metering of a
// token bucket kept as one timestamp per bucket: a limit of Rate per Period
// with Burst lets Burst requests through at once, then one every
// Period/Rate. Buckets are spread over shards, each behind a mutex that
// guards finding and adding them; a bucket's timestamp itself moves by
// compare-and-swap, so that a Middleware charging a cached key whose
// buckets it found before takes no lock. An idle bucket, being full, is
// forgotten, by the shard's own calls (no goroutine), so memory follows
// the buckets in use.
//
// With the real clock, it reads a clock refreshed every 10 ms while it is
// in use, as a Cache does: a clock read costs more than the rest of a
// charge. It lets requests through on that clock, which lags the real one
// by a tick and its timer's lateness (about a millisecond, more in a
// starved process), so over any span a limit lets through at most that
// lag's worth of its rate more than it would on the real clock (one
// request for a limit of 100 per second), and a reset may be as long,
// never short. It refuses on the real clock: a charge
// the coarse clock refuses is decided again on the real one, so that a
// Retry-After is exact and a request retried when it says is never refused
// for the coarse clock's lag. WithLimiterClock makes it read the clock
// given instead, on every call.
//
// Allow never allocates once a bucket exists, for up to two limits. Build
// one with NewLocalLimiter; it is safe for concurrent use. The zero value
// is not usable. Behind a fleet of N processes, each counts its own
// requests: give each 1/N of the limits with WithLimiterShare.
type LocalLimiter struct {
	shards [localLimiterShards]limiterShard
	seed   maphash.Seed
	now    func() time.Time // WithLimiterClock's, or nil
	coarse *coarseClock     // the real clock, when now is nil
	base   time.Time        // the clock's zero: buckets hold nanoseconds since
	share  float64
	// clockSet records WithLimiterClock, so that a nil clock is refused.
	clockSet bool
}

// localLimiterShards is a power of two, so that a shard is picked by mask.
const localLimiterShards = 64

type limiterShard struct {
	mu sync.Mutex
	// cells holds the buckets by the hash of their ID, the one hash finding
	// a bucket computes (it also picks the shard): hashing a Bucket, four
	// strings, as a map[Bucket] key would, costs more than the rest of a
	// charge. Buckets whose IDs hash alike (the limits of one key, say)
	// share a chain.
	cells   map[uint64]*tatCell
	buckets int // the cells in all chains
	sweepAt int // sweep idle buckets when there are this many
	_       [32]byte
}

// tatCell is one bucket's state: its theoretical arrival time, in
// nanoseconds since the limiter's base, or cellSwept once a sweep forgot
// it, so that whoever still holds it finds the bucket anew.
type tatCell struct {
	bucket Bucket
	tat    atomic.Int64
	next   *tatCell // the next bucket in the chain of the same hash, under the shard's lock
}

// cellSwept is the arrival time of a cell that a sweep removed.
const cellSwept = math.MinInt64

// meter is a limit's GCRA at the limiter's share, in nanoseconds: the
// time one request of cost 1 takes to come back, and the burst's worth of
// them.
type meter struct {
	interval, tolerance int64
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

// WithLimiterClock sets the clock the limiter reads, on every call, so
// that tests can move time instead of sleeping. Default: the real clock,
// refreshed every 10 ms while in use.
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
	} else {
		base := l.base
		l.coarse = newCoarseClock(func() instant { return instant(time.Since(base)) })
	}
	for i := range l.shards {
		l.shards[i].cells = make(map[uint64]*tatCell)
		l.shards[i].sweepAt = minSweep
	}
	return l, nil
}

// minSweep is the smallest shard that is swept for idle buckets.
const minSweep = 64

// Allow implements Limiter. A cost above a limit's burst, or above the
// limiter's share of it (WithLimiterShare), which could never pass, is an
// error matching ErrMisconfigured.
func (l *LocalLimiter) Allow(_ context.Context, key *Key, limits []Limit, cost int, decisions []Decision) error {
	if err := l.checkCost(limits, cost); err != nil {
		return err
	}
	var meterRoom [2]meter
	var cellRoom [2]*tatCell
	meters, cells := meterRoom[:0], cellRoom[:0]
	for _, lim := range limits {
		meters = append(meters, l.meter(lim))
	}
	now := l.elapsed()
	for {
		cells = cells[:0]
		for _, lim := range limits {
			cells = append(cells, l.cell(BucketOf(key, lim), now))
		}
		if l.charge(cells, meters, cost, now, decisions) {
			return nil
		}
	}
}

// checkCost returns an error matching ErrMisconfigured if cost exceeds
// the burst of one of limits at the limiter's share, so that no request
// could ever pass.
func (l *LocalLimiter) checkCost(limits []Limit, cost int) error {
	for _, lim := range limits {
		burst := lim.BurstOrDefault()
		if cost <= burst && cost <= l.burst(lim) {
			continue
		}
		if cost > burst {
			return configError("Limiter", "the cost %d exceeds the burst %d of limit %q, so no request could ever pass", cost, burst, lim.NameOrDefault())
		}
		return configError("Limiter", "the cost %d exceeds this limiter's share %g of the burst %d of limit %q, so no request could pass here", cost, l.share, burst, lim.NameOrDefault())
	}
	return nil
}

// elapsed returns the time since base, in nanoseconds.
func (l *LocalLimiter) elapsed() int64 {
	if l.coarse != nil {
		return int64(l.coarse.load())
	}
	return int64(l.now().Sub(l.base))
}

// meter returns lim's GCRA at the limiter's share.
func (l *LocalLimiter) meter(lim Limit) meter {
	rate := lim.Rate
	if l.share != 1 {
		rate = max(1, int(float64(rate)*l.share))
	}
	interval := max(1, int64(lim.Period)/int64(rate))
	return meter{interval: interval, tolerance: interval * int64(l.burst(lim))}
}

// burst returns lim's burst at the limiter's share.
func (l *LocalLimiter) burst(lim Limit) int {
	if l.share == 1 {
		return lim.BurstOrDefault()
	}
	return max(1, int(float64(lim.BurstOrDefault())*l.share))
}

// cell returns b's cell, adding a full one if the limiter has none.
func (l *LocalLimiter) cell(b Bucket, now int64) *tatCell {
	h := maphash.String(l.seed, b.ID)
	s := &l.shards[h&(localLimiterShards-1)]
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.find(h, b); c != nil {
		return c
	}
	if s.buckets >= s.sweepAt {
		s.sweep(now)
	}
	c := &tatCell{bucket: b, next: s.cells[h]}
	c.tat.Store(now)
	s.cells[h] = c
	s.buckets++
	return c
}

// charge is chargeCells at now, the coarse clock's time unless
// WithLimiterClock set one. A refusal there is decided again on the real
// clock, which the coarse one lags by a tick and its timer's lateness: so
// that a Retry-After is exact, and a request retried when it says is not
// refused for the coarse clock's lag at that moment. Refusals alone read
// the real clock.
func (l *LocalLimiter) charge(cells []*tatCell, meters []meter, cost int, now int64, ds []Decision) bool {
	done, refused := chargeCells(cells, meters, cost, now, ds)
	if done && refused && l.coarse != nil {
		if real := int64(l.coarse.read()); real > now {
			done, _ = chargeCells(cells, meters, cost, real, ds)
		}
	}
	return done
}

// chargeCells charges cost to each of cells, metered by meters, all or
// nothing, at now, and writes a decision per cell into ds, reporting
// whether a limit refused it. If it finds a cell swept, it charges none
// and returns done false: the caller finds the cells anew.
func chargeCells(cells []*tatCell, meters []meter, cost int, now int64, ds []Decision) (done, refused bool) {
	for i, c := range cells {
		m := meters[i]
		tat, next, allowed := c.take(now, int64(cost)*m.interval, m.tolerance, true)
		switch {
		case tat == cellSwept:
			for j := range i {
				cells[j].give(now, int64(cost)*meters[j].interval)
			}
			return false, false
		case !allowed:
			ds[i] = refusedDecision(tat, next, now, m)
			// Give back what the limits before took, and report the rest
			// as they stand: each refuses too if it lacks room, so that the
			// longest RetryAfter is the one that lets the request pass.
			for j := range i {
				ds[j] = allowedDecision(cells[j].give(now, int64(cost)*meters[j].interval), now, meters[j])
			}
			for j := i + 1; j < len(cells); j++ {
				ds[j] = standingDecision(cells[j], now, cost, meters[j])
			}
			return true, true
		}
		ds[i] = allowedDecision(next, now, m)
	}
	return true, false
}

func allowedDecision(tat, now int64, m meter) Decision {
	return Decision{Allowed: true, Remaining: remaining(m.tolerance-(tat-now), m.interval), ResetAfter: time.Duration(tat - now)}
}

// refusedDecision is the decision of a limit whose arrival time tat (as
// of now) leaves no room for the charge that would bring it to next.
func refusedDecision(tat, next, now int64, m meter) Decision {
	return Decision{
		Remaining:  remaining(m.tolerance-(tat-now), m.interval),
		RetryAfter: time.Duration(next - now - m.tolerance),
		ResetAfter: time.Duration(tat - now),
	}
}

// standingDecision is the decision of cell c for a charge of cost that it
// is not given: whether the charge would fit, as the cell stands at now.
func standingDecision(c *tatCell, now int64, cost int, m meter) Decision {
	weight := int64(cost) * m.interval
	tat, next, allowed := c.take(now, weight, m.tolerance, false)
	if tat == cellSwept { // forgotten meanwhile, being full
		tat, next, allowed = now, now+weight, weight <= m.tolerance
	}
	if !allowed {
		return refusedDecision(tat, next, now, m)
	}
	return allowedDecision(tat, now, m)
}

// take returns the cell's arrival time as of now and the one after a
// charge of weight, and whether the charge fits within tolerance; if it
// fits and commit is set, it charges it. A swept cell's tat is cellSwept.
func (c *tatCell) take(now, weight, tolerance int64, commit bool) (tat, next int64, allowed bool) {
	for {
		old := c.tat.Load()
		if old == cellSwept {
			return cellSwept, 0, false
		}
		tat = max(old, now)
		next = tat + weight
		allowed = next-now <= tolerance
		if !allowed || !commit || c.tat.CompareAndSwap(old, next) {
			return tat, next, allowed
		}
	}
}

// give takes weight back from the cell, which take charged at now, and
// returns its arrival time after.
func (c *tatCell) give(now, weight int64) int64 {
	for {
		old := c.tat.Load()
		if old == cellSwept {
			return now
		}
		tat := max(old-weight, now)
		if c.tat.CompareAndSwap(old, tat) {
			return tat
		}
	}
}

// sweep forgets the buckets that are full again, which behave as if they
// had never been seen, and sets the size of the next sweep so that sweeps
// cost a constant per insertion. A cell charged meanwhile stays.
func (s *limiterShard) sweep(now int64) {
	for h, c := range s.cells {
		var kept *tatCell
		link := &kept
		for ; c != nil; c = c.next {
			if tat := c.tat.Load(); tat > now || !c.tat.CompareAndSwap(tat, cellSwept) {
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
