package apikey

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// eventRecorder keeps every event its hooks see.
type eventRecorder struct {
	mu            sync.Mutex
	requests      []RequestEvent
	validations   []ValidationEvent
	invalidations []Invalidation
}

func (rec *eventRecorder) hooks() Hooks {
	return Hooks{
		Request: func(e RequestEvent) {
			rec.mu.Lock()
			rec.requests = append(rec.requests, e)
			rec.mu.Unlock()
		},
		Validation: func(e ValidationEvent) {
			rec.mu.Lock()
			rec.validations = append(rec.validations, e)
			rec.mu.Unlock()
		},
		Invalidation: func(inv Invalidation) {
			rec.mu.Lock()
			rec.invalidations = append(rec.invalidations, inv)
			rec.mu.Unlock()
		},
	}
}

// take returns the events seen so far and forgets them.
func (rec *eventRecorder) take() ([]RequestEvent, []ValidationEvent) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	r, v := rec.requests, rec.validations
	rec.requests, rec.validations = nil, nil
	return r, v
}

func keyRequest(values ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/posts", nil)
	for _, v := range values {
		r.Header.Add("Authorization", "Bearer "+v)
	}
	return r
}

// TestHooksSeeEveryOutcome sends one request per outcome and answer, each
// through a fresh middleware, and checks what the hooks saw.
func TestHooksSeeEveryOutcome(t *testing.T) {
	down := errors.New("dial tcp: connection refused")
	misconfigured := fmt.Errorf("workos: %w: 401", ErrMisconfigured)
	type want struct {
		outcome Outcome
		answer  Answer
		keyID   string // "" for no key
		digest  string // the value whose digest the event carries; "" for none
		err     error  // matched with errors.Is; nil for none
		result  Result // of the one validator call; "" for none
	}
	cases := []struct {
		name    string
		v       Validator
		opts    []Option
		guard   bool     // behind RequirePermission("posts:write")
		warm    []string // values sent first, their events dropped
		request *http.Request
		want    []want
	}{
		{name: "missing", v: testStatic(), request: keyRequest(),
			want: []want{{outcome: OutcomeMissing, err: ErrMissingKey}}},
		{name: "malformed", v: testStatic(), request: keyRequest(writerValue, writerValue),
			want: []want{{outcome: OutcomeMalformed, err: ErrMalformedKey}}},
		{name: "outside token68", v: testStatic(), request: keyRequest(writerValue + "!"),
			want: []want{{outcome: OutcomeMalformed, err: ErrMalformedKey}}},
		{name: "outside token68 without a cache", v: testStatic(), opts: []Option{WithoutCache()}, request: keyRequest(writerValue + "!"),
			want: []want{{outcome: OutcomeMalformed, err: ErrMalformedKey}}},
		{name: "invalid on a miss", v: testStatic(), request: keyRequest(unknownValue),
			want: []want{{outcome: OutcomeInvalid, answer: AnswerMiss, digest: unknownValue, err: ErrInvalidKey, result: ResultInvalid}}},
		{name: "invalid from the negative cache", v: testStatic(), warm: []string{unknownValue}, request: keyRequest(unknownValue),
			want: []want{{outcome: OutcomeInvalid, answer: AnswerNegativeHit, digest: unknownValue, err: ErrInvalidKey}}},
		{name: "authenticated on a miss", v: testStatic(), request: keyRequest(writerValue),
			want: []want{{outcome: OutcomeAuthenticated, answer: AnswerMiss, keyID: writerKey.ID, digest: writerValue, result: ResultValid}}},
		{name: "authenticated on a hit", v: testStatic(), warm: []string{writerValue}, request: keyRequest(writerValue),
			want: []want{{outcome: OutcomeAuthenticated, answer: AnswerHit, keyID: writerKey.ID, digest: writerValue}}},
		{name: "authenticated without a cache", v: testStatic(), opts: []Option{WithoutCache()}, request: keyRequest(writerValue),
			want: []want{{outcome: OutcomeAuthenticated, answer: AnswerUncached, keyID: writerKey.ID, digest: writerValue, result: ResultValid}}},
		{name: "forbidden by a guard", v: testStatic(), guard: true, warm: []string{readerValue}, request: keyRequest(readerValue),
			// One event: the guard's, with what the middleware knew.
			want: []want{{outcome: OutcomeForbidden, answer: AnswerHit, keyID: readerKey.ID, digest: readerValue, err: ErrForbidden}}},
		{name: "unavailable", v: unavailable(down), request: keyRequest(writerValue),
			want: []want{{outcome: OutcomeUnavailable, answer: AnswerMiss, digest: writerValue, err: down, result: ResultUnavailable}}},
		{name: "misconfigured", v: unavailable(misconfigured), request: keyRequest(writerValue),
			want: []want{{outcome: OutcomeError, answer: AnswerMiss, digest: writerValue, err: ErrMisconfigured, result: ResultError}}},
		{name: "validator panics", v: ValidatorFunc(func(context.Context, string) (*Key, error) { panic("boom") }),
			opts: []Option{WithLogger(nil)}, request: keyRequest(writerValue),
			want: []want{{outcome: OutcomeError, answer: AnswerMiss, digest: writerValue, err: ErrValidatorPanicked, result: ResultError}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var rec eventRecorder
			m, err := New(tc.v, append([]Option{WithHooks(rec.hooks()), WithLogger(nil)}, tc.opts...)...)
			require.NoError(t, err)
			h := http.Handler(okHandler)
			if tc.guard {
				h = RequirePermission("posts:write")(h)
			}
			h = m.Handler(h)
			for _, v := range tc.warm {
				h.ServeHTTP(httptest.NewRecorder(), keyRequest(v))
			}
			rec.take()

			h.ServeHTTP(httptest.NewRecorder(), tc.request)
			requests, validations := rec.take()
			require.Len(t, requests, len(tc.want))
			for i, w := range tc.want {
				e := requests[i]
				// Compared by pointer: a failure message must not print the
				// request's header, which holds the key.
				if !tc.guard {
					assert.True(t, tc.request == e.Request, "the request the middleware received")
				} else {
					assert.True(t, e.Request != nil && tc.request.URL == e.Request.URL, "the request the guard received")
				}
				assert.Equal(t, w.outcome, e.Outcome)
				assert.Equal(t, w.answer, e.Answer)
				if w.keyID == "" {
					assert.Nil(t, e.Key)
				} else if assert.NotNil(t, e.Key) {
					assert.Equal(t, w.keyID, e.Key.ID)
				}
				if w.digest == "" {
					assert.True(t, e.Digest.IsZero())
				} else {
					assert.Equal(t, DigestOf(w.digest), e.Digest)
				}
				if w.err == nil {
					assert.NoError(t, e.Err)
				} else {
					assert.ErrorIs(t, e.Err, w.err)
				}
			}
			result := tc.want[0].result
			if result == "" {
				assert.Empty(t, validations)
				return
			}
			require.Len(t, validations, 1)
			ve := validations[0]
			assert.Equal(t, result, ve.Result)
			assert.Equal(t, DigestOf(tc.want[0].digest), ve.Digest)
			assert.NotNil(t, ve.Context)
			assert.False(t, ve.Start.IsZero())
			assert.GreaterOrEqual(t, ve.Duration, time.Duration(0))
			if result == ResultValid {
				assert.NoError(t, ve.Err)
				require.NotNil(t, ve.Key)
				assert.Equal(t, tc.want[0].keyID, ve.Key.ID)
			} else {
				assert.Error(t, ve.Err)
				assert.Nil(t, ve.Key)
			}
		})
	}
}

