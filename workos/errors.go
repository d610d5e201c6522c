package workos

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apikeyauth/apikey"
)

// The sentinel errors of the package. Match them with errors.Is: the
// package wraps them, and *APIError unwraps to the one its status means.
var (
	// ErrNotFound reports that WorkOS knows no such key (or organization):
	// HTTP 404 with a message that names the missing object, such as
	// "API Key not found: 'api_key_…'." or "Organization not found: …".
	ErrNotFound = errors.New("workos: not found")

	// ErrRouteNotFound reports any other HTTP 404: the path is no WorkOS
	// endpoint (WorkOS answers a bare "Not Found"), or something other than
	// WorkOS answered, most often because the base URL is wrong (a path
	// such as /v1 appended, a proxy). It never means that a key or an
	// organization is unknown, and errors that match it also match
	// apikey.ErrMisconfigured.
	ErrRouteNotFound = errors.New("workos: no such API route (check the base URL)")

	// ErrAlreadyExpired reports an expire call on a key that has already
	// expired: HTTP 409 api_key_already_expired.
	ErrAlreadyExpired = errors.New("workos: api key already expired")

	// ErrUnauthorized reports that WorkOS rejected the client's secret key
	// (HTTP 401 or 403). Errors that match it also match
	// apikey.ErrMisconfigured: it is a deployment problem, never the fault
	// of whoever presented an API key.
	ErrUnauthorized = errors.New("workos: the WorkOS secret key was rejected")

	// ErrRateLimited reports HTTP 429. Errors that match it also match
	// apikey.ErrUnavailable; the *APIError carries the Retry-After.
	ErrRateLimited = errors.New("workos: rate limited")

	// ErrBadRequest reports a request WorkOS refused as invalid (HTTP 400 or
	// 422), such as a create without a name or an expiry in the past.
	ErrBadRequest = errors.New("workos: request rejected as invalid")

	// ErrInvalidArgument reports a call the client refused before sending
	// anything: an empty or unusable ID, a missing name, a nil context.
	ErrInvalidArgument = errors.New("workos: invalid argument")

	// ErrMalformedResponse reports a response the client could not use: not
	// JSON, the wrong shape, missing required fields, or larger than the
	// body limit. It fails closed: validation treats it as unavailable.
	ErrMalformedResponse = errors.New("workos: malformed response")

	// ErrUserOwnedKey reports a rotation of a key owned by a user. Creating
	// user keys is behind a WorkOS feature flag, so the client rotates
	// organization keys only.
	ErrUserOwnedKey = errors.New("workos: user-owned keys cannot be rotated by this client")

	// ErrOldKeyNotRetired reports a rotation that created the new key but
	// could not expire or delete the old one, or left it alone because
	// WorkOS's answer to the create was malformed. The *Rotation returned
	// with it holds the new key's value, shown once: store it, then retire
	// the old key again.
	ErrOldKeyNotRetired = errors.New("workos: new key created but the old key was not retired")

	// ErrInvalidSignature reports a webhook whose WorkOS-Signature header is
	// missing, malformed, or does not match the body.
	ErrInvalidSignature = errors.New("workos: invalid webhook signature")

	// ErrStaleSignature reports a webhook signed outside the tolerance
	// window, in the past or the future. It also matches ErrInvalidSignature.
	ErrStaleSignature = fmt.Errorf("%w: timestamp outside the tolerance", ErrInvalidSignature)
)

// APIError is a non-2xx answer from WorkOS to a management call. It
// unwraps to the sentinel its status means (ErrNotFound or ErrRouteNotFound
// and apikey.ErrMisconfigured, ErrAlreadyExpired,
// ErrUnauthorized and apikey.ErrMisconfigured, ErrRateLimited and
// apikey.ErrUnavailable, ErrBadRequest; 5xx match apikey.ErrUnavailable).
// It never holds a key value or the secret key.
type APIError struct {
	// Method and Path name the call, with IDs escaped, e.g.
	// "DELETE /api_keys/api_key_123".
	Method, Path string
	// StatusCode is the HTTP status WorkOS answered.
	StatusCode int
	// Code is WorkOS's machine-readable code, e.g. "not_found"; may be empty.
	Code string
	// Message is WorkOS's human-readable message; may be empty.
	Message string
	// Errors are per-field validation errors of a 400 or 422, if any.
	Errors []FieldError
	// RequestID is the X-Request-ID of the response, for WorkOS support.
	RequestID string
	// RetryAfter is the response's Retry-After as sent (up to an hour),
	// whatever the client itself waited; zero if none.
	RetryAfter time.Duration

	sentinels []error
	// afterLostAnswer: an earlier attempt of the same call may have reached
	// WorkOS but got no answer, so this status may be the outcome of it.
	afterLostAnswer bool
}

