package apikey

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apikeyauth/apikey/internal/nilcheck"
)

// Middleware authenticates requests by API key. Build one with New and mount
// its Handler (or Optional, or Require); it is safe for concurrent use. The
// zero value is not usable.
//
// Middleware never lets a request with an invalid key reach the next
// handler, never writes a key value to a response or an error, and fails
// closed: when the validator cannot decide, the request is refused with 503.
// The permission guards behind it (RequirePermission, RequireAnyPermission)
// answer with its realm and error handler.
type Middleware struct {
	validator Validator // the Cache, when there is one
	cache     *Cache
	extract   Extractor
	// token68Later says that extract is the default's without its token68
	// check, which validate runs instead: on a cache hit, only when it
	// could change the answer (Cache.find).
	token68Later bool
	maxLen       int
	formatCheck  func(string) bool
	responder    *responder
	hooks        Hooks
	failures     *failureLog // the cache's, if any: for the failures of the validator and the format check

	// Rate limits and quotas (limiting.go).
	limitPolicy func(*Key) []Limit // nil: the key's own Limits
	limiter     Limiter
	local       *LocalLimiter // limiter, when it is one: charged without the interface
	quotas      QuotaStore    // nil: keys with a Quota are refused
	cost        func(*http.Request) int
}

// New returns a Middleware that validates keys with v.
//
// Unless v is already a *Cache, or WithoutCache is given, New puts a Cache
// in front of v, configured by the cache's options; Middleware.Cache
// returns it for invalidation. A nil v or an invalid option is an error
// matching ErrMisconfigured: the middleware never fails open at run time.
func New(v Validator, opts ...Option) (*Middleware, error) {
	if nilcheck.Is(v) {
		return nil, configError("New", "the validator is nil")
	}
	s, err := apply("New", opts)
	if err != nil {
		return nil, err
	}
	if err := s.checkMiddleware(); err != nil {
		return nil, err
	}
	m := &Middleware{
		validator:   v,
		extract:     s.extract,
		maxLen:      s.maxLen,
		formatCheck: s.formatCheck,
		responder:   newResponder(s.realm, s.errorHandler),
		hooks:       s.hooks,
		limitPolicy: s.limitPolicy,
		limiter:     s.limiter,
		quotas:      s.quotas,
		cost:        s.cost,
	}
	if m.limiter == nil {
		m.limiter, _ = NewLocalLimiter() // cannot fail without options
	}
	m.local, _ = m.limiter.(*LocalLimiter)
	m.responder.reportTo(s.hooks.Request, m.requestDigest)
	switch c, isCache := v.(*Cache); {
	case isCache && len(s.cacheOpts)+len(s.sharedOpts) > 0:
		return nil, configError("New", "%s configures a cache, but the validator is a *Cache with its options already: give it to NewCache", strings.Join(append(s.cacheOpts, s.sharedOpts...), ", "))
	case isCache && s.noCache:
		return nil, configError("New", "WithoutCache, but the validator is a *Cache")
	case isCache:
		m.cache, m.failures = c, c.failures
	case !s.noCache:
		c, err := newCache(v, &s, "New")
		if err != nil {
			return nil, err
		}
		m.cache, m.validator, m.failures = c, c, c.failures
	default:
		m.failures = newFailureLog(&s)
	}
	switch {
	case s.ownExtract:
		m.extract = m.recoverExtract(s.extract)
	case s.formatCheck == nil:
		// A format check sees only token68 values: with one, the check
		// stays in the extractor.
		m.extract, m.token68Later = bearerValue, true
	}
	return m, nil
}

// recoverExtract wraps a user's extractor so that a panic in it is
// answered like one in a format check: ErrValidatorPanicked (500, fail
// closed), logged with its type and stack, never its value, which may hold
// what it read (net/http would log it whole). The package's own extractors
// do not panic, so the default pays nothing for this.
func (m *Middleware) recoverExtract(extract Extractor) Extractor {
	return func(r *http.Request) (value string, err error) {
		defer func() {
			if p := recover(); p != nil {
				pe := newPanicError(p)
				pe.what = "extractor"
				m.failures.report(pe, Digest{})
				value, err = "", pe
			}
		}()
		return extract(r)
	}
}

