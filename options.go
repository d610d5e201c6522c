package apikey

import (
	"log/slog"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/apikeyauth/apikey/internal/nilcheck"
)

// Option configures a Middleware in New or a Cache in NewCache. Most options
// belong to one of the two: New passes the cache's options on to the Cache
// it builds, and NewCache refuses the middleware's, so that no option is
// ever silently ignored.
type Option func(*settings)

// settings is what the options fill in; New and NewCache check it.
type settings struct {
	// The middleware's.
	extract      Extractor
	ownExtract   bool // WithExtractor was given: the extractor is the user's code
	maxLen       int
	realm        string
	errorHandler ErrorHandler
	formatCheck  func(string) bool
	noCache      bool
	limitPolicy  func(*Key) []Limit
	limiter      Limiter
	limiterSet   bool // WithLimiter was given, perhaps nil
	quotas       QuotaStore
	quotasSet    bool // WithQuotas was given, perhaps nil
	cost         func(*http.Request) int

	// The cache's.
	size, negSize                  int
	ttl, negTTL, staleTTL, timeout time.Duration
	rate                           float64 // validator calls per second; 0: no bound, unless rateSet
	rateSet                        bool    // WithValidationRate was given, whatever its rate
	burst, maxInFlight             int
	reserve                        float64          // the share of both kept for known keys
	now                            func() time.Time // nil: the real clock
	clockSet                       bool             // WithClock was given, perhaps nil

	// Both's.
	hooks     Hooks
	logger    *slog.Logger // nil: slog.Default(), unless loggerSet
	loggerSet bool         // WithLogger was given, perhaps nil
	logEvery  time.Duration

	// The names of the options given, by owner, for the errors of options
	// that do not apply: the middleware's, the cache's, and those that
	// configure a cache as well as a middleware (a Validation or
	// Invalidation hook, the failure log).
	middlewareOpts, cacheOpts, sharedOpts []string
}

func defaultSettings() settings {
	return settings{
		extract: FromAuthorizationBearer, maxLen: DefaultMaxKeyLength, realm: DefaultRealm,
		size: DefaultCacheSize, negSize: DefaultNegativeCacheSize,
		ttl: DefaultCacheTTL, negTTL: DefaultNegativeCacheTTL, timeout: DefaultValidationTimeout,
		maxInFlight: DefaultMaxInFlight, reserve: DefaultKnownKeyReserve,
		logEvery: DefaultLogInterval,
	}
}

// apply fills settings from opts, refusing a nil one: a conditional option
// left unset is a mistake to report, not to panic on.
func apply(op string, opts []Option) (settings, error) {
	s := defaultSettings()
	for i, opt := range opts {
		if opt == nil {
			return s, configError(op, "option %d is nil", i)
		}
		opt(&s)
	}
	return s, nil
}

func middlewareOption(name string, set func(*settings)) Option {
	return func(s *settings) { set(s); s.middlewareOpts = append(s.middlewareOpts, name) }
}

func cacheOption(name string, set func(*settings)) Option {
	return func(s *settings) { set(s); s.cacheOpts = append(s.cacheOpts, name) }
}

// The defaults of the options.
const (
	// DefaultMaxKeyLength is the longest key, in bytes, that the middleware
	// passes to its validator.
	DefaultMaxKeyLength = 512
	// DefaultRealm is the realm of the WWW-Authenticate challenge.
	DefaultRealm = "api"

	// DefaultCacheSize and DefaultCacheTTL bound how many valid keys a
	// Cache keeps, and for how long.
	DefaultCacheSize = 10_000
	DefaultCacheTTL  = 30 * time.Second
	// DefaultNegativeCacheSize and DefaultNegativeCacheTTL bound how many
	// invalid keys a Cache remembers, and for how long.
	DefaultNegativeCacheSize = 10_000
	DefaultNegativeCacheTTL  = 5 * time.Second
	// DefaultValidationTimeout bounds each validator call a Cache makes.
	DefaultValidationTimeout = 5 * time.Second
	// DefaultMaxInFlight bounds the validator calls a Cache runs at once.
	DefaultMaxInFlight = 256
	// DefaultKnownKeyReserve is the share of the upstream budget kept
	// for keys that were valid recently.
	DefaultKnownKeyReserve = 0.5
)

