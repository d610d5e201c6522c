package workos

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apikeyauth/apikey"
	"github.com/apikeyauth/apikey/internal/nilcheck"
)

// The defaults of New's options.
const (
	// DefaultBaseURL is WorkOS's production API.
	DefaultBaseURL = "https://api.workos.com"
	// DefaultUserAgent is the User-Agent the client sends.
	DefaultUserAgent = "apikey-workos/1 (+https://github.com/apikeyauth/apikey)"
	// DefaultValidationBudget bounds one call of Validate, its quick retry
	// included. It is shorter than apikey.DefaultValidationTimeout, the
	// cache's own bound on a validator call, so that the client's answer
	// (with WorkOS's Retry-After and request ID) arrives before the cache
	// gives up.
	DefaultValidationBudget = 2 * time.Second
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

// RateLimit is how many requests per second WorkOS accepts per secret key
// (6,000 per 60 s), shared by every process that uses the key, validations
// and management calls alike; beyond it WorkOS answers 429 for everyone.
// Give each process a share of it for validations with
// apikey.WithValidationRate: RateLimit/2 for one process, less for a fleet.
const RateLimit = 100

// maxReportedRetryAfter bounds the Retry-After that errors report: the
// real value, so that callers and 503 answers pass on what WorkOS asked,
// but no absurd one from a broken header.
const maxReportedRetryAfter = time.Hour

// quickRetryDelay is the wait before Validate's one retry.
const quickRetryDelay = 50 * time.Millisecond

// Body limits: responses larger than these are malformed.
const (
	validationBodyLimit = 64 << 10
	managementBodyLimit = 4 << 20
	errorBodyLimit      = 64 << 10
)

// Client talks to the WorkOS API keys API. Build one with New; the zero
// value is not usable. It is safe for concurrent use.
//
// A Client implements apikey.Validator. Printing or logging it, by value
// or by pointer, never shows the secret key.
type Client struct {
	settings
	// secret is behind a pointer so that printing a copy of the Client
	// shows an address, not the key: fmt cannot call the methods of an
	// unexported field.
	secret       *secret
	invalidator  atomic.Pointer[invalidatorBox]
	misconfigLog sync.Once
}

// settings are what New's options fill; New checks them all.
type settings struct {
	baseURL          string // New removes a trailing slash
	httpClient       *http.Client
	userAgent        string
	validationBudget time.Duration
	requestTimeout   time.Duration
	maxRetries       int
	backoff          time.Duration
	maxBackoff       time.Duration
	maxRetryAfter    time.Duration
	now              func() time.Time
	logger           *slog.Logger
	// sleep waits between retries; the package's tests replace it.
	sleep func(ctx context.Context, d time.Duration) error
}

// Invalidator is what the client tells about keys it deletes or expires
// (with Origin apikey.OriginLocal), and what the webhook handler tells
// about revoked or updated keys (apikey.OriginWebhook), always by ID.
// *apikey.Cache satisfies it. Invalidate must be safe for concurrent use.
type Invalidator interface {
	Invalidate(apikey.Invalidation)
}

type invalidatorBox struct{ inv Invalidator }

// An Option configures New. Options only record a setting, the last one
// given for each counting; New then checks them all and reports the first
// problem. They never change a Client that exists.
type Option func(*settings)

// WithBaseURL sets the API's base URL, for tests and local emulators. It
// must be an absolute http or https URL without user info, query or
// fragment. Default: "https://api.workos.com".
func WithBaseURL(base string) Option {
	return func(s *settings) { s.baseURL = base }
}

// WithHTTPClient sets the HTTP client. Its own Timeout, if any, applies on
// top of the client's budgets. It must not be nil. Default: a client with
// its own transport that does not follow redirects.
func WithHTTPClient(hc *http.Client) Option {
	return func(s *settings) { s.httpClient = hc }
}

// WithUserAgent sets the User-Agent header, non-empty and on one line.
// Default: DefaultUserAgent.
func WithUserAgent(ua string) Option {
	return func(s *settings) { s.userAgent = ua }
}

// WithValidationBudget bounds one call of Validate, its quick retry
// included; it must be positive. Default: 2s (DefaultValidationBudget).
func WithValidationBudget(d time.Duration) Option {
	return func(s *settings) { s.validationBudget = d }
}

// WithRequestTimeout bounds each attempt of a management call (delete,
// list, create, expire); it must be positive. Default: 10s.
func WithRequestTimeout(d time.Duration) Option {
	return func(s *settings) { s.requestTimeout = d }
}

// WithRetries sets how many times a management call is retried after a
// network error, 408, 429 or 5xx (0 turns retries off), the first backoff,
// which doubles with each retry, with jitter of ±50 %, and the cap on the
// computed backoff. None may be negative. Default: 3, 500ms, 8s.
func WithRetries(max int, backoff, maxBackoff time.Duration) Option {
	return func(s *settings) { s.maxRetries, s.backoff, s.maxBackoff = max, backoff, maxBackoff }
}

// WithMaxRetryAfter caps how long a management call sleeps for a
// response's Retry-After before it retries; it must not be negative. It
// does not change the RetryAfter that errors report, which is what WorkOS
// sent (up to an hour), so that a 503 passes the real wait on.
// Default: 30s.
func WithMaxRetryAfter(d time.Duration) Option {
	return func(s *settings) { s.maxRetryAfter = d }
}

// WithLogger sets where the client logs, not nil. It logs once, at Error
// level, when WorkOS rejects the secret key, and never logs a key value or
// the secret. Default: slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(s *settings) { s.logger = l }
}

