package apikey

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// outcomeCase is one row of the outcome table (see the package doc), or a header edge case
// that lands on one.
type outcomeCase struct {
	name       string
	header     []string // Authorization values
	validator  Validator
	status     int
	challenge  string // WWW-Authenticate, "" for none
	code       string // JSON error
	retryAfter string
	opts       []Option // the middleware's, besides the cache's
}

func unavailable(err error) Validator {
	return ValidatorFunc(func(context.Context, string) (*Key, error) { return nil, err })
}

func outcomeCases() []outcomeCase {
	static := testStatic()
	return []outcomeCase{
		{"valid key", []string{"Bearer " + writerValue}, static, 200, "", "", "", nil},
		{"lowercase scheme", []string{"bearer " + writerValue}, static, 200, "", "", "", nil},
		{"extra spaces", []string{"Bearer    " + writerValue}, static, 200, "", "", "", nil},

		{"no credentials", nil, static, 401, `Bearer realm="api"`, "missing_key", "", nil},
		{"basic scheme", []string{"Basic dXNlcjpwYXNz"}, static, 401, `Bearer realm="api"`, "missing_key", "", nil},

		{"empty key", []string{"Bearer "}, static, 400, `Bearer realm="api", error="invalid_request"`, "invalid_request", "", nil},
		{"tab", []string{"Bearer\t" + writerValue}, static, 400, `Bearer realm="api", error="invalid_request"`, "invalid_request", "", nil},
		{"non-token68 bytes", []string{"Bearer sk_<script>"}, static, 400, `Bearer realm="api", error="invalid_request"`, "invalid_request", "", nil},
		{"10 KB key", []string{"Bearer " + strings.Repeat("k", 10<<10)}, static, 400, `Bearer realm="api", error="invalid_request"`, "invalid_request", "", nil},
		{"duplicate header", []string{"Bearer " + writerValue, "Bearer " + writerValue}, static, 400, `Bearer realm="api", error="invalid_request"`, "invalid_request", "", nil},
		{"two credentials", []string{"Bearer " + writerValue + " " + readerValue}, static, 400, `Bearer realm="api", error="invalid_request"`, "invalid_request", "", nil},

		{"unknown key", []string{"Bearer sk_test_unknown"}, static, 401, `Bearer realm="api", error="invalid_token"`, "invalid_token", "", nil},
		{"expired key", []string{"Bearer " + writerValue}, ValidatorFunc(func(context.Context, string) (*Key, error) {
			k := writerKey
			k.ExpiresAt = time.Now().Add(-time.Minute)
			return &k, nil
		}), 401, `Bearer realm="api", error="invalid_token"`, "invalid_token", "", nil},

		{"lacks permission", []string{"Bearer " + readerValue}, static, 403, `Bearer realm="api", error="insufficient_scope", scope="posts:write"`, "insufficient_scope", "", nil},

		{"validator unavailable", []string{"Bearer " + writerValue}, unavailable(errors.New("dial tcp: connection refused")), 503, "", "temporarily_unavailable", "1", nil},
		{"upstream 429 with Retry-After", []string{"Bearer " + writerValue}, unavailable(&UnavailableError{RetryAfter: 2500 * time.Millisecond, RequestID: "req_1"}), 503, "", "temporarily_unavailable", "3", nil},
		{"validator timeout", []string{"Bearer " + writerValue}, unavailable(context.DeadlineExceeded), 503, "", "temporarily_unavailable", "1", nil},
		{"validator misconfigured", []string{"Bearer " + writerValue}, unavailable(fmt.Errorf("workos: %w: 401", ErrMisconfigured)), 500, "", "server_error", "", nil},
		{"validator panics", []string{"Bearer " + writerValue}, ValidatorFunc(func(context.Context, string) (*Key, error) { panic("boom " + writerValue) }), 500, "", "server_error", "", nil},
		{"validator returns nothing", []string{"Bearer " + writerValue}, ValidatorFunc(func(context.Context, string) (*Key, error) { return nil, nil }), 500, "", "server_error", "", nil},

		{"over a rate limit", []string{"Bearer " + writerValue}, withLimits(Limit{Rate: 1, Period: time.Minute}), 429, "", "rate_limited", "60", []Option{WithLimiter(spentLimiter{})}},
		{"quota exhausted", []string{"Bearer " + writerValue}, withQuota(&Quota{}), 429, "", "quota_exhausted", "3600", []Option{WithQuotas(emptyQuotas{})}},
		{"quota that never refills exhausted", []string{"Bearer " + writerValue}, withQuota(&Quota{}), 429, "", "quota_exhausted", "", []Option{WithQuotas(QuotaStoreFunc(func(context.Context, *Key, int64) (QuotaDecision, error) { return QuotaDecision{}, nil }))}},
		{"quota without a store", []string{"Bearer " + writerValue}, withQuota(&Quota{Remaining: 5}), 500, "", "server_error", "", nil},
		{"limiter unavailable", []string{"Bearer " + writerValue}, withLimits(Limit{Rate: 1, Period: time.Minute}), 503, "", "temporarily_unavailable", "1", []Option{WithLimiter(failingLimiter{errors.New("connection refused")})}},
	}
}