// WithExtractor sets where the middleware looks for the key. A panic in e
// is answered 500 (ErrValidatorPanicked) and logged without its value.
// The middleware calls e once per request, and once more for a request
// that a permission guard refuses when there is a Hooks.Request and a
// cache, for the digest in the guard's report: e must read the request,
// not consume it (a value it cannot read again only leaves that digest
// zero).
// Default: FromAuthorizationBearer.
func WithExtractor(e Extractor) Option {
	return middlewareOption("WithExtractor", func(s *settings) { s.extract, s.ownExtract = e, true })
}

// WithMaxKeyLength sets the longest key, in bytes, that reaches the
// validator; longer ones are malformed (400). Default: 512.
func WithMaxKeyLength(n int) Option {
	return middlewareOption("WithMaxKeyLength", func(s *settings) { s.maxLen = n })
}

// WithRealm sets the realm of the WWW-Authenticate challenge, for the
// middleware's answers and for the permission guards behind it. It must be
// printable ASCII without quotes or backslashes. Default: "api".
func WithRealm(realm string) Option {
	return middlewareOption("WithRealm", func(s *settings) { s.realm = realm })
}

// WithErrorHandler replaces the default error responses, the middleware's
// and those of the permission guards behind it. The handler receives the
// error (match it with errors.Is against the sentinels) and must write the
// whole response; WriteError writes the default one, for a handler that
// only wants to log or to add a header, and SetErrorHeaders sets its
// headers (the WWW-Authenticate challenge, Retry-After), for a handler that
// writes its own body. Default: WriteError.
func WithErrorHandler(h ErrorHandler) Option {
	return middlewareOption("WithErrorHandler", func(s *settings) { s.errorHandler = h })
}

// WithFormatCheck makes the middleware refuse, as invalid (401), every key
// for which check returns false, before the cache or the validator sees it:
// a mistyped or random key costs no lookup. check must be fast, safe for
// concurrent use, and must not keep or log the value; KeyFormat.Check is
// one. A check that panics is the server's bug: the request is answered
// 500 (ErrValidatorPanicked), and the failure log gets the stack and the
// panic value's type, never the value. Default: none, every well-formed
// key reaches the validator.
func WithFormatCheck(check func(value string) bool) Option {
	return middlewareOption("WithFormatCheck", func(s *settings) { s.formatCheck = check })
}

// WithoutCache makes New call its validator on every request. Use it only
// with a validator that is fast and cheap, or that caches by itself.
// Default: New puts a Cache in front of the validator.
func WithoutCache() Option {
	return middlewareOption("WithoutCache", func(s *settings) { s.noCache = true })
}

// WithHooks adds callbacks that observe requests, validations and
// invalidations (see Hooks). Given several times, every set is called, in
// order. Given to New, it applies to the middleware and to the Cache New
// builds. Default: none.
func WithHooks(h Hooks) Option {
	return func(s *settings) {
		s.hooks = s.hooks.then(h)
		if h.Validation != nil || h.Invalidation != nil {
			s.sharedOpts = append(s.sharedOpts, "WithHooks")
		}
	}
}

// WithLogger sets where the failures an operator must see are written: a
// validator that panicked (with its stack, never the key), that reports
// itself misconfigured (500), or that is unavailable (503). Each kind is
// written at most once per WithLogInterval, with the count of those
// suppressed since the last line. WithLogger(nil), or a logger whose handler
// drops everything (slog.DiscardHandler), turns this logging off; nothing
// else does. Given to New, it applies to the Cache New builds too.
// Default: slog.Default(), read each time a line is written.
func WithLogger(l *slog.Logger) Option {
	return func(s *settings) {
		s.logger, s.loggerSet = l, true
		s.sharedOpts = append(s.sharedOpts, "WithLogger")
	}
}

