package apikey

import (
	"context"
	"time"
)

// Limiter counts requests against rate limits. The middleware calls it
// once per authenticated request whose key has limits (see WithLimits),
// never for a request that was refused before, and never for a key without
// limits. LocalLimiter, in this process, is the default; redisfleet has
// one shared by every process of a fleet.
//
// Implementations must be safe for concurrent use.
type Limiter interface {
	// Allow charges cost to the bucket of each of limits for key (see
	// BucketOf), all or nothing: if any of them lacks room, none is
	// charged. It writes one Decision per limit into decisions, which has
	// len(limits). limits are valid (Limit.Validate) and cost is at least
	// 1.
	//
	// An error means the limiter could not decide and has no fallback: the
	// request is refused with 503 (ErrUnavailable), or 500 for an error
	// matching ErrMisconfigured. Never is a request let through unlimited.
	Allow(ctx context.Context, key *Key, limits []Limit, cost int, decisions []Decision) error
}

// Decision is a Limiter's answer for one limit of one request.
type Decision struct {
	// Allowed reports whether the limit had room for the request; when one
	// limit of a request refuses, the request is refused, and no limit is
	// charged.
	Allowed bool
	// Remaining is how many requests of cost 1 the limit would still let
	// through right now, after this one if it was allowed.
	Remaining int
	// RetryAfter is, for a refused request, the time until the same
	// request would be allowed; zero when allowed.
	RetryAfter time.Duration
	// ResetAfter is the time until the limit is back to its full burst.
	ResetAfter time.Duration
}
