package apikey

import (
	"errors"
	"net/http"
	"strconv"
)

// Cost returns middleware that authenticates the request, as Handler does,
// and charges it cost (instead of 1, or what WithCost says) against its
// key's limits and quota: for an expensive route,
//
//	mux.Handle("POST /reports", auth.Cost(10)(reports))
//
// It panics when cost is below 1: a mistake in the program, caught when the
// route is built.
func (m *Middleware) Cost(cost int) func(http.Handler) http.Handler {
	if cost < 1 {
		panic("apikey: Cost needs a cost of at least 1, not " + strconv.Itoa(cost))
	}
	return func(next http.Handler) http.Handler { return m.handler(next, next, false, cost, nil) }
}

// limitedContext is the request context of a key with limits or a quota:
// the context, the event to report and the room for the RateLimit fields, in
// the one allocation every authenticated request makes. quietContext is
// the same without the event, for a middleware without Hooks.Request: a
// smaller allocation.
type limitedContext struct {
	reportingContext
	scratch limitScratch
}

type quietContext struct {
	authContext
	scratch limitScratch
}

// serveLimited charges an authenticated request against its key's limits
// and quota, sets the RateLimit fields, and serves it or refuses it (429).
func (m *Middleware) serveLimited(w http.ResponseWriter, r *http.Request, next http.Handler, key *Key, e *decision, cost int) {
	if m.hooks.Request == nil {
		qc := &quietContext{authContext: authContext{Context: r.Context(), key: key, responder: m.responder}}
		if err := m.charge(w, r, key, cost, &qc.scratch, e.entry); err != nil {
			m.responder.fail(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(&qc.authContext))
		return
	}
	lc := &limitedContext{}
	lc.authContext = authContext{Context: r.Context(), key: key, responder: m.responder.reporter(e.Answer)}
	if err := m.charge(w, r, key, cost, &lc.scratch, e.entry); err != nil {
		e.Request, e.Outcome, e.Key, e.Err = r, OutcomeOf(err), key, err
		m.hooks.Request(e.RequestEvent)
		m.responder.fail(w, r, err)
		return
	}
	m.serveReporting(w, r, next, &lc.reportingContext, e)
}

// charge charges the request against key's limits, then, if they all had
// room, its quota, and sets the RateLimit fields on w. It returns a
// *LimitError for a refusal, or an error for a limit, a quota or a cost
// that cannot be counted: never is the request let through uncounted.
// hit is the key's cache entry, if the request was a hit.
func (m *Middleware) charge(w http.ResponseWriter, r *http.Request, key *Key, cost int, s *limitScratch, hit *entry) error {
	limits := key.Limits
	if m.limitPolicy != nil {
		limits = m.limitPolicy(key)
		if len(limits) == 0 && key.Quota == nil {
			return nil
		}
	}
	if cost == 0 {
		cost = 1
		if m.cost != nil {
			cost = m.cost(r)
		}
	}
	if cost < 1 {
		return configError("Middleware", "WithCost gave a cost of %d; it must be at least 1", cost)
	}
	ctx := r.Context()
	var room [2]Decision
	var decisions []Decision
	var plan *limitPlan
	var refusedBy *LimitError
	if len(limits) > 0 {
		var err error
		if decisions, plan, err = m.decide(r, key, limits, cost, hit, room[:]); err != nil {
			return countError(err)
		}
		for i, d := range decisions {
			switch {
			case d.Allowed:
			case refusedBy == nil:
				refusedBy = &LimitError{Limit: limits[i].NameOrDefault(), RetryAfter: d.RetryAfter}
			default:
				refusedBy.RetryAfter = max(refusedBy.RetryAfter, d.RetryAfter)
			}
		}
	}
	var quota *QuotaDecision
	var qd QuotaDecision
	if refusedBy == nil && key.Quota != nil {
		if m.quotas == nil {
			return configError("Middleware", "key %q has a quota, but no QuotaStore keeps its count (WithQuotas)", key.ID)
		}
		var err error
		if qd, err = m.quotas.Spend(ctx, key, int64(cost)); err != nil {
			return countError(err)
		}
		quota = &qd
		if !qd.Allowed {
			refusedBy = &LimitError{Limit: QuotaName, RetryAfter: qd.RefillAfter, Quota: true}
			if qd.Interval > 0 && int64(cost) > qd.Limit {
				// A refill tops up to Limit: never enough for this cost, so
				// no Retry-After promises that waiting will do.
				refusedBy.RetryAfter = 0
			}
		}
	}
	if plan != nil && quota == nil {
		plan.setFields(w.Header(), decisions, s)
	} else {
		setRateLimitFields(w.Header(), limits, decisions, quota, s)
	}
	if refusedBy != nil {
		return refusedBy
	}
	return nil
}

// decide charges cost to key's limits, returning a decision per limit, in
// room when they fit, and the plan it charged through, if any: the
// default limiter charges a cache hit through the entry's plan, and is
// called as what it is otherwise, so that its answers can stay on the
// caller's stack (through the interface, they would need the heap).
//
// An entry whose plan another middleware's limiter made (a shared Cache)
// is charged as a miss is: replacing the plan would make one on every
// request that alternates between the two middlewares.
func (m *Middleware) decide(r *http.Request, key *Key, limits []Limit, cost int, hit *entry, room []Decision) ([]Decision, *limitPlan, error) {
	if m.local != nil && len(limits) <= len(room) {
		ds := room[:len(limits)]
		if hit != nil {
			if p := hit.plan.Load(); p == nil || p.limiter == m.local {
				plan, err := m.local.chargePlanned(hit, key, limits, cost, ds)
				return ds, plan, err
			}
		}
		if err := validateLimits(limits); err != nil {
			return nil, nil, err
		}
		return ds, nil, m.local.Allow(r.Context(), key, limits, cost, ds)
	}
	if err := validateLimits(limits); err != nil {
		return nil, nil, err
	}
	ds := make([]Decision, len(limits))
	return ds, nil, m.limiter.Allow(r.Context(), key, limits, cost, ds)
}

// validateLimits returns the error of the first invalid one of limits: a
// policy's answer is checked nowhere else.
func validateLimits(limits []Limit) error {
	for _, l := range limits {
		if err := l.Validate(); err != nil {
			return err
		}
	}
	return nil
}

// countError turns the error of a limiter or a quota store into one the
// middleware answers: a misconfiguration or an invalid key as it is,
// anything else as unavailable (503), never as a reason to let the
// request through.
func countError(err error) error {
	switch OutcomeOf(err) {
	case OutcomeError, OutcomeInvalid:
		return err
	}
	if errors.Is(err, ErrUnavailable) {
		return err
	}
	return &UnavailableError{Err: err}
}