// WithLogInterval sets the shortest time between two lines of one kind of
// failure (see WithLogger); zero writes every one. Default: 10s.
func WithLogInterval(d time.Duration) Option {
	return func(s *settings) {
		s.logEvery = d
		s.sharedOpts = append(s.sharedOpts, "WithLogInterval")
	}
}

// WithCacheSize bounds the number of valid keys a Cache keeps; the least
// recently used go first. The bound is kept per shard, so it holds
// approximately. Default: 10,000.
func WithCacheSize(n int) Option {
	return cacheOption("WithCacheSize", func(s *settings) { s.size = n })
}

// WithCacheTTL sets how long a valid key is served from a Cache before it is
// validated again: the longest a revocation that the cache is not told about
// can go unnoticed. Default: 30s.
func WithCacheTTL(d time.Duration) Option {
	return cacheOption("WithCacheTTL", func(s *settings) { s.ttl = d })
}

// WithNegativeCacheSize bounds the number of invalid keys a Cache
// remembers, in an LRU of their own. Default: 10,000.
func WithNegativeCacheSize(n int) Option {
	return cacheOption("WithNegativeCacheSize", func(s *settings) { s.negSize = n })
}

// WithNegativeCacheTTL sets how long an invalid key is remembered as
// invalid; zero turns negative caching off. Default: 5s.
func WithNegativeCacheTTL(d time.Duration) Option {
	return cacheOption("WithNegativeCacheTTL", func(s *settings) { s.negTTL = d })
}

// WithStaleIfError lets a Cache serve a valid key up to d past its TTL
// while the validator is unavailable (an error that matches neither
// ErrInvalidKey, ErrMisconfigured nor ErrValidatorPanicked), never past the
// key's own ExpiresAt and never once the validator has said the key is
// invalid. Default: 0, off.
func WithStaleIfError(d time.Duration) Option {
	return cacheOption("WithStaleIfError", func(s *settings) { s.staleTTL = d })
}

// WithValidationTimeout bounds each validator call a Cache makes, which
// runs detached from the requests waiting for it. When it passes, the
// waiting requests get an error matching ErrUnavailable and
// context.DeadlineExceeded, even if the validator ignores its context.
// Default: 5s.
func WithValidationTimeout(d time.Duration) Option {
	return cacheOption("WithValidationTimeout", func(s *settings) { s.timeout = d })
}

// WithClock sets the clock a Cache reads for its TTLs and for keys'
// ExpiresAt, so that tests can move time instead of sleeping.
// Default: time.Now.
func WithClock(now func() time.Time) Option {
	return cacheOption("WithClock", func(s *settings) { s.now, s.clockSet = now, true })
}

// WithValidationRate bounds the validator calls a Cache makes: perSecond on
// average, in bursts of at most burst. A miss over the budget is answered
// at once as unavailable (503 with Retry-After), without calling the
// validator and without waiting in a queue; with WithStaleIfError, a known
// key is then served stale. Part of the budget is kept for known keys (see
// WithKnownKeyReserve), so that a flood of keys never seen cannot spend
// what the customers whose entries expire during it need. A valid key never
// seen before competes with the flood: it may wait for the flood to pass.
// perSecond must be positive and finite, and burst at least 1: a rate of
// zero, NaN or infinity would bound nothing, so NewCache and New refuse it
// (leave the option out for no bound). Default: no bound per second.
func WithValidationRate(perSecond float64, burst int) Option {
	return cacheOption("WithValidationRate", func(s *settings) { s.rate, s.burst, s.rateSet = perSecond, burst, true })
}