// Cache returns the cache in front of the validator, or nil when there is
// none (WithoutCache). Use it to invalidate keys that were revoked.
func (m *Middleware) Cache() *Cache { return m.cache }

// Authenticate extracts and validates the request's key, without writing
// anything. It returns the key, or an error that matches one of
// ErrMissingKey, ErrMalformedKey, ErrInvalidKey, ErrMisconfigured,
// ErrValidatorPanicked or ErrUnavailable (the last also for any validator
// error it does not know). The error never holds the key value.
//
// Authenticate reports no request to Hooks.Request, since the caller
// decides how the request ends; the validator calls it makes are reported
// as usual.
func (m *Middleware) Authenticate(r *http.Request) (*Key, error) {
	var d decision
	return m.authenticate(r, &d)
}

// authenticate is Authenticate, filling in e's Answer and Digest as it
// learns them.
func (m *Middleware) authenticate(r *http.Request, e *decision) (*Key, error) {
	value, err := m.extract(r)
	switch {
	case err != nil:
		// Only the package's own reasons pass: a custom extractor's error
		// may hold what it read, the key.
		var me *malformedError
		if errors.As(err, &me) {
			return nil, me
		}
		var pe *panicError
		if errors.As(err, &pe) {
			return nil, pe
		}
		return nil, errMalformed("the key could not be read")
	case value == "":
		return nil, ErrMissingKey
	case len(value) > m.maxLen:
		if m.token68Later && !isToken68(value) {
			return nil, errNotToken68() // the reason the default extractor gives first
		}
		return nil, errMalformed("the key is longer than " + strconv.Itoa(m.maxLen) + " bytes")
	case m.formatCheck != nil:
		if err := m.checkFormat(value); err != nil {
			return nil, err
		}
	}
	return m.validate(r.Context(), e, value)
}

// checkFormat runs the format check: ErrInvalidKey if the value fails it.
// The check is the user's code: a panic in it is a bug of the server, not
// of the client, so it is answered as ErrValidatorPanicked (500, fail
// closed) and logged with the stack and the panic value's type, never the
// panic value, which may hold the key (net/http would log it whole).
func (m *Middleware) checkFormat(value string) (err error) {
	defer func() {
		if p := recover(); p != nil {
			pe := newPanicError(p)
			pe.what = "format check"
			m.failures.report(pe, DigestOf(value))
			err = pe
		}
	}()
	if !m.formatCheck(value) {
		return ErrInvalidKey
	}
	return nil
}

// Handler returns next wrapped so that only authenticated requests reach it,
// with their key in the request context (see FromContext). It has the shape
// chi's Use expects.
func (m *Middleware) Handler(next http.Handler) http.Handler {
	return m.handler(next, next, false, 0, nil)
}

// Optional is like Handler, but lets requests that carry no key through,
// anonymously: FromContext reports no key for them, and a permission guard
// behind answers them 401. Requests that carry a malformed or invalid key
// are refused all the same. Use it for routes that serve everyone but serve
// key holders more, or to wrap a whole http.ServeMux whose routes guard
// themselves.
func (m *Middleware) Optional(next http.Handler) http.Handler {
	return m.handler(next, next, true, 0, nil)
}

// Require returns middleware that authenticates the request, as Handler
// does, and then lets it through only if its key grants every one of perms,
// as RequirePermission does: the one wrapper a route of an http.ServeMux
// needs. It checks the permissions before the key's rate limits and quota:
// a request it refuses (403) spends neither a limit nor a credit, where a
// RequirePermission behind Handler runs after the charge. Like
// RequirePermission, it panics when perms is empty or holds an empty
// permission: use Handler for routes that need only a key.
func (m *Middleware) Require(perms ...string) func(http.Handler) http.Handler {
	guard := RequirePermission(perms...)
	perms = slices.Clone(perms)
	return func(next http.Handler) http.Handler { return m.handler(guard(next), next, false, 0, perms) }
}

