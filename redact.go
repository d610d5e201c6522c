package apikey

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strings"
)

// redacted stands for a key value in an error's text.
const redacted = "[redacted]"

// maxRedactedErrors bounds the walk of one error's tree: past it, what is
// left unwalked is dropped, never passed on unread.
const maxRedactedErrors = 64

// redactValue returns a validator's error as it is when no error in its
// tree (what Unwrap gives, to any depth) holds value in its text, as it is
// or URL-escaped (as a query or a path writes it); the package's sentinels
// and the context's errors count as holding none (see fixedErrors).
// Otherwise it returns a
// stand-in with the same shape: each error that holds the value, or wraps
// one that does, is replaced by one whose text is its own with every such
// form of the value replaced by "[redacted]", and which matches
// (errors.Is) whatever the error it stands for matched; an
// *UnavailableError keeps its own type and Retry-After. The errors that
// hold no value stay as they are, so errors.As still finds the validator's
// own types where they are safe to print. The original errors are never
// reachable through the stand-in.
//
// It runs only on a validator's error, off the hit path. It calls the
// errors' Error and Unwrap methods, which may panic: callValidator
// recovers.
func redactValue(err error, value string) error {
	if value == "" || isFixedError(err) {
		return err
	}
	r := redactor{all: [3]string{value, url.QueryEscape(value), url.PathEscape(value)}}
	r.forms = r.all[:1]
	for _, f := range r.all[1:] {
		if !slices.Contains(r.forms, f) {
			r.forms = append(r.forms, f)
		}
	}
	out, _ := r.redact(err)
	return out
}

// fixedErrors hold no key value, whatever value is looked for: their text
// is fixed. A short value found in it (a client sending "key" finds it in
// ErrInvalidKey's) is chance, and redacting it would only garble the error
// and replace a sentinel that callers may compare by identity.
var fixedErrors = [...]error{
	ErrMissingKey, ErrMalformedKey, ErrInvalidKey, ErrForbidden, ErrUnavailable, ErrMisconfigured,
	ErrValidatorPanicked, ErrRateLimited, ErrQuotaExhausted, context.Canceled, context.DeadlineExceeded,
}

// isFixedError reports whether err is one of fixedErrors: the common
// answer of a validator (ErrInvalidKey to a flood of made-up keys) is
// passed on without a walk or an allocation.
func isFixedError(err error) bool {
	for _, f := range fixedErrors {
		if err == f {
			return true
		}
	}
	return false
}

type redactor struct {
	all   [3]string // the value and its escaped forms, which escaping leaves as they are for most keys
	forms []string  // in all: the value, then its escaped forms that differ
	seen  int
}

// redact returns err, or its stand-in and true when anything in its tree
// held the value.
func (r *redactor) redact(err error) (error, bool) {
	if isFixedError(err) {
		return err, false
	}
	r.seen++
	text := err.Error()
	if r.seen > maxRedactedErrors {
		return r.standIn(err, text, nil), true
	}
	var children []error
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		if c := u.Unwrap(); c != nil {
			children = []error{c}
		}
	case interface{ Unwrap() []error }:
		children = u.Unwrap()
	}
	changed := r.holds(text)
	kept := make([]error, 0, len(children))
	for _, c := range children {
		if c == nil {
			continue
		}
		rc, ch := r.redact(c)
		kept = append(kept, rc)
		changed = changed || ch
	}
	if !changed {
		return err, false
	}
	if u, ok := err.(*UnavailableError); ok {
		var cause error
		if len(kept) > 0 {
			cause = kept[0]
		}
		return &UnavailableError{RetryAfter: u.RetryAfter, RequestID: r.scrub(u.RequestID), Err: cause}, true
	}
	return r.standIn(err, text, kept), true
}

func (r *redactor) standIn(err error, text string, kept []error) error {
	return &redactedError{
		text: r.scrub(text),
		wrap: kept,
		// The original stays in the closure, where nothing that prints
		// values looks; errors.Is gets a yes or a no out of it, nothing
		// more.
		is: func(target error) (ok bool) {
			defer func() {
				if recover() != nil {
					ok = false
				}
			}()
			return errors.Is(err, target)
		},
	}
}

func (r *redactor) holds(s string) bool {
	for _, f := range r.forms {
		if strings.Contains(s, f) {
			return true
		}
	}
	return false
}

func (r *redactor) scrub(s string) string {
	for _, f := range r.forms {
		s = strings.ReplaceAll(s, f, redacted)
	}
	return s
}

// redactedError stands for a validator's error whose text held the key
// value; see redactValue.
type redactedError struct {
	text string
	wrap []error
	is   func(error) bool
}

func (e *redactedError) Error() string { return e.text }

// Is reports whether the error this one stands for matched target.
func (e *redactedError) Is(target error) bool { return e.is(target) }

// Unwrap returns the stand-ins, or the errors themselves when they held no
// value, of what the original wrapped.
func (e *redactedError) Unwrap() []error { return e.wrap }
