package apikey

// Hooks are callbacks that observe what a Middleware and its Cache do, for
// metrics, audit logs and propagating invalidations to other processes.
// Give them with WithHooks. A nil field costs nothing. Hooks run on the
// request's goroutine, or on the goroutine that made the change: they must
// be fast, safe for concurrent use, and must not call back into the Cache
// that called them.
type Hooks struct {
	// Invalidation is called for every invalidation a Cache applies, after
	// it took effect, with its Origin. An adapter that shares invalidations
	// with other processes publishes those whose Origin is not
	// OriginReplica, and applies what it receives with OriginReplica, so
	// that nothing is sent around twice.
	Invalidation func(Invalidation)
}

// then returns hooks that call h's and then next's.
func (h Hooks) then(next Hooks) Hooks {
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
