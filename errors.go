package apikey

import (
	"errors"
	"strings"
	"time"
)

// The sentinel errors of the package, one per outcome. Match them with
// errors.Is: validators and the cache wrap them.
var (
	// ErrMissingKey reports a request that carries no API key. Answered 401
	// with a bare Bearer challenge.
	ErrMissingKey = errors.New("apikey: missing key")

	// ErrMalformedKey reports credentials that cannot be a key: a bad
	// Authorization header, a key too long or with bytes outside token68,
	// or more than one credential. Answered 400 invalid_request.
	ErrMalformedKey = errors.New("apikey: malformed key")

	// ErrInvalidKey is the validator's definitive answer for a key that is
	// unknown, revoked or expired. Answered 401 invalid_token. It is the only
	// validator error that the cache remembers.
	ErrInvalidKey = errors.New("apikey: invalid key")

	// ErrForbidden reports a valid key that lacks a required permission.
	// Answered 403 insufficient_scope. Guards return a *PermissionError,
	// which matches it.
	ErrForbidden = errors.New("apikey: insufficient permissions")

	// ErrUnavailable reports that the validator could not decide: a timeout,
	// a network error, an upstream 5xx or 429. Answered 503 with Retry-After.
	// Any validator error that is neither ErrInvalidKey nor ErrMisconfigured
	// is treated the same way.
	ErrUnavailable = errors.New("apikey: validator unavailable")

	// ErrMisconfigured reports a validator that cannot work as configured,
	// such as a WorkOS secret key that WorkOS rejects, or a nil validator
	// given to New. Answered 500: it is never blamed on the client.
	ErrMisconfigured = errors.New("apikey: validator misconfigured")

	// ErrValidatorPanicked reports a validator that panicked. The cache turns
	// the panic into this error for every waiting request; the panic value is
	// dropped, since it may hold the key. Answered 500.
	ErrValidatorPanicked = errors.New("apikey: validator panicked")
)

// UnavailableError is an ErrUnavailable that says when to try again.
// Validators return it to carry an upstream's Retry-After and request ID
// through to the 503 response and the logs. It never holds a key value.
type UnavailableError struct {
	// RetryAfter is how long the client should wait; zero means unknown.
	RetryAfter time.Duration
	// RequestID is the upstream's request ID, for correlating logs.
	RequestID string
	// Err is the underlying cause, if any.
	Err error
}

func (e *UnavailableError) Error() string {
	var b strings.Builder
	b.WriteString(ErrUnavailable.Error())
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	if e.RequestID != "" {
		b.WriteString(" (request id ")
		b.WriteString(e.RequestID)
		b.WriteString(")")
	}
	return b.String()
}

// Unwrap returns ErrUnavailable and the cause, so that errors.Is matches both.
func (e *UnavailableError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrUnavailable}
	}
	return []error{ErrUnavailable, e.Err}
}

// PermissionError is the ErrForbidden that a permission guard reports. It
// names the permissions the key would need, for the scope attribute of the
// challenge.
type PermissionError struct {
	// Missing lists the permissions the guard asked for that the key lacks:
	// for RequirePermission, the ones not granted; for RequireAnyPermission,
	// all of them.
	Missing []string
}

func (e *PermissionError) Error() string {
	return ErrForbidden.Error() + ": needs " + strings.Join(e.Missing, " ")
}

// Unwrap returns ErrForbidden.
func (e *PermissionError) Unwrap() error { return ErrForbidden }
