package apikey

import "context"

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

	// undecided is the middleware's Hooks.Request event, while no guard
	// behind it has refused the request; a guard that does reports it
	// instead, and sets undecided to nil, so that each request is
	// reported once. Nil without a Hooks.Request.
	undecided *RequestEvent
}

// reportingContext is an authContext with the event it may report.
type reportingContext struct {
	authContext
	event RequestEvent
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
