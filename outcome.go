package apikey

import "errors"

// Outcome names how a request ended, one value per row of the outcome
// table. The values are short, stable and lowercase, so that they serve as
// metric labels and log fields as they are.
//
// It is the one of the three event labels a handler needs: Outcome is what
// the client was told (OutcomeOf an ErrorHandler's error), Answer where the
// verdict on the key came from (the cache or the validator), and Result
// what one validator call decided, which many requests may share.
type Outcome string

// The outcomes.
const (
	OutcomeAuthenticated Outcome = "authenticated" // a valid key, or an anonymous request let through by Optional
	OutcomeMissing       Outcome = "missing"       // no key: 401
	OutcomeMalformed     Outcome = "malformed"     // credentials that cannot be a key: 400
	OutcomeInvalid       Outcome = "invalid"       // unknown, revoked or expired: 401
	OutcomeForbidden     Outcome = "forbidden"     // lacks a permission: 403
	OutcomeRateLimited   Outcome = "rate_limited"  // over a rate limit or out of quota: 429
	OutcomeUnavailable   Outcome = "unavailable"   // the validator could not decide: 503
	OutcomeError         Outcome = "error"         // misconfiguration or a validator panic: 500
)

// OutcomeOf returns the outcome of err: OutcomeAuthenticated for nil, and
// OutcomeUnavailable for any error it does not know, which fails closed.
// It never panics, even on an error whose Unwrap does: such an error is
// OutcomeError.
func OutcomeOf(err error) Outcome {
	if err == nil {
		return OutcomeAuthenticated
	}
	return outcomeOfError(err)
}

func outcomeOfError(err error) (o Outcome) {
	defer func() {
		if recover() != nil {
			o = OutcomeError
		}
	}()
	switch {
	case errors.Is(err, ErrMissingKey):
		return OutcomeMissing
	case errors.Is(err, ErrMalformedKey):
		return OutcomeMalformed
	case errors.Is(err, ErrInvalidKey):
		return OutcomeInvalid
	case errors.Is(err, ErrForbidden):
		return OutcomeForbidden
	case errors.Is(err, ErrRateLimited):
		return OutcomeRateLimited
	case errors.Is(err, ErrMisconfigured), errors.Is(err, ErrValidatorPanicked):
		return OutcomeError
	default:
		return OutcomeUnavailable
	}
}
