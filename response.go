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
// which counts as ErrUnavailable. It never holds the key value.
type ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)

// DefaultRealm is the realm of the WWW-Authenticate challenge unless
// WithRealm says otherwise.
const DefaultRealm = "api"

// defaultRetryAfter is the Retry-After of a 503 whose cause gave none.
const defaultRetryAfter = time.Second

// responder answers failed requests: through the user's ErrorHandler if
// there is one, else with the package's default responses.
type responder struct {
	realm   string // quoted for the challenge; New checks it needs no escaping
	handler ErrorHandler
}

var defaultResponder = newResponder(DefaultRealm, nil)

func newResponder(realm string, h ErrorHandler) *responder {
	return &responder{realm: `"` + realm + `"`, handler: h}
}

func (rs *responder) fail(w http.ResponseWriter, r *http.Request, err error) {
	if rs.handler != nil {
		rs.handler(w, r, err)
		return
	}
	rs.writeError(w, err)
}

// outcome is one row of the outcome table in DESIGN.md.
type outcome struct {
	status    int
	code      string // the JSON error and, where one is sent, the challenge's error attribute
	challenge bool
	body      []byte // the JSON body with the default description, built once
}

func newOutcome(status int, code string, challenge bool, description string) *outcome {
	return &outcome{status, code, challenge, jsonBody(code, description)}
}

var (
	outcomeMissing     = newOutcome(http.StatusUnauthorized, "missing_key", true, "The request carries no API key. Send it as: Authorization: Bearer <key>.")
	outcomeMalformed   = newOutcome(http.StatusBadRequest, "invalid_request", true, "The API key is malformed.")
	outcomeInvalid     = newOutcome(http.StatusUnauthorized, "invalid_token", true, "The API key is unknown, revoked or expired.")
	outcomeForbidden   = newOutcome(http.StatusForbidden, "insufficient_scope", true, "The API key lacks a required permission.")
	outcomeUnavailable = newOutcome(http.StatusServiceUnavailable, "temporarily_unavailable", false, "The API key cannot be checked right now. Try again later.")
	outcomeServerError = newOutcome(http.StatusInternalServerError, "server_error", false, "The API key cannot be checked because of a server error.")
)

// classify maps an error to its outcome. Anything unknown is "could not
// decide", which fails closed as unavailable.
func classify(err error) *outcome {
	switch {
	case errors.Is(err, ErrMissingKey):
		return outcomeMissing
	case errors.Is(err, ErrMalformedKey):
		return outcomeMalformed
	case errors.Is(err, ErrInvalidKey):
		return outcomeInvalid
	case errors.Is(err, ErrForbidden):
		return outcomeForbidden
	case errors.Is(err, ErrMisconfigured), errors.Is(err, ErrValidatorPanicked):
		return outcomeServerError
	default:
		return outcomeUnavailable
	}
}

// StatusCode returns the HTTP status the default responses give err, for
// error handlers that want to keep the status and change only the body.
func StatusCode(err error) int { return classify(err).status }

func (rs *responder) writeError(w http.ResponseWriter, err error) {
	o := classify(err)
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", "application/json")
	if o.challenge {
		h.Set("WWW-Authenticate", rs.challenge(o, err))
	}
	if o.status == http.StatusServiceUnavailable {
		h.Set("Retry-After", retryAfterSeconds(err))
	}
	w.WriteHeader(o.status)
	w.Write(errorBody(o, err))
}

// challenge builds the WWW-Authenticate value (RFC 6750 §3). A missing key
// gets no error attribute, as §3.1 asks.
func (rs *responder) challenge(o *outcome, err error) string {
	c := `Bearer realm=` + rs.realm
	if o == outcomeMissing {
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

func retryAfterSeconds(err error) string {
	d := defaultRetryAfter
	var ue *UnavailableError
	if errors.As(err, &ue) && ue.RetryAfter > 0 {
		d = ue.RetryAfter
	}
	return strconv.FormatInt(int64((d+time.Second-1)/time.Second), 10)
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
