package apikey

import (
	"context"
	"net/http"
	"time"
)

// RequestEvent is what Hooks.Request sees of a request that a Middleware or
// a permission guard decided. It never holds the key value: Digest is its
// SHA-256, and Digest.Fingerprint is the form to log.
type RequestEvent struct {
	// Request is the request as the middleware or the guard received it.
	Request *http.Request
	// Outcome is how the request ended: OutcomeAuthenticated when it goes
	// on to the next handler (with Key nil for an anonymous request let
	// through by Optional), else the refusal's.
	Outcome Outcome
	// Answer is how the key was answered; empty when no key was looked up
	// (a missing or malformed key, a key refused by its format, an
	// anonymous request that a guard refused).
	Answer Answer
	// Key is the key that authenticated the request, for
	// OutcomeAuthenticated, OutcomeForbidden and OutcomeRateLimited; nil
	// otherwise.
	Key *Key
	// Digest is the SHA-256 of the key value when the middleware read one;
	// zero otherwise. In a guard's event it is that of the value the
	// middleware's extractor reads again from the request the guard
	// refused, provided the middleware's cache holds the event's Key under
	// it; zero otherwise: without a cache, or when a handler between them
	// removed or replaced the key, since a digest of what replaced it (an
	// upstream's credential, say) would name another value.
	Digest Digest
	// Err is the refusal's error, as the error handler receives it; nil for
	// OutcomeAuthenticated.
	Err error
}

// Answer says how a Middleware came by its answer for a key: from the cache
// or from a validator call. It exists beside Outcome, which says how the
// request ended, to tell a cache's work apart in logs and metrics.
type Answer string

// The answers. The values serve as metric labels and log fields as they are.
const (
	AnswerHit         Answer = "hit"          // a valid key from the cache
	AnswerNegativeHit Answer = "negative_hit" // an invalid key from the cache
	AnswerMiss        Answer = "miss"         // the request started a validator call
	AnswerCoalesced   Answer = "coalesced"    // the request joined a validator call in flight
	AnswerStale       Answer = "stale"        // a valid key past its TTL, while the validator was unavailable (WithStaleIfError)
	AnswerUncached    Answer = "uncached"     // the validator, called directly (WithoutCache)
)

// ValidationEvent is what Hooks.Validation sees of one validator call. It
// never holds the key value.
type ValidationEvent struct {
	// Context is the context the validator was called with: detached from
	// the requests' cancellation, it keeps the values of the request that
	// started the call, such as its trace span.
	Context context.Context
	// Start is when the call started, by the real clock; Duration is how
	// long it took, up to the validation timeout.
	Start    time.Time
	Duration time.Duration
	// Result is what the call decided; a key past its ExpiresAt is
	// ResultInvalid, and a validator that returned neither a key nor an
	// error is ResultError.
	Result Result
	// Key is the key, for ResultValid.
	Key *Key
	// Digest is the SHA-256 of the key value.
	Digest Digest
	// Err is the call's error; nil for ResultValid. It matches
	// ErrValidatorPanicked for a validator that panicked, ErrUnavailable
	// and context.DeadlineExceeded for one that took longer than the
	// validation timeout.
	Err error
}

// Result is what one validator call decided. It exists beside Outcome
// because one call answers every request that waited for it, and a cache hit
// makes no call at all: counting Results counts upstream calls.
type Result string

// The results. The values serve as metric labels and log fields as they are.
const (
	ResultValid       Result = "valid"
	ResultInvalid     Result = "invalid"     // unknown, revoked or expired
	ResultUnavailable Result = "unavailable" // could not decide: a timeout, the network, the vendor's 5xx or 429
	ResultError       Result = "error"       // misconfiguration or a panic
)

// resultOf returns the result of a validator call that ended with err.
func resultOf(err error) Result {
	switch OutcomeOf(err) {
	case OutcomeAuthenticated:
		return ResultValid
	case OutcomeInvalid:
		return ResultInvalid
	case OutcomeError:
		return ResultError
	default:
		return ResultUnavailable
	}
}

// observeValidation reports one validator call, which started at start and
// ended with key and err, to the failure log and to hook.
func observeValidation(ctx context.Context, hook func(ValidationEvent), failures *failureLog, start time.Time, d Digest, key *Key, err error) {
	failures.report(err, d)
	if hook != nil {
		hook(ValidationEvent{
			Context: ctx, Start: start, Duration: time.Since(start),
			Result: resultOf(err), Key: key, Digest: d, Err: err,
		})
	}
}
