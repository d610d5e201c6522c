package apikey

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// serveOnce sends one request with key through h and says whether it
// reached the handler behind.
func serveOnce(t *testing.T, wrap func(http.Handler) http.Handler, key string) (int, bool) {
	t.Helper()
	reached := false
	h := wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true }))
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if key != "" {
		r.Header.Set("Authorization", "Bearer "+key)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code, reached
}

// Whatever goes wrong on the way to an answer, a request without a valid
// key never reaches the handler.
func TestFailsClosed(t *testing.T) {
	goexit := Hooks{Validation: func(ValidationEvent) { runtime.Goexit() }}
	noID := ValidatorFunc(func(context.Context, string) (*Key, error) { return &Key{Name: "no id"}, nil })
	missing := ValidatorFunc(func(context.Context, string) (*Key, error) { return nil, ErrMissingKey })
	tests := []struct {
		name     string
		v        Validator
		opts     []Option
		optional bool
		status   int
	}{
		{"a validation hook that calls runtime.Goexit", testStatic(), []Option{WithHooks(goexit), WithLogger(nil)}, false, 500},
		{"the same behind Optional", testStatic(), []Option{WithHooks(goexit), WithLogger(nil)}, true, 500},
		{"a key without an ID", noID, []Option{WithLogger(nil)}, false, 500},
		{"a key without an ID, uncached", noID, []Option{WithoutCache(), WithLogger(nil)}, false, 500},
		{"a validator that answers 'missing key', behind Optional", missing, nil, true, 401},
		{"the same, uncached", missing, []Option{WithoutCache()}, true, 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := New(tc.v, tc.opts...)
			require.NoError(t, err)
			wrap := m.Handler
			if tc.optional {
				wrap = m.Optional
			}
			status, reached := serveOnce(t, wrap, "sk_test_unknown")
			assert.Equal(t, tc.status, status)
			assert.False(t, reached)
		})
	}
	t.Run("no key behind Optional is still anonymous", func(t *testing.T) {
		m, err := New(missing)
		require.NoError(t, err)
		status, reached := serveOnce(t, m.Optional, "")
		assert.Equal(t, 200, status)
		assert.True(t, reached)
	})
}

// Authenticate's errors match a sentinel, as its doc says: an error of no
// known kind matches ErrUnavailable, with its cause.
func TestAuthenticateWrapsUnknownErrors(t *testing.T) {
	down := errors.New("connection refused")
	for _, opts := range [][]Option{nil, {WithoutCache()}} {
		m, err := New(unavailable(down), append(opts, WithLogger(nil))...)
		require.NoError(t, err)
		_, err = m.Authenticate(keyRequest(writerValue))
		assert.ErrorIs(t, err, ErrUnavailable)
		assert.ErrorIs(t, err, down)
	}
}

func TestNilOptionIsAnError(t *testing.T) {
	var none Option
	_, err := New(testStatic(), WithRealm("x"), none)
	assert.EqualError(t, err, "apikey: New: option 1 is nil")
	assert.ErrorIs(t, err, ErrMisconfigured)
	_, err = NewCache(testStatic(), none)
	assert.EqualError(t, err, "apikey: NewCache: option 0 is nil")
}

// A *Cache given to New has its options already: an option that would
// configure it is refused, not ignored.
func TestNewRefusesCacheOptionsForAGivenCache(t *testing.T) {
	c := mustCache(testStatic())
	for _, tc := range []struct {
		opt  Option
		want string
	}{
		{WithLogger(nil), "apikey: New: WithLogger configures a cache, but the validator is a *Cache with its options already: give it to NewCache"},
		{WithLogInterval(time.Second), "apikey: New: WithLogInterval configures a cache, but the validator is a *Cache with its options already: give it to NewCache"},
		{WithHooks(Hooks{Invalidation: func(Invalidation) {}}), "apikey: New: WithHooks configures a cache, but the validator is a *Cache with its options already: give it to NewCache"},
		{WithoutCache(), "apikey: New: WithoutCache, but the validator is a *Cache"},
	} {
		_, err := New(c, tc.opt)
		assert.EqualError(t, err, tc.want)
	}
	_, err := New(c, WithHooks(Hooks{Request: func(RequestEvent) {}}))
	assert.NoError(t, err, "a request hook is the middleware's own")
}

// An invalidation that names nothing does nothing: it neither cancels the
// validations in flight nor reaches the hooks (and so other replicas).
func TestEmptyInvalidationIsANoOp(t *testing.T) {
	calls := 0
	c, err := NewCache(testStatic(), WithHooks(Hooks{Invalidation: func(Invalidation) { calls++ }}))
	require.NoError(t, err)
	c.Invalidate(Invalidation{Origin: OriginWebhook})
	c.InvalidateID("")
	assert.Zero(t, calls)
	assert.Zero(t, c.Stats().Invalidations)
	assert.Zero(t, c.epoch.Load())
}

