package apikey

import (
	"context"
	"sync/atomic"
)

// contextKey is unexported so that no other package can read or overwrite
// what the middleware put in the context.
type contextKey struct{}

// authContext is a request context behind a Middleware: the key (nil for an
// anonymous request) and the middleware's responder, so that the guards
// behind answer as the middleware does. It is a context of its own rather
// than two context.WithValue layers so that it costs one allocation.
type authContext struct {
	context.Context
	key       *Key
	responder *responder // nil outside a Middleware: the default responses
}

// reportKey finds a reportingContext in a request's context.
type reportKey struct{}

// reportingContext is an authContext whose request the middleware reports
// to its Hooks.Request after the next handler returns, unless a guard
// behind refused the request and reported it first: whichever sets
// reported reports, so each request is reported once. It holds what the
// report needs that neither knows from the request: the digest (the cache
// entry's on a hit, so that it costs nothing) and the answer. It stays
// small because every request with a Hooks.Request allocates one.
type reportingContext struct {
	authContext
	digest   *Digest // nil for none
	answer   uint8   // an index in answers
	reported atomic.Bool
}

func (c *reportingContext) Value(k any) any {
	switch k {
	case contextKey{}:
		return &c.authContext
	case reportKey{}:
		return c
	}
	return c.Context.Value(k)
}

// claim fills in e's digest and answer and returns true if the request
// was not reported yet; the caller then reports it.
func (c *reportingContext) claim(e *RequestEvent) bool {
	if !c.reported.CompareAndSwap(false, true) {
		return false
	}
	e.Answer = answers[c.answer]
	if c.digest != nil {
		e.Digest = *c.digest
	}
	return true
}

// answers are the values of Answer a reportingContext keeps as an index.
var answers = [...]Answer{"", AnswerHit, AnswerMiss, AnswerCoalesced, AnswerStale, AnswerUncached, AnswerNegativeHit}

func answerIndex(a Answer) uint8 {
	for i, x := range answers {
		if x == a {
			return uint8(i)
		}
	}
	return 0
}

func newAuthContext(parent context.Context, key *Key, rs *responder) context.Context {
	return &authContext{Context: parent, key: key, responder: rs}
}

func (c *authContext) Value(k any) any {
	if k == (contextKey{}) {
		return c
	}
	return c.Context.Value(k)
}

// NewContext returns a copy of ctx that carries key, as the middleware does
// for every authenticated request. Handler tests call it to fake one; the
// guards then answer with the default responses.
func NewContext(ctx context.Context, key *Key) context.Context {
	return newAuthContext(ctx, key, nil)
}

// FromContext returns the key that authenticated the request, and false when
// there is none: the middleware did not run, or it let an anonymous request
// through (Middleware.Optional).
func FromContext(ctx context.Context) (*Key, bool) {
	ac, _ := ctx.Value(contextKey{}).(*authContext)
	if ac == nil || ac.key == nil {
		return nil, false
	}
	return ac.key, true
}

// responderFrom returns the responder of the middleware that handled ctx's
// request, or the default one.
func responderFrom(ctx context.Context) *responder {
	if ac, _ := ctx.Value(contextKey{}).(*authContext); ac != nil && ac.responder != nil {
		return ac.responder
	}
	return defaultResponder
}
