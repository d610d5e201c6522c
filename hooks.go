package apikey

import "net/http"

// Hooks are callbacks that observe what a Middleware and its Cache do, for
// metrics, audit logs and propagating invalidations to other processes.
// Give them with WithHooks. A nil field costs nothing: the request path
// builds no event for it. Hooks run on the request's goroutine, or on the
// goroutine that made the change: they must be fast, safe for concurrent
// use, and must not call back into the Cache that called them. The zero
// value observes nothing.
type Hooks struct {
	// Request is called once for every request a Middleware decides, with
	// its final outcome: for a refusal, before the refusal is written; for
	// a request the middleware let through, after the next handler
	// returns, as OutcomeAuthenticated, or with the outcome of the refusal
	// when a permission guard behind the middleware refused it (the guard
	// reports it, before writing its refusal). So a counter of events by
	// outcome counts each request once.
	Request func(RequestEvent)

	// Validation is called after each validator call, by the Cache that
	// made it (once however many requests waited for it), or by a
	// Middleware without a cache.
	Validation func(ValidationEvent)

	// Invalidation is called for every invalidation a Cache applies, after
	// it took effect, with its Origin (never empty: OriginLocal by default). An adapter that shares invalidations
	// with other processes publishes those whose Origin is not
	// OriginReplica, and applies what it receives with OriginReplica, so
	// that nothing is sent around twice.
	Invalidation func(Invalidation)
}

// then returns hooks that call h's and then next's.
func (h Hooks) then(next Hooks) Hooks {
	h.Request = chain(h.Request, next.Request)
	h.Validation = chain(h.Validation, next.Validation)
	h.Invalidation = chain(h.Invalidation, next.Invalidation)
	return h
}

// chain returns a func that calls a and then b, or whichever is not nil.
func chain[T any](a, b func(T)) func(T) {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	return func(v T) { a(v); b(v) }
}

// refuse reports a guard's refusal of the request to the middleware's
// Hooks.Request, if it has one, and answers it.
func (rs *responder) refuse(w http.ResponseWriter, r *http.Request, key *Key, err error) {
	if rs.request != nil {
		e := RequestEvent{Request: r, Outcome: OutcomeOf(err), Key: key, Err: err}
		if rc, _ := r.Context().Value(reportKey{}).(*reportingContext); rc != nil {
			rc.claim(&e) // the middleware reports it no more
		}
		rs.request(e)
	}
	rs.fail(w, r, err)
}
