package workos

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// parseRetryAfter reads a Retry-After header: delay-seconds or an
// HTTP-date, relative to now. Anything unparsable, negative or past is
// zero; anything longer than limit (a sanity bound, not a policy) is limit.
func parseRetryAfter(v string, now time.Time, limit time.Duration) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseUint(v, 10, 64); err == nil {
		if n > uint64(limit/time.Second)+1 {
			return limit
		}
		d = time.Duration(n) * time.Second
	} else if strings.Trim(v, "0123456789") == "" {
		return limit // all digits, but beyond uint64
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	} else {
		return 0
	}
	return min(max(d, 0), limit)
}

// retryable reports whether a management call should be retried after
// status.
func retryable(status int) bool {
	switch status {
	case http.StatusRequestTimeout, http.StatusTooManyRequests,
		http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// backoffFor is the wait before retry n (0-based): backoff×2^n with ±50 %
// jitter, capped at maxBackoff.
func (c *Client) backoffFor(n int) time.Duration {
	d := c.backoff
	for i := 0; i < n && d < c.maxBackoff; i++ {
		d *= 2
	}
	d = time.Duration(float64(d) * (0.5 + rand.Float64()))
	return min(d, c.maxBackoff)
}

// newIdempotencyKey returns a random key for the retries of one POST.
func newIdempotencyKey() string {
	var b [16]byte
	_, _ = crand.Read(b[:])
	return "apikey-" + hex.EncodeToString(b[:])
}

// call runs a management request with retries: after network errors, 408,
// 429 and 5xx, waiting the backoff or the response's Retry-After (capped
// at maxRetryAfter), never past ctx's deadline. Every attempt of a POST
// carries the same Idempotency-Key (idemKey, or a random one). It returns
// the 2xx response, an *APIError, or a *noAnswerError when the last attempt
// got no answer. Errors matching ErrInvalidArgument mean nothing was sent.
func (c *Client) call(ctx context.Context, method, path string, query url.Values, payload any, idemKey string) (*response, error) {
	if ctx == nil {
		return nil, fmt.Errorf("%w: nil context", ErrInvalidArgument)
	}
	var body []byte
	if payload != nil {
		var err error
		if body, err = json.Marshal(payload); err != nil {
			return nil, fmt.Errorf("%w: cannot encode the request", ErrInvalidArgument)
		}
	}
	if method == http.MethodPost && idemKey == "" {
		idemKey = newIdempotencyKey()
	}
	// lost is set once an attempt may have reached WorkOS without its answer
	// reaching us: a later 404 or 409 may then be that attempt's doing.
	// A 5xx is an answer, so it does not set it.
	lost := false
	for attempt := 0; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, c.requestTimeout)
		r, err := c.send(actx, method, path, query, body, idemKey, "", managementBodyLimit)
		cancel()
		var wait time.Duration
		switch {
		case errors.Is(err, ErrInvalidArgument):
			return nil, err // the request could not be built: nothing was sent
		case err != nil:
			if ctx.Err() != nil {
				return nil, &noAnswerError{method: method, path: path, err: ctx.Err()}
			}
			lost = true
			err = &noAnswerError{method: method, path: path, err: err}
		case r.status >= 200 && r.status < 300:
			if r.tooLarge {
				return nil, fmt.Errorf("%w: %s %s: the body exceeds %d bytes", ErrMalformedResponse, method, path, managementBodyLimit)
			}
			return r, nil
		case retryable(r.status):
			wait = min(r.retryAfter, c.maxRetryAfter)
			err = c.apiError(method, path, r)
		default:
			ae := c.apiError(method, path, r)
			ae.afterLostAnswer = lost
			return nil, ae
		}
		if attempt >= c.maxRetries {
			return nil, err
		}
		if wait == 0 {
			wait = c.backoffFor(attempt)
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return nil, err
		}
		if serr := c.sleep(ctx, wait); serr != nil {
			return nil, err
		}
	}
}

// decodeJSON decodes a 2xx body into v, or reports ErrMalformedResponse.
func decodeJSON(method, path string, body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return fmt.Errorf("%w: %s %s: not JSON", ErrMalformedResponse, method, path)
		}
		return fmt.Errorf("%w: %s %s: unexpected shape", ErrMalformedResponse, method, path)
	}
	return nil
}
