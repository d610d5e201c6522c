package apikey

import (
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"time"
)

// DefaultMaxKeyLength is the longest key, in bytes, that the middleware
// passes to its validator unless WithMaxKeyLength says otherwise.
const DefaultMaxKeyLength = 512

// Middleware authenticates requests by API key. Build one with New and mount
// its Handler; it is safe for concurrent use. The zero value is not usable.
//
// Middleware never lets a request with an invalid key reach the next
// handler, never writes a key value to a response or an error, and fails
// closed: when the validator cannot decide, the request is refused with 503.
type Middleware struct {
	validator Validator
	cache     *Cache
	extract   Extractor
	maxLen    int
	optional  bool
	*responder
}

// Option configures a Middleware in New.
type Option func(*settings)

type settings struct {
	extract      Extractor
	maxLen       int
	realm        string
	errorHandler ErrorHandler
	optional     bool
	noCache      bool
	cacheOpts    []CacheOption
}

// WithExtractor sets where the middleware looks for the key.
// Default: FromAuthorizationBearer.
func WithExtractor(e Extractor) Option { return func(s *settings) { s.extract = e } }

// WithMaxKeyLength sets the longest key, in bytes, that reaches the
// validator; longer ones are malformed. Default: 512.
func WithMaxKeyLength(n int) Option { return func(s *settings) { s.maxLen = n } }

// WithRealm sets the realm of the WWW-Authenticate challenge. It must be
// printable ASCII without quotes or backslashes. Default: "api".
func WithRealm(realm string) Option { return func(s *settings) { s.realm = realm } }

// WithErrorHandler replaces the default JSON error responses. The handler
// receives the error (match it with errors.Is against the sentinels) and
// must write the whole response. Default: the responses of DESIGN.md's
// outcome table, with WWW-Authenticate, Cache-Control: no-store and, for
// 503, Retry-After.
func WithErrorHandler(h ErrorHandler) Option { return func(s *settings) { s.errorHandler = h } }

// WithCredentialsOptional lets requests that carry no key through,
// anonymously: FromContext reports no key for them. Requests that carry a
// malformed or invalid key are still refused. Default: a key is required.
func WithCredentialsOptional() Option { return func(s *settings) { s.optional = true } }

// New returns a Middleware that validates keys with v.
//
// Unless v is already a *Cache, or WithoutCache is given, New puts a Cache
// in front of v, configured by WithCacheOptions; Middleware.Cache returns it
// for invalidation. A nil v or an invalid option is an error wrapping
// ErrMisconfigured: the middleware never fails open at run time.
func New(v Validator, opts ...Option) (*Middleware, error) {
	if isNil(v) {
		return nil, fmt.Errorf("%w: New: the validator is nil", ErrMisconfigured)
	}
	s := settings{extract: FromAuthorizationBearer, maxLen: DefaultMaxKeyLength, realm: DefaultRealm}
	for _, opt := range opts {
		opt(&s)
	}
	if s.extract == nil {
		return nil, fmt.Errorf("%w: New: the extractor is nil", ErrMisconfigured)
	}
	if s.maxLen <= 0 {
		return nil, fmt.Errorf("%w: New: the maximum key length must be positive, not %d", ErrMisconfigured, s.maxLen)
	}
	if !validRealm(s.realm) {
		return nil, fmt.Errorf("%w: New: the realm %q must be printable ASCII without quotes or backslashes", ErrMisconfigured, s.realm)
	}
	m := &Middleware{
		validator: v,
		extract:   s.extract,
		maxLen:    s.maxLen,
		optional:  s.optional,
		responder: newResponder(s.realm, s.errorHandler),
	}
	if s.noCache && len(s.cacheOpts) > 0 {
		return nil, fmt.Errorf("%w: New: WithCacheOptions with WithoutCache", ErrMisconfigured)
	}
	if c, ok := v.(*Cache); ok {
		if len(s.cacheOpts) > 0 {
			return nil, fmt.Errorf("%w: New: WithCacheOptions with a *Cache, which has its options already", ErrMisconfigured)
		}
		m.cache = c
	} else if !s.noCache {
		c, err := NewCache(v, s.cacheOpts...)
		if err != nil {
			return nil, err
		}
		m.cache, m.validator = c, c
	}
	return m, nil
}

// isNil reports whether v is nil or holds a nil pointer or func, which would
// panic on first use.
func isNil(v Validator) bool {
	if v == nil {
		return true
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Pointer, reflect.Func, reflect.Map, reflect.Interface, reflect.Slice, reflect.Chan:
		return rv.IsNil()
	}
	return false
}

func validRealm(realm string) bool {
	return strings.IndexFunc(realm, func(c rune) bool { return c < 0x20 || c >= 0x7f || c == '"' || c == '\\' }) < 0
}

// Cache returns the cache in front of the validator, or nil when there is
// none (WithoutCache). Use it to invalidate keys that were revoked.
func (m *Middleware) Cache() *Cache { return m.cache }

// Authenticate extracts and validates the request's key, without writing
// anything. It returns the key; or nil and a nil error for a request without
// a key in credentials-optional mode; or an error that matches one of
// ErrMissingKey, ErrMalformedKey, ErrInvalidKey, ErrMisconfigured,
// ErrValidatorPanicked or ErrUnavailable (the last also for any validator
// error it does not know).
func (m *Middleware) Authenticate(r *http.Request) (*Key, error) {
	value, err := m.extract(r)
	if err != nil {
		if !errors.Is(err, ErrMalformedKey) {
			err = &malformedError{reason: "the key could not be read"}
		}
		return nil, err
	}
	if value == "" {
		if m.optional {
			return nil, nil
		}
		return nil, ErrMissingKey
	}
	if len(value) > m.maxLen {
		return nil, errMalformed(fmt.Sprintf("the key is longer than %d bytes", m.maxLen))
	}
	key, err := callValidator(r.Context(), m.validator, value)
	switch {
	case err != nil:
		return nil, err
	case key == nil:
		return nil, fmt.Errorf("%w: the validator returned no key and no error", ErrMisconfigured)
	case m.cache == nil && pastExpiry(key, time.Now):
		// Without a cache nothing else checks; a Cache never returns a key
		// past its expiry, so asking the clock again would be waste.
		return nil, ErrInvalidKey
	}
	return key, nil
}

// Handler returns next wrapped so that only authenticated requests reach it,
// with their key in the request context (see FromContext). It has the shape
// chi's Use expects.
func (m *Middleware) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, err := m.Authenticate(r)
		if err != nil {
			m.fail(w, r, err)
			return
		}
		if key != nil {
			r = r.WithContext(NewContext(r.Context(), key))
		}
		next.ServeHTTP(w, r)
	})
}

// RequirePermission is the package's RequirePermission, answering with this
// middleware's realm and error handler.
func (m *Middleware) RequirePermission(perms ...string) func(http.Handler) http.Handler {
	return m.requirePermission(true, perms)
}

// RequireAnyPermission is the package's RequireAnyPermission, answering with
// this middleware's realm and error handler.
func (m *Middleware) RequireAnyPermission(perms ...string) func(http.Handler) http.Handler {
	return m.requirePermission(false, perms)
}
