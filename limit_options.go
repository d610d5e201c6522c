package apikey

import "net/http"

// WithLimits sets the policy that gives each authenticated key its rate
// limits, such as by a plan in its Metadata, in place of the key's own
// Key.Limits. policy is called once per authenticated request, must be
// fast and safe for concurrent use, and should return a slice it keeps
// (one per plan, say) rather than build one per call; nil or empty means
// no limit for that key. Default: each key's Key.Limits.
func WithLimits(policy func(*Key) []Limit) Option {
	return middlewareOption("WithLimits", func(s *settings) { s.limitPolicy = policy })
}

// WithLimiter sets where rate limits are counted: redisfleet's limiter
// counts for a whole fleet. Default: a LocalLimiter, in this process.
func WithLimiter(l Limiter) Option {
	return middlewareOption("WithLimiter", func(s *settings) { s.limiter, s.limiterSet = l, true })
}

// WithQuotas sets the QuotaStore that keeps the credits of keys that have
// a Quota (Key.Quota). A key that has one, behind a middleware without a
// QuotaStore, is refused with 500: a quota is never silently ignored.
// Default: none.
func WithQuotas(q QuotaStore) Option {
	return middlewareOption("WithQuotas", func(s *settings) { s.quotas, s.quotasSet = q, true })
}

// WithCost sets what a request costs against its key's limits and quota,
// for routes that do more work than others: cost is called once per
// request whose key has a limit or a quota (never for others), must be
// fast, and must return at least 1. Middleware.Cost sets a fixed cost for
// the routes it wraps, which takes precedence. Default: every request
// costs 1.
func WithCost(cost func(*http.Request) int) Option {
	return middlewareOption("WithCost", func(s *settings) { s.cost = cost })
}
