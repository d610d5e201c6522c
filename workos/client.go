package workos

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apikeyauth/apikey"
)

// The defaults of New's options.
const (
	// DefaultBaseURL is WorkOS's production API.
	DefaultBaseURL = "https://api.workos.com"
	// DefaultUserAgent is the User-Agent the client sends.
	DefaultUserAgent = "apikey-workos/1 (+https://github.com/apikeyauth/apikey)"
	// DefaultValidationTimeout is the whole budget of one validation,
	// including its retry.
	DefaultValidationTimeout = 2 * time.Second
	// DefaultRequestTimeout bounds each attempt of a management call.
	DefaultRequestTimeout = 10 * time.Second
	// DefaultMaxRetries is how many times a management call is retried.
	DefaultMaxRetries = 3
	// DefaultBackoff is the first wait before retrying a management call;
	// it doubles with each retry, with jitter.
	DefaultBackoff = 500 * time.Millisecond
	// DefaultMaxBackoff caps the computed backoff between retries.
	DefaultMaxBackoff = 8 * time.Second
	// DefaultMaxRetryAfter caps how long a management call sleeps for a
	// Retry-After before retrying. Errors report the Retry-After as sent.
	DefaultMaxRetryAfter = 30 * time.Second
)

// maxReportedRetryAfter bounds the Retry-After that errors report: the
// real value, so that callers and 503 answers pass on what WorkOS asked,
// but no absurd one from a broken header.
const maxReportedRetryAfter = time.Hour

// Body limits: responses larger than these are malformed.
const (
	validationBodyLimit = 64 << 10
	managementBodyLimit = 4 << 20
	errorBodyLimit      = 64 << 10
)

// Client talks to the WorkOS API keys API. Build one with New. It is safe
// for concurrent use; the zero value is not usable.
//
// A Client implements apikey.Validator.
type Client struct {
	secret            secret
	baseURL           string // no trailing slash
	httpClient        *http.Client
	userAgent         string
	validationTimeout time.Duration
	requestTimeout    time.Duration
	maxRetries        int
	backoff           time.Duration
	maxBackoff        time.Duration
	maxRetryAfter     time.Duration
	quickRetryDelay   time.Duration
	now               func() time.Time
	sleep             func(ctx context.Context, d time.Duration) error
	logger            *slog.Logger

	invalidator  atomic.Pointer[invalidatorBox]
	misconfigLog sync.Once
	err          error // the first invalid option, reported by New
}

// Invalidator is what the client tells about keys it deletes or expires,
// and what the webhook handler tells about revoked or updated keys.
// *apikey.Cache satisfies it. InvalidateID must be safe for concurrent use.
type Invalidator interface {
	InvalidateID(id string)
}

type invalidatorBox struct{ inv Invalidator }

// Option configures a Client in New.
type Option func(*Client)

// WithBaseURL sets the API's base URL, for tests and local emulators. It
// must be an absolute http or https URL without user info or a query.
// Default: "https://api.workos.com".
func WithBaseURL(base string) Option {
	return func(c *Client) {
		u, err := url.Parse(base)
		switch {
		case err != nil:
			c.fail(errors.New("the base URL does not parse"))
		case u.Scheme != "http" && u.Scheme != "https", u.Host == "":
			c.fail(fmt.Errorf("the base URL %q must be an absolute http or https URL", c.clean(u.Redacted(), 200)))
		case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
			c.fail(errors.New("the base URL must have no user info, query or fragment"))
		default:
			c.baseURL = strings.TrimRight(u.String(), "/")
		}
	}
}

// WithHTTPClient sets the HTTP client. Its own Timeout, if any, applies on
// top of the client's budgets. Default: a client with its own transport
// that does not follow redirects.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc == nil {
			c.fail(errors.New("the HTTP client is nil"))
			return
		}
		c.httpClient = hc
	}
}

// WithUserAgent sets the User-Agent header. Default: DefaultUserAgent.
func WithUserAgent(ua string) Option {
	return func(c *Client) {
		if ua == "" || strings.ContainsAny(ua, "\r\n") {
			c.fail(errors.New("the User-Agent must be non-empty and on one line"))
			return
		}
		c.userAgent = ua
	}
}

// WithValidationTimeout sets the whole budget of one validation, its quick
// retry included. Default: 2s.
func WithValidationTimeout(d time.Duration) Option {
	return func(c *Client) { c.validationTimeout = d }
}

// WithRequestTimeout bounds each attempt of a management call (delete,
// list, create, expire). Default: 10s.
func WithRequestTimeout(d time.Duration) Option {
	return func(c *Client) { c.requestTimeout = d }
}

