package apikey

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ErrorHandler writes the response for a request that failed authentication
// or authorization. err matches one of the package's sentinel errors
// (errors.Is), or is a validator error the middleware could not classify,
// which counts as ErrUnavailable (OutcomeOf tells which). It never holds
// the key value. WriteError is the default; a handler may call it to keep
// the default response and only log, count or add a header, or call
// SetErrorHeaders and StatusCode to keep the default headers and status
// under a body of its own.
type ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)

// defaultRetryAfter is the Retry-After of a 503 whose cause gave none, and
// maxRetryAfter the longest one sent, whatever the cause asked.
const (
	defaultRetryAfter = time.Second
	maxRetryAfter     = 24 * time.Hour
)

// responder answers failed requests: through the user's ErrorHandler if
// there is one, else with the default responses.
type responder struct {
	realm   string // quoted for the challenge; New checks it needs no escaping
	handler ErrorHandler
	request func(RequestEvent) // the middleware's Hooks.Request, for the guards' refusals

	// With a Hooks.Request, the middleware's responder has reporters, and
	// each reporter a twin (hooks.go).
	reporters *[len(answers)]*responder        // one per answer, indexed like answers
	origin    *responder                       // a reporter's middleware responder; nil for that one
	answer    Answer                           // a reporter's
	digestOf  func(*http.Request, *Key) Digest // Middleware.requestDigest
	reported  *responder                       // a reporter's twin, reported; the twin's itself
}

var defaultResponder = newResponder(DefaultRealm, nil)

func newResponder(realm string, h ErrorHandler) *responder {
	return &responder{realm: `"` + realm + `"`, handler: h}
}

func (rs *responder) fail(w http.ResponseWriter, r *http.Request, err error) {
	if rs.handler == nil {
		rs.write(w, err)
		return
	}
	// The handler may call WriteError, which must find this realm.
	if responderFrom(r.Context()).self() != rs.self() {
		r = r.WithContext(newAuthContext(r.Context(), nil, rs))
	}
	rs.handler(w, r, err)
}

// WriteError writes the default response for err: the status, body and
// headers of its row in the outcome table (see the package doc), with the
// realm of the Middleware that handled r, or DefaultRealm. Custom error
// handlers call it to delegate; it never calls one itself.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	responderOf(r).write(w, err)
}

// SetErrorHeaders sets on w the headers of err's default response and
// writes nothing: the RFC 6750 WWW-Authenticate challenge (with the realm
// of the Middleware that handled r, or DefaultRealm) on a 400, 401 or 403,
// Retry-After on a 503 and on a 429 that has one, and Cache-Control:
// no-store. A custom ErrorHandler
// that writes its own body calls it first, then writes StatusCode(err), so
// that clients still learn how to authenticate and when to retry.
// WriteError calls it too: both send the same headers.
func SetErrorHeaders(w http.ResponseWriter, r *http.Request, err error) {
	responderOf(r).setHeaders(w.Header(), classify(err), err)
}

// responderOf returns the responder of the Middleware that handled r; a nil
// r gets the default one rather than a panic.
func responderOf(r *http.Request) *responder {
	if r == nil {
		return defaultResponder
	}
	return responderFrom(r.Context())
}

// outcome is one row of the outcome table.
type outcome struct {
	status    int
	code      string // the JSON error and, where one is sent, the challenge's error attribute
	challenge bool
	body      []byte // the JSON body with the default description, built once
}

func newOutcome(status int, code string, challenge bool, description string) *outcome {
	return &outcome{status, code, challenge, jsonBody(code, description)}
}

var outcomes = map[Outcome]*outcome{
	OutcomeMissing:     newOutcome(http.StatusUnauthorized, "missing_key", true, "The request carries no API key. Send it as: Authorization: Bearer <key>."),
	OutcomeMalformed:   newOutcome(http.StatusBadRequest, "invalid_request", true, "The API key is malformed."),
	OutcomeInvalid:     newOutcome(http.StatusUnauthorized, "invalid_token", true, "The API key is unknown, revoked or expired."),
	OutcomeForbidden:   newOutcome(http.StatusForbidden, "insufficient_scope", true, "The API key lacks a required permission."),
	OutcomeRateLimited: newOutcome(http.StatusTooManyRequests, "rate_limited", false, "The API key is over its rate limit. Try again after the time in Retry-After."),
	OutcomeUnavailable: newOutcome(http.StatusServiceUnavailable, "temporarily_unavailable", false, "The API key cannot be checked right now. Try again later."),
	OutcomeError:       newOutcome(http.StatusInternalServerError, "server_error", false, "The API key cannot be checked because of a server error."),
}