// serveBoth runs a request through the middleware mounted two ways: wrapping
// a plain handler, and in a chi router. Each route needs posts:write.
func serveBoth(t *testing.T, v Validator, opts []Option, r *http.Request) map[string]*httptest.ResponseRecorder {
	t.Helper()
	m, err := New(v, opts...)
	require.NoError(t, err)
	final := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, ok := FromContext(r.Context())
		if !ok {
			fmt.Fprint(w, "anonymous")
			return
		}
		fmt.Fprint(w, key.ID)
	})

	plain := m.Handler(RequirePermission("posts:write")(final))

	router := chi.NewRouter()
	router.Use(m.Handler)
	router.With(RequirePermission("posts:write")).Get("/posts", final)

	out := map[string]*httptest.ResponseRecorder{}
	for name, h := range map[string]http.Handler{"net/http": plain, "chi": router} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r.Clone(r.Context()))
		out[name] = w
	}
	return out
}

func TestOutcomes(t *testing.T) {
	for _, tc := range outcomeCases() {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/posts", nil)
			for _, h := range tc.header {
				r.Header.Add("Authorization", h)
			}
			for _, cache := range []string{"cached", "uncached"} {
				opts := append([]Option(nil), tc.opts...)
				if cache == "uncached" {
					opts = append(opts, WithoutCache())
				}
				for mount, w := range serveBoth(t, tc.validator, opts, r) {
					t.Run(cache+"/"+mount, func(t *testing.T) {
						assert.Equal(t, tc.status, w.Code)
						assert.Equal(t, tc.challenge, w.Header().Get("WWW-Authenticate"))
						assert.Equal(t, tc.retryAfter, w.Header().Get("Retry-After"))
						if tc.status == http.StatusTooManyRequests {
							assert.NotEmpty(t, w.Header().Get("RateLimit"), "a refusal carries the RateLimit fields")
							assert.NotEmpty(t, w.Header().Get("RateLimit-Policy"))
						}
						assertNoKeyValue(t, w)
						if tc.status == 200 {
							assert.Equal(t, writerKey.ID, w.Body.String())
							return
						}
						assert.Equal(t, "no-store", w.Header().Get("Cache-Control"))
						assert.Equal(t, "application/json", w.Header().Get("Content-Type"))
						var body struct {
							Error       string `json:"error"`
							Description string `json:"error_description"`
						}
						require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body), w.Body.String())
						assert.Equal(t, tc.code, body.Error)
						assert.NotEmpty(t, body.Description)
					})
				}
			}
		})
	}
}

func TestCredentialsOptional(t *testing.T) {
	tests := []struct {
		name   string
		header string
		status int
		body   string
	}{
		{"no key passes anonymously", "", 200, "anonymous"},
		{"other scheme passes anonymously", "Basic dXNlcjpwYXNz", 200, "anonymous"},
		{"valid key is authenticated", "Bearer " + writerValue, 200, writerKey.ID},
		{"malformed key is refused", "Bearer a b", 400, ""},
		{"invalid key is refused", "Bearer sk_test_unknown", 401, ""},
	}
	m, err := New(testStatic())
	require.NoError(t, err)
	h := m.Optional(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if key, ok := FromContext(r.Context()); ok {
			fmt.Fprint(w, key.ID)
			return
		}
		fmt.Fprint(w, "anonymous")
	}))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			if tc.header != "" {
				r.Header.Set("Authorization", tc.header)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			assert.Equal(t, tc.status, w.Code)
			if tc.body != "" {
				assert.Equal(t, tc.body, w.Body.String())
			}
		})
	}
}