// WithRetries sets how many times a management call is retried after a
// network error, 408, 429 or 5xx (0 turns retries off), the first backoff,
// which doubles with each retry, with jitter of ±50 %, and the cap on the
// computed backoff. Default: 3, 500ms, 8s.
func WithRetries(max int, backoff, maxBackoff time.Duration) Option {
	return func(c *Client) { c.maxRetries, c.backoff, c.maxBackoff = max, backoff, maxBackoff }
}

// WithMaxRetryAfter caps how long a management call sleeps for a
// response's Retry-After before it retries. It does not change the
// RetryAfter that errors report, which is what WorkOS sent (up to an hour),
// so that a 503 passes the real wait on. Default: 30s.
func WithMaxRetryAfter(d time.Duration) Option {
	return func(c *Client) { c.maxRetryAfter = d }
}

// WithLogger sets where the client logs. It logs once, at Error level,
// when WorkOS rejects the secret key, and never logs a key value or the
// secret. Default: slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(c *Client) {
		if l == nil {
			c.fail(errors.New("the logger is nil"))
			return
		}
		c.logger = l
	}
}

// WithClock sets the clock used for expiry checks, HTTP-date Retry-After
// and rotation grace periods, for tests. Default: time.Now.
func WithClock(now func() time.Time) Option {
	return func(c *Client) {
		if now == nil {
			c.fail(errors.New("the clock is nil"))
			return
		}
		c.now = now
	}
}

// WithInvalidator connects a cache (or anything with InvalidateID) that the
// client tells about every key it deletes or expires. See SetInvalidator.
// Default: none.
func WithInvalidator(inv Invalidator) Option {
	return func(c *Client) { c.SetInvalidator(inv) }
}

// New returns a Client that authenticates to WorkOS with secretKey (the
// environment's "sk_..." API key). An empty secret or an invalid option is
// an error wrapping apikey.ErrMisconfigured and ErrInvalidArgument; the
// error never contains the secret.
func New(secretKey string, opts ...Option) (*Client, error) {
	c := &Client{
		secret:            secret(secretKey),
		baseURL:           DefaultBaseURL,
		userAgent:         DefaultUserAgent,
		validationTimeout: DefaultValidationTimeout,
		requestTimeout:    DefaultRequestTimeout,
		maxRetries:        DefaultMaxRetries,
		backoff:           DefaultBackoff,
		maxBackoff:        DefaultMaxBackoff,
		maxRetryAfter:     DefaultMaxRetryAfter,
		quickRetryDelay:   50 * time.Millisecond,
		now:               time.Now,
		sleep:             sleepCtx,
		logger:            slog.Default(),
	}
	if strings.TrimSpace(secretKey) == "" {
		c.fail(errors.New("the WorkOS secret key is empty"))
	} else if strings.IndexFunc(secretKey, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
		c.fail(errors.New("the WorkOS secret key contains spaces or control characters"))
	}
	for _, opt := range opts {
		if opt != nil {
			opt(c)
		}
	}
	switch {
	case c.err != nil:
	case c.validationTimeout <= 0, c.requestTimeout <= 0:
		c.fail(errors.New("timeouts must be positive"))
	case c.maxRetries < 0, c.backoff < 0, c.maxBackoff < 0, c.maxRetryAfter < 0:
		c.fail(errors.New("retry settings must not be negative"))
	}
	if c.err != nil {
		return nil, c.err
	}
	if c.httpClient == nil {
		c.httpClient = defaultHTTPClient()
	}
	return c, nil
}

func (c *Client) fail(err error) {
	if c.err == nil {
		c.err = fmt.Errorf("%w: %w: workos.New: %w", apikey.ErrMisconfigured, ErrInvalidArgument, err)
	}
}

// SetInvalidator connects inv, replacing any earlier one (nil disconnects):
// every key the client deletes or expires is invalidated in it by ID, so
// that the change holds at once in this process. Typically
// client.SetInvalidator(m.Cache()) after m, _ := apikey.New(client).
// It is safe to call concurrently with anything else.
func (c *Client) SetInvalidator(inv Invalidator) {
	if inv == nil || isNilInterface(inv) {
		c.invalidator.Store(nil)
		return
	}
	c.invalidator.Store(&invalidatorBox{inv})
}

func (c *Client) invalidate(id string) {
	if b := c.invalidator.Load(); b != nil {
		b.inv.InvalidateID(id)
	}
}

func defaultHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	return &http.Client{
		Transport: t,
		// A redirect means a wrong base URL; following it could turn a POST
		// into a GET or carry the secret elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