// TestHooksSeeStaleAndCoalesced covers the two answers that need time or
// concurrency: a stale entry served while the validator is down, and a
// request that joins another's validator call.
func TestHooksSeeStaleAndCoalesced(t *testing.T) {
	t.Run("stale", func(t *testing.T) {
		var rec eventRecorder
		var failing atomic.Bool
		v := ValidatorFunc(func(ctx context.Context, value string) (*Key, error) {
			if failing.Load() {
				return nil, &UnavailableError{Err: errors.New("upstream 503")}
			}
			return testStatic().Validate(ctx, value)
		})
		clock := newFakeClock()
		m, err := New(v, WithHooks(rec.hooks()), WithLogger(nil), WithClock(clock.Now),
			WithCacheTTL(time.Minute), WithStaleIfError(time.Hour))
		require.NoError(t, err)
		h := m.Handler(okHandler)
		h.ServeHTTP(httptest.NewRecorder(), keyRequest(writerValue))
		rec.take()
		failing.Store(true)
		clock.Advance(2 * time.Minute)

		w := httptest.NewRecorder()
		h.ServeHTTP(w, keyRequest(writerValue))
		assert.Equal(t, http.StatusOK, w.Code)
		requests, validations := rec.take()
		require.Len(t, requests, 1)
		assert.Equal(t, OutcomeAuthenticated, requests[0].Outcome)
		assert.Equal(t, AnswerStale, requests[0].Answer)
		assert.Equal(t, writerKey.ID, requests[0].Key.ID)
		require.Len(t, validations, 1)
		assert.Equal(t, ResultUnavailable, validations[0].Result, "the validator call itself failed")
	})

	t.Run("coalesced", func(t *testing.T) {
		var rec eventRecorder
		release := make(chan struct{})
		v := ValidatorFunc(func(ctx context.Context, value string) (*Key, error) {
			<-release
			return testStatic().Validate(ctx, value)
		})
		m, err := New(v, WithHooks(rec.hooks()), WithLogger(nil))
		require.NoError(t, err)
		h := m.Handler(okHandler)
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() { h.ServeHTTP(httptest.NewRecorder(), keyRequest(writerValue)) })
		}
		require.Eventually(t, func() bool { return m.Cache().Stats().Coalesced == 1 }, 5*time.Second, time.Millisecond)
		close(release)
		wg.Wait()

		requests, validations := rec.take()
		require.Len(t, requests, 2)
		answers := []Answer{requests[0].Answer, requests[1].Answer}
		assert.ElementsMatch(t, []Answer{AnswerMiss, AnswerCoalesced}, answers)
		for _, e := range requests {
			assert.Equal(t, OutcomeAuthenticated, e.Outcome)
		}
		assert.Len(t, validations, 1, "one validator call for both")
	})

	t.Run("anonymous", func(t *testing.T) {
		var rec eventRecorder
		m, err := New(testStatic(), WithHooks(rec.hooks()))
		require.NoError(t, err)
		m.Optional(okHandler).ServeHTTP(httptest.NewRecorder(), keyRequest())
		requests, validations := rec.take()
		require.Len(t, requests, 1)
		assert.Equal(t, OutcomeAuthenticated, requests[0].Outcome)
		assert.Nil(t, requests[0].Key)
		assert.NoError(t, requests[0].Err)
		assert.Empty(t, validations)
	})
}

