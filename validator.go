package apikey

import (
	"context"
	"errors"
)

// Validator decides whether a key value is a valid API key.
//
// Validate returns the key, or an error wrapping ErrInvalidKey when the key
// is unknown, revoked or expired. Any other error means "could not decide":
// the middleware answers 503 (or 500 for ErrMisconfigured) and the cache
// remembers nothing. Validate must be safe for concurrent use, must honour
// ctx, and must never put the value in an error, a log line or a panic.
//
// Should it do so all the same, the Cache and the Middleware pass nothing
// of it on: a panic value is dropped, and an error whose text holds the
// value (as it is, or URL-escaped) reaches the error handler, the hooks,
// the log and Authenticate's caller with each of those forms replaced by
// "[redacted]". The stand-in matches (errors.Is) whatever the original
// matched, keeps an *UnavailableError's Retry-After, and unwraps only to
// the parts of the original whose text holds no value, so errors.As still
// finds a validator's own error types where they are safe to print. An
// error that holds no value passes on as it is.
type Validator interface {
	Validate(ctx context.Context, value string) (*Key, error)
}

// ValidatorFunc adapts a function to the Validator interface. The function
// is called concurrently, and must keep the Validator contract.
type ValidatorFunc func(ctx context.Context, value string) (*Key, error)

// Validate calls f(ctx, value).
func (f ValidatorFunc) Validate(ctx context.Context, value string) (*Key, error) {
	return f(ctx, value)
}

// callValidator calls v, turning a panic into an error matching
// ErrValidatorPanicked, as well as an error that panics when unwrapped or
// printed (a typed nil whose methods read their receiver), which would
// otherwise panic later in errors.Is or a log line, outside any recover.
// The error keeps the stack and the panic value's type for the log; the
// panic value is dropped: it may hold the key. For the same reason, an
// error whose text holds the key value is passed on redacted (see
// redactValue).
func callValidator(ctx context.Context, v Validator, value string) (key *Key, err error) {
	err = ErrValidatorPanicked // stays if v calls runtime.Goexit
	defer func() {
		if p := recover(); p != nil {
			key, err = nil, newPanicError(p)
		}
	}()
	k, e := v.Validate(ctx, value)
	if e != nil {
		_ = errors.Is(e, errMatchesNothing) // walks the whole chain
		e = redactValue(e, value)
	}
	return k, e
}

// settle turns a validator's answer into one the middleware can trust: a
// key or an error, never neither; a key with an ID, without which it could
// never be revoked; and an error whose kind the sentinels name. A
// validator's ErrMissingKey, which only the middleware can know, counts as
// ErrInvalidKey, and an error of no known kind is an *UnavailableError.
func settle(key *Key, err error) (*Key, error) {
	switch {
	case err != nil:
		switch OutcomeOf(err) {
		case OutcomeMissing:
			return nil, ErrInvalidKey
		case OutcomeUnavailable:
			if !errors.Is(err, ErrUnavailable) {
				return nil, &UnavailableError{Err: err}
			}
		}
		return nil, err
	case key == nil:
		return nil, configError("Validate", "the validator returned no key and no error")
	case key.ID == "":
		return nil, configError("Validate", "the validator returned a key without an ID, which no invalidation could reach")
	}
	return key, nil
}

// errMatchesNothing is never wrapped by anything.
var errMatchesNothing = errors.New("apikey: matches nothing")