// FieldError is one entry of the "errors" array of a validation failure.
type FieldError struct {
	Field string `json:"field"`
	Code  string `json:"code"`
}

func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("workos: ")
	if e.Method != "" {
		b.WriteString(e.Method + " " + e.Path + ": ")
	}
	b.WriteString("HTTP " + strconv.Itoa(e.StatusCode))
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	for _, f := range e.Errors {
		b.WriteString("; " + f.Field + ": " + f.Code)
	}
	if e.RequestID != "" {
		b.WriteString(" (request id " + e.RequestID + ")")
	}
	return b.String()
}

// Unwrap returns the sentinels that the status means.
func (e *APIError) Unwrap() []error { return e.sentinels }

// sentinelsFor maps a status to the sentinels an *APIError unwraps to;
// msg tells a missing object from a missing route on a 404.
func sentinelsFor(status int, code, msg string) []error {
	switch {
	case status == 401 || status == 403:
		return []error{ErrUnauthorized, apikey.ErrMisconfigured}
	case status == 404 && namesMissingObject(msg):
		return []error{ErrNotFound}
	case status == 404:
		return []error{ErrRouteNotFound, apikey.ErrMisconfigured}
	case status == 409 && (code == "" || code == "api_key_already_expired"):
		return []error{ErrAlreadyExpired}
	case status == 400 || status == 422:
		return []error{ErrBadRequest}
	case status == 429:
		return []error{ErrRateLimited, apikey.ErrUnavailable}
	case status == 408 || status >= 500:
		return []error{apikey.ErrUnavailable}
	}
	return nil
}

// missingObjects are the objects whose absence WorkOS reports with a 404,
// as its messages spell them once lowercased and without spaces: "API Key
// not found: 'api_key_…'." (the API's description), "ApiKey not found"
// (WorkOS's emulator), "Organization not found: 'org_…'.".
var missingObjects = []string{"apikey", "organization"}

// namesMissingObject reports whether a 404's message is WorkOS's answer
// for an object it does not know. An unknown path gets a bare "Not Found"
// from WorkOS, and a proxy or another server its own words: a 404 whose
// message names none of missingObjects must not read as "no such key",
// since a command would then report a key gone that still works.
func namesMissingObject(msg string) bool {
	name, _, ok := strings.Cut(strings.ToLower(msg), " not found")
	return ok && slices.Contains(missingObjects, strings.ReplaceAll(name, " ", ""))
}

// configError is the error of a constructor given something unusable: it
// matches apikey.ErrMisconfigured and ErrInvalidArgument, and says what is
// wrong in the constructor's own words.
type configError struct{ op, problem string }

func (e *configError) Error() string { return "workos: " + e.op + ": " + e.problem }

// Unwrap returns apikey.ErrMisconfigured and ErrInvalidArgument.
func (e *configError) Unwrap() []error { return []error{apikey.ErrMisconfigured, ErrInvalidArgument} }

// noAnswerError is a management call whose last attempt got no answer from
// WorkOS: a network error or a timeout. It matches apikey.ErrUnavailable,
// and reads as what happened rather than as apikey's "validator
// unavailable", since no validation was involved. The request may have
// been applied.
type noAnswerError struct {
	method, path string
	err          error
}

func (e *noAnswerError) Error() string {
	return "workos: " + e.method + " " + e.path + ": no answer from WorkOS: " + e.err.Error()
}

// Unwrap returns apikey.ErrUnavailable and the cause.
func (e *noAnswerError) Unwrap() []error { return []error{apikey.ErrUnavailable, e.err} }