// A key the validator turns down, or that is invalidated, no longer draws
// on the budget kept for known keys, whether the cache's entries say what
// is known or, with a bound per second, the list of known keys too.
func TestRevokedKeysAreNoLongerKnown(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []Option
	}{
		{"entries", nil},
		{"known-key list", []Option{WithValidationRate(100, 10)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			revoked := false
			v := ValidatorFunc(func(ctx context.Context, value string) (*Key, error) {
				if revoked {
					return nil, ErrInvalidKey
				}
				return testStatic().Validate(ctx, value)
			})
			c, clock := newTestCache(t, v, append(tc.opts, WithCacheTTL(time.Second))...)
			require.Equal(t, tc.opts != nil, c.budget.known != nil)
			ctx := context.Background()
			for _, value := range []string{readerValue, writerValue} {
				_, err := c.Validate(ctx, value)
				require.NoError(t, err)
			}
			known := func(value string) bool {
				d := DigestOf(value)
				return c.known(d, c.positiveShard(d).peek(d), c.clock.now())
			}
			require.True(t, known(readerValue))
			require.True(t, known(writerValue))

			c.InvalidateID(writerKey.ID)
			assert.False(t, known(writerValue), "invalidated by ID")
			revoked = true
			clock.Advance(2 * time.Second)
			require.True(t, known(readerValue), "past its TTL, still known")
			_, err := c.Validate(ctx, readerValue)
			require.ErrorIs(t, err, ErrInvalidKey)
			assert.False(t, known(readerValue), "turned down by the validator")
		})
	}
}

func TestZeroAuditLogWrites(t *testing.T) {
	var buf bytes.Buffer
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	var audit AuditLog
	m, err := New(testStatic(), WithHooks(audit.Hooks()))
	require.NoError(t, err)
	status, _ := serveOnce(t, func(h http.Handler) http.Handler { return audit.Handler(m.Handler(h)) }, writerValue)
	assert.Equal(t, 200, status)
	assert.Contains(t, buf.String(), "outcome=authenticated")
	assert.Contains(t, buf.String(), "key_id="+writerKey.ID)
}

// A format check that panics is the server's bug: 500, never a panic out
// of the middleware (net/http would log its value, which may hold the
// key), and a log line with the panic value's type and the stack only.
func TestFormatCheckPanics(t *testing.T) {
	check := func(value string) bool { panic("bad key " + value) }
	for _, cached := range []bool{true, false} {
		t.Run(fmt.Sprintf("cached=%v", cached), func(t *testing.T) {
			v := counting(testStatic())
			logger, logs := testLogger()
			var events []RequestEvent
			opts := []Option{WithFormatCheck(check), WithLogger(logger), WithHooks(Hooks{Request: func(e RequestEvent) { events = append(events, e) }})}
			if !cached {
				opts = append(opts, WithoutCache())
			}
			m, err := New(v, opts...)
			require.NoError(t, err)

			assertPanicAnswered(t, m, v)

			require.Len(t, events, 1)
			assert.Equal(t, OutcomeError, events[0].Outcome)
			assert.ErrorIs(t, events[0].Err, ErrValidatorPanicked)

			lines := logs.lines()
			require.Len(t, lines, 1, "one line per interval")
			assert.Contains(t, lines[0], `"msg":"apikey: format check panicked"`)
			assert.Contains(t, lines[0], `"panic_type":"string"`)
			assert.Contains(t, lines[0], `"fingerprint":"`+DigestOf(readerValue).Fingerprint()+`"`)
			assert.NotContains(t, lines[0], "bad key")
		})
	}
}

// A custom extractor that panics is answered like a format check that
// panics: 500, never a panic out of the middleware, and a log line with
// the panic value's type and the stack, never the value.
func TestExtractorPanics(t *testing.T) {
	extract := func(r *http.Request) (string, error) { panic("read " + r.Header.Get("Authorization")) }
	v := counting(testStatic())
	logger, logs := testLogger()
	m, err := New(v, WithExtractor(extract), WithLogger(logger))
	require.NoError(t, err)

	assertPanicAnswered(t, m, v)

	lines := logs.lines()
	require.Len(t, lines, 1, "one line per interval")
	assert.Contains(t, lines[0], `"msg":"apikey: extractor panicked"`)
	assert.Contains(t, lines[0], `"panic_type":"string"`)
	assert.NotContains(t, lines[0], readerValue)
}

// assertPanicAnswered checks that m answers a request with the reader's
// key as a panic of the user's code: 500, never a panic out of the
// middleware, the next handler and v never reached, and Authenticate's
// ErrValidatorPanicked without the key.
func assertPanicAnswered(t *testing.T, m *Middleware, v *countingValidator) {
	t.Helper()
	var status int
	var reached bool
	require.NotPanics(t, func() { status, reached = serveOnce(t, m.Handler, readerValue) })
	assert.Equal(t, http.StatusInternalServerError, status)
	assert.False(t, reached)
	assert.Zero(t, v.calls.Load(), "the validator is never asked")

	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "Bearer "+readerValue)
	_, err := m.Authenticate(r)
	assert.ErrorIs(t, err, ErrValidatorPanicked)
	assert.NotContains(t, err.Error(), readerValue)
}