// handler authenticates requests for next; cost, when not 0, is what each
// costs against its key's limits (Middleware.Cost); a key that lacks one of
// required, which next refuses, is not charged (Require). unguarded is
// next without the guard that checks required, served to a limited key
// once handler found that it holds them, so that they are not checked
// twice.
func (m *Middleware) handler(next, unguarded http.Handler, optional bool, cost int, required []string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var e decision
		key, err := m.authenticate(r, &e)
		if optional && err == ErrMissingKey { // only extraction says so: settle turns a validator's into ErrInvalidKey
			err = nil // nothing was extracted: anonymous
		}
		if err != nil {
			if m.hooks.Request != nil {
				e.Request, e.Outcome, e.Err = r, OutcomeOf(err), err
				m.hooks.Request(e.RequestEvent)
			}
			m.responder.fail(w, r, err)
			return
		}
		if key != nil && (len(key.Limits) > 0 || key.Quota != nil || m.limitPolicy != nil) &&
			missingPermissions(key, true, required) == nil {
			m.serveLimited(w, r, unguarded, key, &e, cost)
			return
		}
		if m.hooks.Request == nil {
			next.ServeHTTP(w, r.WithContext(&authContext{Context: r.Context(), key: key, responder: m.responder}))
			return
		}
		rc := &reportingContext{authContext: authContext{Context: r.Context(), key: key, responder: m.responder.reporter(e.Answer)}}
		m.serveReporting(w, r, next, rc, &e)
	})
}

// decision is what the middleware learns of a request while it decides
// it: the event to report, and the entry of a hit.
type decision struct {
	RequestEvent
	entry *entry // the cache's, on a hit: it keeps the key's limitPlan
}

// serveReporting serves next with rc as the request's context, whose
// responder is the reporter of e's answer, then reports the request to
// Hooks.Request as authenticated, unless a guard behind refused it and
// reported it first (which swapped rc's responder).
func (m *Middleware) serveReporting(w http.ResponseWriter, r *http.Request, next http.Handler, rc *reportingContext, e *decision) {
	rs := rc.responder // the reporter for e's answer, set when rc was built
	// The event is complete before next runs, so that the stores filling
	// it are long done when the call copies it: copied right after, the
	// copy's wide loads would wait for the narrow stores.
	report := RequestEvent{Request: r, Outcome: OutcomeAuthenticated, Answer: e.Answer, Key: rc.key, Digest: e.Digest}
	next.ServeHTTP(w, r.WithContext(rc))
	if rc.loadResponder() == rs { // else a guard behind refused it, before next returned
		m.hooks.Request(report)
	}
}

// validate asks the cache, or the validator when there is none, for the key
// with this value, filling in e's answer and digest. It returns a key or an
// error, never neither.
func (m *Middleware) validate(ctx context.Context, e *decision, value string) (*Key, error) {
	if m.cache != nil {
		e.Digest = DigestOf(value)
		key, hit, answer, err := m.cache.find(ctx, e.Digest, value, m.token68Later)
		e.Answer, e.entry = answer, hit
		if answer == "" { // refused as malformed: no key was read
			e.Digest = Digest{}
		}
		return key, err
	}
	if m.token68Later && !isToken68(value) {
		return nil, errNotToken68()
	}
	e.Answer = AnswerUncached
	var start time.Time
	if m.hooks.Validation != nil {
		start = time.Now()
	}
	key, err := settle(callValidator(ctx, m.validator, value))
	if err == nil && key.expired(time.Now) {
		// Without a cache nothing else checks; a Cache never returns a key
		// past its expiry.
		key, err = nil, ErrInvalidKey
	}
	if err != nil || m.hooks.Request != nil || m.hooks.Validation != nil {
		// Only a hook or the failure log needs it: no second SHA-256 per
		// request besides the validator's own.
		e.Digest = DigestOf(value)
	}
	observeValidation(ctx, m.hooks.Validation, m.failures, start, e.Digest, key, err)
	return key, err
}
