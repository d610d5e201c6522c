package apikey

import (
	"math"
	"net/http"
	"slices"
	"strconv"
)

// limitPlan is how a LocalLimiter charges one cached key: the key's limits
// checked, their buckets found and their meters worked out once, and the
// RateLimit-Policy field formatted once. The key's cache entry keeps it
// (entry.plan), so that a hit on a limited key charges its buckets with no
// lock, no hashing and no formatting but the RateLimit field's. It never
// changes once made: a plan that no longer fits is replaced whole.
type limitPlan struct {
	limiter *LocalLimiter
	limits  []Limit // a copy of the limits it was made for, the key's or a policy's
	cells   []*tatCell
	meters  []meter
	burst   int      // the smallest of the limits' bursts at the limiter's share: no greater cost can pass
	policy  string   // the RateLimit-Policy field
	names   []string // each limit's start in the RateLimit field: "name";r=
}

// chargePlanned is Allow for the key of the cache entry ent, through the
// entry's plan, which it makes first when the entry has none, or one made
// by another limiter or for other limits (a policy's answer may change),
// or one holding a bucket that a sweep has forgotten since.
func (l *LocalLimiter) chargePlanned(ent *entry, key *Key, limits []Limit, cost int, ds []Decision) (*limitPlan, error) {
	p := ent.plan.Load()
	for {
		if p == nil || p.limiter != l || !slices.Equal(p.limits, limits) {
			var err error
			if p, err = l.newPlan(key, limits); err != nil {
				return nil, err
			}
			ent.plan.Store(p)
		}
		if cost > p.burst {
			return nil, l.checkCost(limits, cost) // not nil: p.burst is the least burst
		}
		if l.charge(p.cells, p.meters, cost, l.elapsed(), ds) {
			return p, nil
		}
		p = nil
	}
}

// newPlan makes the plan of key's limits, or returns the error of the
// first invalid one.
func (l *LocalLimiter) newPlan(key *Key, limits []Limit) (*limitPlan, error) {
	if err := validateLimits(limits); err != nil {
		return nil, err
	}
	p := &limitPlan{
		limiter: l,
		limits:  slices.Clone(limits),
		cells:   make([]*tatCell, len(limits)),
		meters:  make([]meter, len(limits)),
		burst:   math.MaxInt,
		policy:  string(appendPolicy(nil, limits, nil)),
		names:   make([]string, len(limits)),
	}
	now := l.elapsed()
	for i, lim := range limits {
		p.cells[i], p.meters[i] = l.cell(BucketOf(key, lim), now), l.meter(lim)
		p.burst = min(p.burst, l.burst(lim))
		p.names[i] = `"` + lim.NameOrDefault() + `";r=`
	}
	return p, nil
}

// setFields sets the RateLimit fields for the decisions ds of the plan's
// limits, as setRateLimitFields does, writing only what changes from one
// request to the next, into s. It writes RateLimit's items as appendState
// does, from each limit's start made once: calling appendState instead
// measured 9 ns more on every limited hit (96 → 105 ns over an unlimited
// one, BenchmarkHitPathLimitedCost, binaries in turn), a tenth of it.
func (p *limitPlan) setFields(h http.Header, ds []Decision, s *limitScratch) {
	b := s.buf[:0]
	for i, d := range ds {
		if i > 0 {
			b = append(b, ", "...)
		}
		t := d.ResetAfter
		if !d.Allowed {
			t = d.RetryAfter
		}
		b = append(b, p.names[i]...)
		b = strconv.AppendInt(b, sfInteger(int64(d.Remaining)), 10)
		b = append(b, ";t="...)
		b = strconv.AppendInt(b, sfInteger(ceilSeconds(t)), 10)
	}
	setFields(h, p.policy, bytesString(b), s)
}