func TestOptions(t *testing.T) {
	t.Run("realm", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodGet, "/posts", nil)
		for _, w := range serveBoth(t, testStatic(), []Option{WithRealm("example")}, r) {
			assert.Equal(t, `Bearer realm="example"`, w.Header().Get("WWW-Authenticate"))
		}
	})
	t.Run("error handler receives the sentinel", func(t *testing.T) {
		var got error
		m, err := New(testStatic(), WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
			got = err
			w.WriteHeader(StatusCode(err))
			fmt.Fprint(w, "custom")
		}))
		require.NoError(t, err)
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", "Bearer sk_test_unknown")
		w := httptest.NewRecorder()
		m.Handler(http.NotFoundHandler()).ServeHTTP(w, r)
		assert.ErrorIs(t, got, ErrInvalidKey)
		assert.Equal(t, 401, w.Code)
		assert.Equal(t, "custom", w.Body.String())

		guarded := m.Handler(RequirePermission("posts:write")(http.NotFoundHandler()))
		r.Header.Set("Authorization", "Bearer "+readerValue)
		w = httptest.NewRecorder()
		guarded.ServeHTTP(w, r)
		assert.ErrorIs(t, got, ErrForbidden)
		var pe *PermissionError
		require.ErrorAs(t, got, &pe)
		assert.Equal(t, []string{"posts:write"}, pe.Missing)
	})
	t.Run("max key length", func(t *testing.T) {
		m, err := New(testStatic(), WithMaxKeyLength(8))
		require.NoError(t, err)
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", "Bearer "+writerValue)
		_, err = m.Authenticate(r)
		assert.ErrorIs(t, err, ErrMalformedKey)
	})
	t.Run("named header extractor", func(t *testing.T) {
		m, err := New(testStatic(), WithExtractor(OneOf(FromAuthorizationBearer, FromHeader("X-API-Key"))))
		require.NoError(t, err)
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("X-API-Key", writerValue)
		key, err := m.Authenticate(r)
		require.NoError(t, err)
		assert.Equal(t, writerKey.ID, key.ID)
	})
	t.Run("extractor error that is not malformed", func(t *testing.T) {
		m, err := New(testStatic(), WithExtractor(func(*http.Request) (string, error) { return "", errors.New("boom") }))
		require.NoError(t, err)
		_, err = m.Authenticate(httptest.NewRequest(http.MethodGet, "/", nil))
		assert.ErrorIs(t, err, ErrMalformedKey)
	})
}

func TestNewRejectsBadConfiguration(t *testing.T) {
	var nilFunc ValidatorFunc
	tests := []struct {
		name string
		v    Validator
		opts []Option
	}{
		{"nil validator", nil, nil},
		{"nil extractor", testStatic(), []Option{WithExtractor(nil)}},
		{"zero max length", testStatic(), []Option{WithMaxKeyLength(0)}},
		{"realm with a quote", testStatic(), []Option{WithRealm(`a"b`)}},
		{"realm with a newline", testStatic(), []Option{WithRealm("a\nb")}},
		{"bad cache option", testStatic(), []Option{WithCacheTTL(-1)}},
		{"cache options for a given cache", mustCache(testStatic()), []Option{WithCacheTTL(time.Minute)}},
		{"cache options without a cache", testStatic(), []Option{WithoutCache(), WithCacheTTL(time.Minute)}},
		{"nil func", nilFunc, nil},
		{"nil func without cache", nilFunc, []Option{WithoutCache()}},
		{"nil static", (*Static)(nil), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := New(tc.v, tc.opts...)
			assert.Nil(t, m)
			assert.ErrorIs(t, err, ErrMisconfigured)
		})
	}
}