// WithMaxInFlight bounds the validator calls a Cache runs at once, so that
// goroutines and sockets stay bounded however many distinct keys arrive
// together; a miss beyond the bound is answered as unavailable, at once.
// A call counts until the validator returns, even past the validation
// timeout. The known keys' share of WithKnownKeyReserve applies here too.
// Default: 256.
func WithMaxInFlight(n int) Option {
	return cacheOption("WithMaxInFlight", func(s *settings) { s.maxInFlight = n })
}

// WithKnownKeyReserve sets the share of the upstream budget (both
// WithValidationRate and WithMaxInFlight) that only known keys may use:
// keys the validator said were valid within the last 24 hours, whose entry
// the cache still holds (past its TTL, until the LRU drops it) or, with
// WithValidationRate, whose digest it remembers, up to twice the cache
// size. Known keys use the rest too; of its share of the burst, the
// reserve keeps one token per known key and lends the rest to the others.
// Default: 0.5.
func WithKnownKeyReserve(share float64) Option {
	return cacheOption("WithKnownKeyReserve", func(s *settings) { s.reserve = share })
}

// checkMiddleware reports the first middleware setting that cannot work.
func (s *settings) checkMiddleware() error {
	switch {
	case s.extract == nil:
		return configError("New", "the extractor is nil")
	case s.maxLen <= 0:
		return configError("New", "the maximum key length must be positive, not %d", s.maxLen)
	case !validRealm(s.realm):
		return configError("New", "the realm %q must be printable ASCII without quotes or backslashes", s.realm)
	case s.logEvery < 0:
		return configError("New", "the log interval must not be negative, not %s", s.logEvery)
	case s.limiterSet && nilcheck.Is(s.limiter):
		return configError("New", "the limiter is nil")
	case s.quotasSet && nilcheck.Is(s.quotas):
		return configError("New", "the quota store is nil")
	case s.noCache && len(s.cacheOpts) > 0:
		return configError("New", "%s configures the cache, which WithoutCache turns off", strings.Join(s.cacheOpts, ", "))
	}
	return nil
}

// checkCache reports the first cache setting that cannot work.
func (s *settings) checkCache(op string) error {
	switch {
	case s.size <= 0:
		return configError(op, "the cache size must be positive, not %d", s.size)
	case s.negSize <= 0:
		return configError(op, "the negative cache size must be positive, not %d", s.negSize)
	case s.ttl <= 0:
		return configError(op, "the cache TTL must be positive, not %s", s.ttl)
	case s.negTTL < 0:
		return configError(op, "the negative cache TTL must not be negative, not %s", s.negTTL)
	case s.staleTTL < 0:
		return configError(op, "the stale-if-error window must not be negative, not %s", s.staleTTL)
	case s.timeout <= 0:
		return configError(op, "the validation timeout must be positive, not %s", s.timeout)
	case s.rateSet && !(s.rate > 0 && s.rate <= math.MaxFloat64): // NaN fails both
		return configError(op, "the validation rate must be a positive, finite number of calls per second, not %g (leave WithValidationRate out for no bound)", s.rate)
	case s.rateSet && s.burst < 1:
		return configError(op, "the validation rate's burst must be at least 1, not %d", s.burst)
	case s.maxInFlight <= 0:
		return configError(op, "the maximum of validations in flight must be positive, not %d", s.maxInFlight)
	case !(s.reserve >= 0 && s.reserve < 1):
		return configError(op, "the known keys' reserve must be at least 0 and less than 1, not %g", s.reserve)
	case s.clockSet && s.now == nil:
		return configError(op, "the clock is nil")
	case s.logEvery < 0:
		return configError(op, "the log interval must not be negative, not %s", s.logEvery)
	}
	return nil
}

func validRealm(realm string) bool {
	return strings.IndexFunc(realm, func(c rune) bool { return c < 0x20 || c >= 0x7f || c == '"' || c == '\\' }) < 0
}
