package workos

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/apikeyauth/apikey"
)

const validatePath = "/api_keys/validations"

// minRetryBudget is the least time that must be left of the validation
// budget for the quick retry to be worth making.
const minRetryBudget = 100 * time.Millisecond

// Validate asks WorkOS whether value is a valid API key
// (POST /api_keys/validations). It implements apikey.Validator.
//
// It returns the key; or an error wrapping apikey.ErrInvalidKey when WorkOS
// answers "api_key": null (also for 400 and 422, and for a key whose
// expires_at has passed); an error wrapping apikey.ErrMisconfigured when
// WorkOS rejects the secret key (401, 403, logged once at Error level) or
// the base URL does not serve the API (404, 3xx); and otherwise an
// *apikey.UnavailableError carrying the response's Retry-After and
// X-Request-ID: for 429, 5xx, network errors, timeouts and malformed or
// oversized bodies.
//
// The whole call is bounded by ctx and by the validation budget (default
// 2s, see WithValidationBudget). After a network error or a 5xx it retries
// once, quickly, if at least 100ms of the budget is left; never after a 429. It is safe for
// concurrent use, and the value appears in no error or log.
func (c *Client) Validate(ctx context.Context, value string) (*apikey.Key, error) {
	if ctx == nil {
		return nil, fmt.Errorf("%w: nil context", ErrInvalidArgument)
	}
	if value == "" {
		return nil, apikey.ErrInvalidKey
	}
	body, err := json.Marshal(struct {
		Value string `json:"value"`
	}{value})
	if err != nil {
		// Only invalid UTF-8 is escaped, never refused; keep failing closed.
		return nil, apikey.ErrInvalidKey
	}
	ctx, cancel := context.WithTimeout(ctx, c.validationBudget)
	defer cancel()
	for attempt := 0; ; attempt++ {
		key, retry, err := c.validateOnce(ctx, value, body)
		if !retry || attempt > 0 {
			return key, err
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < quickRetryDelay+minRetryBudget {
			return key, err
		}
		if c.sleep(ctx, quickRetryDelay) != nil {
			return key, err
		}
	}
}

// validateOnce makes one attempt, and says whether a retry may help.
func (c *Client) validateOnce(ctx context.Context, value string, body []byte) (key *apikey.Key, retry bool, err error) {
	r, err := c.send(ctx, http.MethodPost, validatePath, nil, body, "", value, validationBodyLimit)
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, ctx.Err() == nil, &apikey.UnavailableError{Err: fmt.Errorf("workos: validation: %w", err)}
	}
	unavailable := func(cause error) error {
		return &apikey.UnavailableError{RetryAfter: r.retryAfter, RequestID: r.requestID, Err: cause}
	}
	switch {
	case r.status == http.StatusOK:
		if r.tooLarge {
			return nil, false, unavailable(fmt.Errorf("%w: the validation response exceeds %d bytes", ErrMalformedResponse, validationBodyLimit))
		}
		key, err = decodeValidation(r.body)
		switch {
		case err != nil:
			return nil, false, unavailable(err)
		case key == nil:
			return nil, false, apikey.ErrInvalidKey
		case !key.ExpiresAt.IsZero() && !c.now().Before(key.ExpiresAt):
			return nil, false, fmt.Errorf("%w: the key has expired", apikey.ErrInvalidKey)
		}
		return key, false, nil
	case r.status == http.StatusBadRequest, r.status == http.StatusUnprocessableEntity:
		return nil, false, fmt.Errorf("%w: WorkOS refused the value (HTTP %d)", apikey.ErrInvalidKey, r.status)
	case r.status == http.StatusUnauthorized, r.status == http.StatusForbidden,
		r.status == http.StatusNotFound, r.status >= 300 && r.status < 400:
		return nil, false, c.misconfigured(r)
	case r.status == http.StatusTooManyRequests:
		return nil, false, unavailable(fmt.Errorf("%w: validation: HTTP 429", ErrRateLimited))
	case r.status >= 500:
		return nil, true, unavailable(fmt.Errorf("workos: validation: HTTP %d", r.status))
	default:
		return nil, false, unavailable(fmt.Errorf("workos: validation: unexpected HTTP %d", r.status))
	}
}

// misconfigured reports, and logs loudly the first time, an answer that
// means the client is set up wrong rather than the key being bad.
func (c *Client) misconfigured(r *response) error {
	var reason string
	var err error
	switch r.status {
	case http.StatusUnauthorized, http.StatusForbidden:
		reason = "WorkOS rejected the secret key: check WORKOS_API_KEY and its environment"
		err = fmt.Errorf("%w: %w: validation: HTTP %d", apikey.ErrMisconfigured, ErrUnauthorized, r.status)
	default:
		reason = "the base URL does not serve the WorkOS API: check WORKOS_BASE_URL"
		err = fmt.Errorf("%w: validation: HTTP %d from %s%s", apikey.ErrMisconfigured, r.status, c.baseURL, validatePath)
	}
	if r.requestID != "" {
		err = fmt.Errorf("%w (request id %s)", err, r.requestID)
	}
	c.misconfigLog.Do(func() {
		c.logger.Error("workos: API key validation is misconfigured; every request with a key fails with 500 until this is fixed",
			"reason", reason, "status", r.status, "request_id", r.requestID, "base_url", c.baseURL)
	})
	return err
}

var _ apikey.Validator = (*Client)(nil)