func TestHooksCompose(t *testing.T) {
	var first, second eventRecorder
	m, err := New(testStatic(), WithHooks(first.hooks()), WithHooks(Hooks{}), WithHooks(second.hooks()))
	require.NoError(t, err)
	m.Handler(okHandler).ServeHTTP(httptest.NewRecorder(), keyRequest(writerValue))
	m.Cache().InvalidateID(writerKey.ID)
	for _, rec := range []*eventRecorder{&first, &second} {
		requests, validations := rec.take()
		assert.Len(t, requests, 1)
		assert.Len(t, validations, 1)
		assert.Equal(t, []Invalidation{{ID: writerKey.ID, Origin: OriginLocal}}, rec.invalidations)
	}
}

func TestAuthenticateReportsNoRequest(t *testing.T) {
	var rec eventRecorder
	m, err := New(testStatic(), WithHooks(rec.hooks()))
	require.NoError(t, err)
	_, err = m.Authenticate(keyRequest(writerValue))
	require.NoError(t, err)
	requests, validations := rec.take()
	assert.Empty(t, requests)
	assert.Len(t, validations, 1, "the validator call is reported all the same")
}

// TestUnsetHooksCostNoAllocation compares the hit path with no hooks and with
// a hook that does nothing: the event is built on the stack either way.
func TestUnsetHooksCostNoAllocation(t *testing.T) {
	allocs := func(opts ...Option) float64 {
		m, err := New(testStatic(), opts...)
		require.NoError(t, err)
		h := m.Handler(okHandler)
		r := keyRequest(writerValue)
		w := &discard{h: http.Header{}}
		h.ServeHTTP(w, r) // warm the cache
		return testing.AllocsPerRun(200, func() { h.ServeHTTP(w, r) })
	}
	none := allocs()
	withHook := allocs(WithHooks(Hooks{Request: func(RequestEvent) {}}))
	assert.Equal(t, none, withHook)
}

