package workos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// response is what one attempt got back: the status, the headers the
// client uses, and the body read up to its limit.
type response struct {
	status     int
	body       []byte
	tooLarge   bool
	requestID  string
	retryAfter time.Duration // as sent, up to an hour; zero if absent or unparsable
}

// send makes one HTTP request and reads the response body up to limit
// bytes (tooLarge reports more). body is JSON-encoded when non-nil. hide is
// a key value the request carries, which the response's request ID must
// not be allowed to echo into errors and logs; "" for none.
func (c *Client) send(ctx context.Context, method, path string, query url.Values, body []byte, idemKey, hide string, limit int64) (*response, error) {
	u := c.baseURL + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("%w: cannot build the request", ErrInvalidArgument)
	}
	req.Header.Set("Authorization", "Bearer "+c.secret.reveal())
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	resp, err := c.httpClient.Do(req)
	if err != nil {
		return nil, scrubError(err)
	}
	defer resp.Body.Close()
	r := &response{
		status:     resp.StatusCode,
		requestID:  c.cleanRequestID(resp.Header.Get("X-Request-ID"), hide),
		retryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), c.now(), maxReportedRetryAfter),
	}
	if resp.StatusCode >= 300 {
		limit = errorBodyLimit
	}
	r.body, err = io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if int64(len(r.body)) > limit {
		r.body, r.tooLarge = r.body[:limit], true
	} else if err != nil {
		return nil, scrubError(err)
	}
	// Drain a little of what is left so the connection can be reused.
	_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
	return r, nil
}

// scrubError keeps the cause of a transport error but drops the URL that
// *url.Error carries: not a secret, but noise in an error chain.
func scrubError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", strings.ToLower(ue.Op), ue.Err)
	}
	return err
}

// requestIDLimit is the longest request ID put in errors and logs.
const requestIDLimit = 128

// cleanRequestID makes a response's X-Request-ID fit for errors and logs.
// It drops one that echoes hide (the key value being validated), checking
// the whole header before cutting it to requestIDLimit bytes: a cut echo
// would otherwise leave the key's first bytes behind.
func (c *Client) cleanRequestID(raw, hide string) string {
	if hide != "" && echoes(raw, hide) {
		return redacted
	}
	return c.clean(raw, requestIDLimit)
}

// echoes reports whether s holds value, or any 24 bytes in a row of it: a
// part of a key is as much a leak as the whole, once it is long enough to
// narrow a search. Windows of 16 bytes every 8 cover every run of 24.
func echoes(s, value string) bool {
	const window, step = 16, 8
	if len(value) <= window {
		return strings.Contains(s, value)
	}
	for i := 0; ; i += step {
		if i+window >= len(value) {
			return strings.Contains(s, value[len(value)-window:])
		}
		if strings.Contains(s, value[i:i+window]) {
			return true
		}
	}
}

// printable drops control characters, for text put in errors and logs.
func printable(v string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, v)
}

// errorBody is the union of WorkOS's error shapes.
type errorBody struct {
	Code             string       `json:"code"`
	Message          string       `json:"message"`
	Error            string       `json:"error"`
	ErrorDescription string       `json:"error_description"`
	Errors           []FieldError `json:"errors"`
}

// apiError builds the *APIError of a non-2xx response. Text from WorkOS is
// shortened and has the secret removed, in case it ever echoes it.
func (c *Client) apiError(method, path string, r *response) *APIError {
	var eb errorBody
	_ = json.Unmarshal(r.body, &eb) // any shape, or none
	code := firstNonEmpty(eb.Code, eb.Error)
	msg := firstNonEmpty(eb.Message, eb.ErrorDescription)
	e := &APIError{
		Method:     method,
		Path:       path,
		StatusCode: r.status,
		Code:       c.clean(code, 64),
		Message:    c.clean(msg, 300),
		RequestID:  r.requestID,
		RetryAfter: r.retryAfter,
	}
	for i, f := range eb.Errors {
		if i == 10 {
			break
		}
		e.Errors = append(e.Errors, FieldError{Field: c.clean(f.Field, 64), Code: c.clean(f.Code, 64)})
	}
	e.sentinels = sentinelsFor(r.status, eb.Code, msg)
	return e
}

// clean makes text from WorkOS fit for errors and logs: printable, at most
// max bytes, and without the secret key, whole or in part (as a server
// that echoes a cut copy of it would leave).
func (c *Client) clean(s string, max int) string {
	if v := c.secret.reveal(); v != "" && echoes(s, v) {
		return redacted
	}
	s = printable(s)
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// checkID refuses IDs that cannot name a WorkOS object: empty, too long,
// with spaces or control characters, or a dot segment that a server might
// resolve as a path.
func checkID(what, id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: the %s is empty", ErrInvalidArgument, what)
	case len(id) > 256:
		return fmt.Errorf("%w: the %s is longer than 256 bytes", ErrInvalidArgument, what)
	case id == "." || id == "..":
		return fmt.Errorf("%w: the %s is a dot segment", ErrInvalidArgument, what)
	case strings.IndexFunc(id, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0:
		return fmt.Errorf("%w: the %s contains spaces or control characters", ErrInvalidArgument, what)
	}
	return nil
}