// WithClock sets the clock used for expiry checks, HTTP-date Retry-After
// and rotation grace periods, not nil: for tests of code that uses the
// client. Default: time.Now.
func WithClock(now func() time.Time) Option {
	return func(s *settings) { s.now = now }
}

// New returns a Client that authenticates to WorkOS with secretKey (the
// environment's "sk_..." API key). An empty secret or an invalid option is
// an error wrapping apikey.ErrMisconfigured and ErrInvalidArgument, which
// names the first problem found; it never contains the secret.
func New(secretKey string, opts ...Option) (*Client, error) {
	s := settings{
		baseURL:          DefaultBaseURL,
		userAgent:        DefaultUserAgent,
		validationBudget: DefaultValidationBudget,
		requestTimeout:   DefaultRequestTimeout,
		maxRetries:       DefaultMaxRetries,
		backoff:          DefaultBackoff,
		maxBackoff:       DefaultMaxBackoff,
		maxRetryAfter:    DefaultMaxRetryAfter,
		now:              time.Now,
		logger:           slog.Default(),
		sleep:            sleepCtx,
		httpClient:       defaultHTTPClient(),
	}
	for _, opt := range opts {
		if opt != nil {
			opt(&s)
		}
	}
	c := &Client{settings: s, secret: newSecret(secretKey)}
	if problem := c.check(secretKey); problem != "" {
		return nil, &configError{"New", problem}
	}
	return c, nil
}

// check validates the secret and the settings, and normalizes the base
// URL. It
// returns the first problem, in words that never include the secret.
func (c *Client) check(secretKey string) string {
	switch {
	case strings.TrimSpace(secretKey) == "":
		return "the WorkOS secret key is empty"
	case strings.IndexFunc(secretKey, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0:
		return "the WorkOS secret key contains spaces or control characters"
	}
	u, err := url.Parse(c.baseURL)
	switch {
	case err != nil:
		return "the base URL does not parse"
	case u.Scheme != "http" && u.Scheme != "https", u.Host == "":
		return fmt.Sprintf("the base URL %q must be an absolute http or https URL", c.clean(u.Redacted(), 200))
	case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		return "the base URL must have no user info, query or fragment"
	}
	c.baseURL = strings.TrimRight(u.String(), "/")
	switch {
	case c.userAgent == "" || strings.ContainsAny(c.userAgent, "\r\n"):
		return "the User-Agent must be non-empty and on one line"
	case c.validationBudget <= 0:
		return fmt.Sprintf("the validation budget must be positive, not %v", c.validationBudget)
	case c.requestTimeout <= 0:
		return fmt.Sprintf("the request timeout must be positive, not %v", c.requestTimeout)
	case c.maxRetries < 0, c.backoff < 0, c.maxBackoff < 0:
		return "the retry count and backoffs must not be negative"
	case c.maxRetryAfter < 0:
		return fmt.Sprintf("the Retry-After cap must not be negative, not %v", c.maxRetryAfter)
	case c.logger == nil:
		return "the logger is nil"
	case c.now == nil:
		return "the clock is nil"
	case c.sleep == nil:
		return "the sleep function is nil"
	case c.httpClient == nil:
		return "the HTTP client is nil"
	}
	return ""
}

// SetInvalidator connects inv, replacing any earlier one (nil disconnects):
// every key the client deletes or expires is invalidated in it by ID, so
// that the change holds at once in this process. Typically
// client.SetInvalidator(m.Cache()) after m, _ := apikey.New(client).
// It is safe to call concurrently with anything else.
func (c *Client) SetInvalidator(inv Invalidator) {
	if nilcheck.Is(inv) {
		c.invalidator.Store(nil)
		return
	}
	c.invalidator.Store(&invalidatorBox{inv})
}

func (c *Client) invalidate(id string) {
	if b := c.invalidator.Load(); b != nil {
		b.inv.Invalidate(apikey.Invalidation{ID: id, Origin: apikey.OriginLocal})
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
