package apikey

import (
	"errors"
	"fmt"
	"strconv"
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

	// ErrMisconfigured reports something that cannot work as configured: an
	// option or argument that New or NewCache refuses, or a validator whose
	// own configuration its upstream rejects (a secret key the vendor does
	// not accept, say). Answered 500: it is never blamed on the client.
	ErrMisconfigured = errors.New("apikey: misconfigured")

	// ErrValidatorPanicked reports a validator, or a format check
	// (WithFormatCheck), that panicked: a bug of the server, never blamed
	// on the client. The panic becomes this error for every waiting
	// request; the panic value is dropped, since it may hold the key.
	// Answered 500.
	ErrValidatorPanicked = errors.New("apikey: validator panicked")

	// ErrRateLimited reports an authenticated request over one of its key's
	// rate limits, or over its quota (ErrQuotaExhausted matches it too).
	// Answered 429 with Retry-After and the RateLimit fields. The middleware
	// returns a *LimitError, which matches it.
	ErrRateLimited = errors.New("apikey: rate limited")

	// ErrQuotaExhausted reports an authenticated request whose key has fewer
	// credits left in its quota than the request costs. It matches
	// ErrRateLimited, whose outcome it shares: 429, with a Retry-After no
	// later than the next refill, and none for a quota that never refills.
	ErrQuotaExhausted error = &subSentinel{msg: "apikey: quota exhausted", parent: ErrRateLimited}
)

// subSentinel is a sentinel error that also matches a broader one.
type subSentinel struct {
	msg    string
	parent error
}

func (e *subSentinel) Error() string { return e.msg }
func (e *subSentinel) Unwrap() error { return e.parent }

// LimitError is the ErrRateLimited (or ErrQuotaExhausted) that the
// middleware reports for a request it refused: which limit refused it, and
// when to try again. It never holds a key value.
type LimitError struct {
	// Limit is the name of the limit that refused the request (the first,
	// when several did), or QuotaName for the quota.
	Limit string
	// RetryAfter is the time until the same request would be allowed; zero
	// for a quota that never refills.
	RetryAfter time.Duration
	// Quota reports a request refused for its quota: the error then
	// matches ErrQuotaExhausted.
	Quota bool
}

func (e *LimitError) Error() string {
	s := e.Unwrap().Error() + ": limit " + strconv.Quote(e.Limit)
	if e.RetryAfter > 0 {
		s += ", retry after " + e.RetryAfter.String()
	}
	return s
}

// Unwrap returns ErrQuotaExhausted for a quota, ErrRateLimited otherwise.
func (e *LimitError) Unwrap() error {
	if e.Quota {
		return ErrQuotaExhausted
	}
	return ErrRateLimited
}

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

// Is reports whether target is ErrUnavailable, which every
// UnavailableError is. It and Unwrap match without allocating, as an
// Unwrap() []error would on every errors.Is.
func (e *UnavailableError) Is(target error) bool { return target == ErrUnavailable }

// Unwrap returns the cause, so that errors.Is and errors.As match it too.
func (e *UnavailableError) Unwrap() error { return e.Err }

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

// misconfigError is the ErrMisconfigured of a constructor, saying what is
// wrong in the constructor's own words.
type misconfigError struct{ op, msg string }

func configError(op, format string, args ...any) error {
	return &misconfigError{op: op, msg: fmt.Sprintf(format, args...)}
}

func (e *misconfigError) Error() string { return "apikey: " + e.op + ": " + e.msg }

// Unwrap returns ErrMisconfigured.
func (e *misconfigError) Unwrap() error { return ErrMisconfigured }

// isUnavailable reports whether a validator error means "could not decide
// for now", the only kind of error after which stale entries may be served.
func isUnavailable(err error) bool { return OutcomeOf(err) == OutcomeUnavailable }
