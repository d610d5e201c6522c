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
	// outcome counts each request once, provided every guard returns
	// before the middleware's next handler does, as net/http requires of
	// anything that writes the response (a guard on another goroutine that
	// the handler waits for is fine): a guard that runs after the next
	// handler returned reports the request again, after the middleware
	// reported it as authenticated. A request whose next handler panics
	// (http.ErrAbortHandler from a proxy whose client went away, say) is
	// not reported, unless a guard refused it first: catching the panic
	// would cost every request a deferred call: 3–4 % of a hit with the
	// Prometheus hooks, measured.
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
			held := rc.markReported() // the middleware reports it no more
			e.Answer = held.answer
			if held.digestOf != nil && held.answer != "" {
				e.Digest = held.digestOf(r, key)
			}
		}
		rs.request(e)
	}
	rs.fail(w, r, err)
}

// reportTo gives rs the middleware's Hooks.Request, and the reporters a
// reportingContext holds instead of rs: one per answer, each with its
// reported twin, so that the context holds no answer, digest or flag of
// its own. digestOf reads the key value of a request a guard refuses
// again, for the guard's report.
//
// The scheme, 2 × len(answers) responders made once per middleware:
//   - a reportingContext's responder is, from when it is built, the
//     reporter for the request's answer; a guard that reports the request
//     swaps it for that reporter's twin (markReported), and nothing swaps
//     it back (the twin's twin is itself). So the middleware, which kept
//     the reporter, knows after next returns whether a guard reported the
//     request by comparing one pointer, loaded atomically.
//   - Every reporter and twin answers as rs does (same realm and error
//     handler; self returns rs), so WriteError and the guards behind see
//     the middleware's responses whichever they find.
//   - markReported is a load and a store, not a compare-and-swap: two
//     guards that refuse the same request at once both report, as two
//     guards refusing one after the other do; only the middleware's own
//     report depends on the swap.
//
// Why not an answer, a digest pointer and a flag in the context: they make
// it 48 B instead of 32 (the size class of a bare authContext) and its
// fields are filled on every request. Measured against this scheme, binaries
// in turn (BenchmarkHitPathRatio, -test.cpu 1, 6 rounds): Prometheus ÷
// none 1.051–1.059 with those fields and an atomic load of the flag,
// 1.047–1.050 with this one: the goal is 1.05 (BENCHMARKS.md).
func (rs *responder) reportTo(request func(RequestEvent), digestOf func(*http.Request, *Key) Digest) {
	rs.request = request
	if request == nil {
		return
	}
	rs.reporters = new([len(answers)]*responder)
	for i, a := range answers {
		reporter := &responder{realm: rs.realm, handler: rs.handler, request: request, origin: rs, answer: a, digestOf: digestOf}
		twin := *reporter
		twin.reported = &twin
		reporter.reported = &twin
		rs.reporters[i] = reporter
	}
}

// requestDigest returns, for a guard's report, the digest of key's value,
// which the context does not keep (it would make it larger): that of the
// value m's extractor reads from r again, provided m's cache holds key
// under it; zero otherwise. A handler between the middleware and the guard
// may have changed what the extractor reads (put an upstream's credential
// in the Authorization header, say), and a digest of that would attribute
// the refusal to another value. So zero too without a cache, where nothing
// tells, and when the entry has gone meanwhile; the extractor is not even
// called then.
func (m *Middleware) requestDigest(r *http.Request, key *Key) Digest {
	if m.cache == nil || key == nil {
		return Digest{}
	}
	value, err := m.extract(r) // a user's extractor is recovered (recoverExtract)
	if err != nil || value == "" {
		return Digest{}
	}
	d := DigestOf(value)
	// The same *Key, or one the validator gave again for the same ID (the
	// entry revalidated after its TTL).
	if e := m.cache.positiveShard(d).peek(d); e == nil || e.key != key && (key.ID == "" || e.key.ID != key.ID) {
		return Digest{}
	}
	return d
}

// reporter returns the reporter for answer a.
func (rs *responder) reporter(a Answer) *responder {
	if a == AnswerHit { // most requests: no search
		return rs.reporters[1]
	}
	return rs.reporters[answerIndex(a)]
}
