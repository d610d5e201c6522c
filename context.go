package apikey

import (
	"context"
	"sync/atomic"
	"unsafe"
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
// behind refused the request and reported it first. Its responder is one
// of the middleware's reporters (see responder.reporters): the one for the
// request's answer, which a guard that reports the request swaps for its
// reported twin. So the context is no larger than an authContext (32 B,
// allocated by every request) and the middleware, after next returns,
// reads one pointer with an atomic load rather than doing a
// read-modify-write: the guard swaps it before it returns, so before the
// next handler does, and each request of a chain whose guards return
// before the middleware's next handler does (as net/http requires of
// anything that writes the response) is reported once.
type reportingContext struct {
	authContext
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

// loadResponder returns c's responder. A guard may swap that of a
// reportingContext while another goroutine reads it, hence the atomic
// load: on amd64 and arm64 a plain load, as cheap as reading the field.
// Contexts set it once when they are built, before anyone else sees them.
func (c *authContext) loadResponder() *responder {
	return (*responder)(atomic.LoadPointer((*unsafe.Pointer)(unsafe.Pointer(&c.responder))))
}

// markReported swaps c's responder for its reported twin, so that the
// middleware reports the request no more, and returns the one it held,
// whose answer and digest the guard's report carries.
func (c *reportingContext) markReported() *responder {
	held := c.loadResponder()
	atomic.StorePointer((*unsafe.Pointer)(unsafe.Pointer(&c.responder)), unsafe.Pointer(held.reported))
	return held
}

// answers are the values of Answer, in the order of a responder's
// reporters.
var answers = [...]Answer{"", AnswerHit, AnswerMiss, AnswerCoalesced, AnswerStale, AnswerUncached, AnswerNegativeHit}

func answerIndex(a Answer) uint8 {
	if a == AnswerHit { // most requests: no search
		return 1
	}
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
	if ac, _ := ctx.Value(contextKey{}).(*authContext); ac != nil {
		if rs := ac.loadResponder(); rs != nil {
			return rs
		}
	}
	return defaultResponder
}
