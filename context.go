package apikey

import "context"

// contextKey is unexported so that no other package can read or overwrite
// the key through context.WithValue.
type contextKey struct{}

// NewContext returns a copy of ctx that carries key. The middleware calls it
// for every authenticated request; handler tests call it to fake one.
func NewContext(ctx context.Context, key *Key) context.Context {
	return context.WithValue(ctx, contextKey{}, key)
}

// FromContext returns the key that authenticated the request, and false when
// there is none: the middleware did not run, or it let an anonymous request
// through in credentials-optional mode.
func FromContext(ctx context.Context) (*Key, bool) {
	key, ok := ctx.Value(contextKey{}).(*Key)
	return key, ok && key != nil
}