func TestNewUsesAGivenCacheAsIs(t *testing.T) {
	c, err := NewCache(testStatic())
	require.NoError(t, err)
	m, err := New(c)
	require.NoError(t, err)
	assert.Same(t, c, m.Cache())

	m, err = New(testStatic(), WithoutCache())
	require.NoError(t, err)
	assert.Nil(t, m.Cache())
}

// assertNoKeyValue checks that no test key value appears anywhere in a
// response: not in its body, not in any header.
func assertNoKeyValue(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	for _, value := range []string{readerValue, writerValue, adminValue, "sk_test_unknown"} {
		assert.NotContains(t, w.Body.String(), value)
		for name, vs := range w.Header() {
			for _, v := range vs {
				assert.NotContains(t, v, value, "header %s", name)
			}
		}
	}
}

// A validator that says "retry forever" must not overflow the rounding of
// Retry-After into a negative number of seconds.
func TestRetryAfterIsClamped(t *testing.T) {
	tests := []struct {
		wait time.Duration
		want string
	}{
		{0, "1"},
		{time.Nanosecond, "1"},
		{time.Second, "1"},
		{time.Second + 1, "2"},
		{90 * time.Second, "90"},
		{24 * time.Hour, "86400"},
		{24*time.Hour + 1, "86400"},
		{math.MaxInt64, "86400"},
		{-time.Second, "1"},
	}
	for _, tc := range tests {
		t.Run(tc.wait.String(), func(t *testing.T) {
			v := unavailable(&UnavailableError{RetryAfter: tc.wait})
			m, err := New(v, WithoutCache())
			require.NoError(t, err)
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("Authorization", "Bearer "+writerValue)
			w := httptest.NewRecorder()
			m.Handler(http.NotFoundHandler()).ServeHTTP(w, r)
			assert.Equal(t, http.StatusServiceUnavailable, w.Code)
			assert.Equal(t, tc.want, w.Header().Get("Retry-After"))
		})
	}
}

// Without a cache, an error that panics when unwrapped is met first by the
// middleware's own classification: it must become a 500, not a dropped
// connection, and the error handler must get an error it can inspect.
func TestUncachedValidatorErrorThatPanicsWhenUnwrapped(t *testing.T) {
	var got error
	m, err := New(ValidatorFunc(func(context.Context, string) (*Key, error) {
		var err *nilUnwrapError
		return nil, err
	}), WithoutCache(), WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
		got = err
		WriteError(w, r, err)
	}))
	require.NoError(t, err)
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "Bearer "+writerValue)
	w := httptest.NewRecorder()
	require.NotPanics(t, func() { m.Handler(http.NotFoundHandler()).ServeHTTP(w, r) })
	assert.Equal(t, http.StatusInternalServerError, w.Code)
	assert.ErrorIs(t, got, ErrValidatorPanicked)
	assert.Equal(t, OutcomeError, OutcomeOf((*nilUnwrapError)(nil)), "OutcomeOf survives it too")
}