// Without a cache, the key is hashed only for whoever needs its digest: a
// Request hook alone, or a Validation hook alone, each gets it, also for a
// valid key (which the failure log never asks for).
func TestUncachedDigestForOneHook(t *testing.T) {
	for _, only := range []string{"Request", "Validation"} {
		t.Run(only, func(t *testing.T) {
			var got []Digest
			var h Hooks
			if only == "Request" {
				h.Request = func(e RequestEvent) { got = append(got, e.Digest) }
			} else {
				h.Validation = func(e ValidationEvent) { got = append(got, e.Digest) }
			}
			m, err := New(testStatic(), WithoutCache(), WithHooks(h), WithLogger(nil))
			require.NoError(t, err)
			w := httptest.NewRecorder()
			m.Handler(okHandler).ServeHTTP(w, keyRequest(writerValue))
			require.Equal(t, http.StatusOK, w.Code)
			assert.Equal(t, []Digest{DigestOf(writerValue)}, got)
		})
	}
}

// TestGuardReportsOnce: a request a guard refuses is reported once, by the
// guard, with the middleware's answer and the digest of the key the
// refused request carries, wherever the guard runs as long as it returns
// before the middleware's next handler does; one it lets through is
// reported once, by the middleware.
func TestGuardReportsOnce(t *testing.T) {
	guard := RequirePermission("posts:write")
	v := withLimitedKey(Key{ID: "key_limited", Limits: []Limit{{Rate: 100, Period: time.Hour}}})
	type want struct {
		outcome Outcome
		answer  Answer
		digest  string // the value whose digest the event carries; "" for none
	}
	cases := []struct {
		name  string
		value string
		next  http.Handler // behind the middleware
		want  []want
	}{
		{name: "refused in the chain", value: readerValue, next: guard(okHandler),
			want: []want{{OutcomeForbidden, AnswerHit, readerValue}}},
		{name: "let through", value: writerValue, next: guard(okHandler),
			want: []want{{OutcomeAuthenticated, AnswerHit, writerValue}}},
		{name: "refused by the second of two guards", value: readerValue,
			next: RequirePermission("posts:read")(guard(okHandler)), // a chi group's With(…).With(…)
			want: []want{{OutcomeForbidden, AnswerHit, readerValue}}},
		{name: "let through by two guards", value: writerValue,
			next: RequirePermission("posts:read")(guard(okHandler)),
			want: []want{{OutcomeAuthenticated, AnswerHit, writerValue}}},
		{name: "refused for a limited key", value: limitedValue, next: guard(okHandler),
			want: []want{{OutcomeForbidden, AnswerHit, limitedValue}}},
		{name: "refused on a goroutine the handler waits for", value: readerValue,
			next: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				done := make(chan struct{})
				go func() { defer close(done); guard(okHandler).ServeHTTP(w, r) }()
				<-done
			}),
			want: []want{{OutcomeForbidden, AnswerHit, readerValue}}},
		{name: "refused after a handler dropped the key's header", value: readerValue,
			next: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				r = r.Clone(r.Context())
				r.Header.Del("Authorization")
				guard(okHandler).ServeHTTP(w, r)
			}),
			// The guard reads the digest from the request it refuses.
			want: []want{{OutcomeForbidden, AnswerHit, ""}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var rec eventRecorder
			m, err := New(v, WithHooks(rec.hooks()))
			require.NoError(t, err)
			h := m.Handler(tc.next)
			h.ServeHTTP(httptest.NewRecorder(), keyRequest(tc.value)) // warm the cache
			rec.take()
			h.ServeHTTP(httptest.NewRecorder(), keyRequest(tc.value))
			requests, _ := rec.take()
			require.Len(t, requests, len(tc.want))
			for i, w := range tc.want {
				assert.Equal(t, w.outcome, requests[i].Outcome)
				assert.Equal(t, w.answer, requests[i].Answer)
				if w.digest == "" {
					assert.True(t, requests[i].Digest.IsZero(), "no digest")
				} else {
					assert.True(t, DigestOf(w.digest) == requests[i].Digest, "the digest of the key")
				}
			}
		})
	}
}