// quotaExhaustedBody is the body of a 429 for a quota, whose error code
// tells a client that waiting a second will not do.
var quotaExhaustedBody = jsonBody("quota_exhausted", "The API key has used up its quota. Try again after the time in Retry-After, if any.")

// classify maps an error to its row. A nil error is a programming error
// that fails closed too.
func classify(err error) *outcome {
	if o, ok := outcomes[OutcomeOf(err)]; ok {
		return o
	}
	return outcomes[OutcomeError]
}

// StatusCode returns the HTTP status the default responses give err, for
// error handlers that want to keep the status and change only the body.
func StatusCode(err error) int { return classify(err).status }

func (rs *responder) write(w http.ResponseWriter, err error) {
	o := classify(err)
	rs.setHeaders(w.Header(), o, err)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(o.status)
	w.Write(errorBody(o, err))
}

// setHeaders sets the headers of o's default response to err, the body's
// Content-Type aside.
func (rs *responder) setHeaders(h http.Header, o *outcome, err error) {
	h.Set("Cache-Control", "no-store")
	if o.challenge {
		h.Set("WWW-Authenticate", rs.challenge(o, err))
	}
	switch o.status {
	case http.StatusServiceUnavailable:
		h.Set("Retry-After", retryAfterSeconds(err))
	case http.StatusTooManyRequests:
		var le *LimitError
		if errors.As(err, &le) && le.RetryAfter > 0 {
			h.Set("Retry-After", strconv.FormatInt(ceilSeconds(le.RetryAfter), 10))
		}
	}
}

// ceilSeconds rounds d up to whole seconds, for Retry-After and the
// RateLimit fields: a client told to come back sooner would be refused
// again.
func ceilSeconds(d time.Duration) int64 {
	return int64((d + time.Second - 1) / time.Second)
}

// challenge builds the WWW-Authenticate value (RFC 6750 §3). A missing key
// gets no error attribute, as §3.1 asks.
func (rs *responder) challenge(o *outcome, err error) string {
	c := `Bearer realm=` + rs.realm
	if o == outcomes[OutcomeMissing] {
		return c
	}
	c += `, error="` + o.code + `"`
	var pe *PermissionError
	if errors.As(err, &pe) {
		c += `, scope="` + scopeValue(pe.Missing) + `"`
	}
	return c
}

// scopeValue joins permissions for the scope attribute, dropping any that
// could break out of the quoted string (RFC 6750 §3: scope-token characters
// are %x21 / %x23-5B / %x5D-7E).
func scopeValue(perms []string) string {
	clean := make([]string, 0, len(perms))
	for _, p := range perms {
		if p != "" && strings.IndexFunc(p, func(c rune) bool { return c <= 0x20 || c == '"' || c == '\\' || c >= 0x7f }) < 0 {
			clean = append(clean, p)
		}
	}
	return strings.Join(clean, " ")
}

// retryAfterSeconds rounds the wait up to whole seconds, after clamping it:
// a cause that asks for "forever" (math.MaxInt64) must not overflow.
func retryAfterSeconds(err error) string {
	d := defaultRetryAfter
	var ue *UnavailableError
	if errors.As(err, &ue) && ue.RetryAfter > 0 {
		d = min(ue.RetryAfter, maxRetryAfter)
	}
	return strconv.FormatInt(ceilSeconds(d), 10)
}

// errorBody is the small JSON body of every default error response. Only a
// malformed key and a missing permission get a specific description, and
// neither ever holds the key.
func errorBody(o *outcome, err error) []byte {
	var me *malformedError
	if errors.As(err, &me) {
		return jsonBody(o.code, "The API key is malformed: "+me.reason+".")
	}
	var pe *PermissionError
	if errors.As(err, &pe) && len(pe.Missing) > 0 {
		return jsonBody(o.code, "The API key lacks a required permission: "+scopeValue(pe.Missing)+".")
	}
	if errors.Is(err, ErrQuotaExhausted) {
		return quotaExhaustedBody
	}
	return o.body
}

func jsonBody(code, description string) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(errorJSON{code, description}) // cannot fail: two strings
	return b.Bytes()
}

type errorJSON struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// self returns the middleware responder that rs is, or is a reporter of.
func (rs *responder) self() *responder {
	if rs.origin != nil {
		return rs.origin
	}
	return rs
}