// The package-level guards answer with the realm and error handler of the
// middleware in front of them, on chi and on http.ServeMux alike, while a
// guard behind another middleware keeps that one's.
func TestGuardsFollowTheirMiddleware(t *testing.T) {
	var handled []Outcome
	custom, err := New(testStatic(), WithRealm("custom"), WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
		handled = append(handled, OutcomeOf(err))
		w.Header().Set("X-Handled-By", "custom")
		WriteError(w, r, err)
	}))
	require.NoError(t, err)
	plain, err := New(testStatic())
	require.NoError(t, err)
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") })

	r := chi.NewRouter()
	r.With(custom.Handler, RequirePermission("posts:write")).Post("/chi/custom", ok)
	r.With(custom.Optional, RequireAnyPermission("posts:read")).Get("/chi/optional", ok)
	r.With(plain.Handler, RequirePermission("posts:write")).Post("/chi/plain", ok)
	mux := http.NewServeMux()
	mux.Handle("POST /mux/custom", custom.Require("posts:write")(ok))
	mux.Handle("GET /mux/optional", custom.Optional(RequirePermission("posts:read")(ok)))
	mux.Handle("/chi/", r)

	tests := []struct {
		method, path, key string
		status            int
		challenge         string
		custom            bool
	}{
		{"POST", "/chi/custom", readerValue, 403, `Bearer realm="custom", error="insufficient_scope", scope="posts:write"`, true},
		{"POST", "/chi/custom", writerValue, 200, "", false},
		{"GET", "/chi/optional", "", 401, `Bearer realm="custom"`, true},
		{"GET", "/chi/optional", readerValue, 200, "", false},
		{"POST", "/chi/plain", readerValue, 403, `Bearer realm="api", error="insufficient_scope", scope="posts:write"`, false},
		{"POST", "/mux/custom", readerValue, 403, `Bearer realm="custom", error="insufficient_scope", scope="posts:write"`, true},
		{"POST", "/mux/custom", "", 401, `Bearer realm="custom"`, true},
		{"POST", "/mux/custom", writerValue, 200, "", false},
		{"GET", "/mux/optional", "", 401, `Bearer realm="custom"`, true},
		{"GET", "/mux/optional", "sk_test_unknown", 401, `Bearer realm="custom", error="invalid_token"`, true},
		{"GET", "/mux/optional", readerValue, 200, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path+" "+tc.key, func(t *testing.T) {
			handled = nil
			req := httptest.NewRequest(tc.method, tc.path, nil)
			if tc.key != "" {
				req.Header.Set("Authorization", "Bearer "+tc.key)
			}
			w := httptest.NewRecorder()
			mux.ServeHTTP(w, req)
			assert.Equal(t, tc.status, w.Code)
			assert.Equal(t, tc.challenge, w.Header().Get("WWW-Authenticate"))
			assert.Equal(t, tc.custom, w.Header().Get("X-Handled-By") == "custom")
			assert.Equal(t, tc.custom, len(handled) == 1)
			assertNoKeyValue(t, w)
		})
	}
}

// The format check answers a key that fails it as invalid, before the cache
// or the validator sees it.
func TestFormatCheck(t *testing.T) {
	v := counting(testStatic())
	m, err := New(v, WithFormatCheck(func(value string) bool { return strings.HasPrefix(value, "sk_test_") }))
	require.NoError(t, err)
	for _, tc := range []struct {
		key    string
		status int
		calls  int64
	}{
		{"nope_" + writerValue, 401, 0},
		{writerValue, 200, 1},
		{"sk_test_unknown", 401, 2},
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", "Bearer "+tc.key)
		w := httptest.NewRecorder()
		m.Handler(http.NotFoundHandler()).ServeHTTP(w, r)
		assert.Equal(t, tc.status == 200, w.Code == 404, tc.key)
		if tc.status != 200 {
			assert.Equal(t, tc.status, w.Code)
		}
		assert.Equal(t, tc.calls, v.calls.Load())
	}
	assert.Zero(t, m.Cache().Stats().NegativeSize-1, "only the checked invalid key was cached")
}

// TestToken68AfterTheCache checks that the default extractor's token68
// check, which the middleware runs after its cache, answers as running it
// first would: a value outside token68 is malformed and never validated,
// even once a shared Cache holds it as valid.
func TestToken68AfterTheCache(t *testing.T) {
	var calls []string
	anyValue := ValidatorFunc(func(_ context.Context, value string) (*Key, error) {
		calls = append(calls, value)
		return &Key{ID: "key_" + fmt.Sprint(len(calls))}, nil
	})
	c, err := NewCache(anyValue)
	require.NoError(t, err)
	m, err := New(c)
	require.NoError(t, err)
	h := m.Handler(okHandler)
	serve := func(value string) int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, keyRequest(value))
		return rec.Code
	}

	assert.Equal(t, http.StatusOK, serve("good"), "a miss")
	assert.Equal(t, http.StatusOK, serve("good"), "a hit")
	assert.Equal(t, http.StatusBadRequest, serve("odd!"))
	assert.Equal(t, []string{"good"}, calls, "a value outside token68 never reaches the validator")

	// The cache's own Validate checks no syntax: it may hold what no
	// request may send.
	_, err = c.Validate(context.Background(), "odd!")
	require.NoError(t, err)
	assert.Equal(t, http.StatusBadRequest, serve("odd!"), "held as valid, still malformed")
	assert.Equal(t, http.StatusOK, serve("good"), "a hit, checked now")
	assert.Equal(t, []string{"good", "odd!"}, calls)
	assert.Equal(t, uint64(2), c.Stats().Hits)
}