// A guard that runs after the middleware's next handler returned (on a
// goroutine the handler left behind, which net/http forbids, since it
// writes the response) reports the request a second time: the middleware
// has reported it as authenticated already. Pinned so that the docs'
// "each request once" stays as narrow as they say.
func TestGuardAfterTheHandlerReturnedReportsAgain(t *testing.T) {
	var rec eventRecorder
	m, err := New(testStatic(), WithHooks(rec.hooks()))
	require.NoError(t, err)
	late := make(chan *http.Request, 1)
	m.Handler(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { late <- r })).
		ServeHTTP(httptest.NewRecorder(), keyRequest(readerValue))
	RequirePermission("posts:write")(okHandler).ServeHTTP(httptest.NewRecorder(), <-late)
	requests, _ := rec.take()
	require.Len(t, requests, 2)
	assert.Equal(t, OutcomeAuthenticated, requests[0].Outcome)
	assert.Equal(t, OutcomeForbidden, requests[1].Outcome)
}

// A guard's refusal goes to the middleware's error handler with the
// request as the guard got it (its key still in the context) and the
// middleware's realm, with a Request hook as without.
func TestGuardRefusalKeepsTheContext(t *testing.T) {
	for _, hooked := range []bool{false, true} {
		t.Run(fmt.Sprint("hooked=", hooked), func(t *testing.T) {
			var seen *Key
			opts := []Option{WithRealm("posts"), WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
				seen, _ = FromContext(r.Context())
				WriteError(w, r, err)
			})}
			if hooked {
				opts = append(opts, WithHooks(Hooks{Request: func(RequestEvent) {}}))
			}
			m, err := New(testStatic(), opts...)
			require.NoError(t, err)
			w := httptest.NewRecorder()
			m.Handler(RequirePermission("posts:write")(okHandler)).ServeHTTP(w, keyRequest(readerValue))
			assert.Equal(t, http.StatusForbidden, w.Code)
			if assert.NotNil(t, seen, "the error handler sees the key") {
				assert.Equal(t, readerKey.ID, seen.ID)
			}
			assert.Contains(t, w.Header().Get("WWW-Authenticate"), `realm="posts"`)
		})
	}
}

// A reportingContext is no larger than an authContext: every request with
// a Request hook allocates one.
func TestReportingContextIsSmall(t *testing.T) {
	assert.Equal(t, unsafe.Sizeof(authContext{}), unsafe.Sizeof(reportingContext{}))
}
