package apikey

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// withLimits returns a validator whose writer key has limits.
func withLimits(limits ...Limit) Validator {
	return ValidatorFunc(func(_ context.Context, value string) (*Key, error) {
		if value != writerValue {
			return nil, ErrInvalidKey
		}
		k := writerKey
		k.Limits = limits
		return &k, nil
	})
}

// withQuota returns a validator whose writer key has a quota.
func withQuota(q *Quota) Validator {
	return ValidatorFunc(func(_ context.Context, value string) (*Key, error) {
		if value != writerValue {
			return nil, ErrInvalidKey
		}
		k := writerKey
		k.Quota = q
		return &k, nil
	})
}

// spentLimiter refuses everything, for a minute.
type spentLimiter struct{}

func (spentLimiter) Allow(_ context.Context, _ *Key, limits []Limit, _ int, ds []Decision) error {
	for i := range limits {
		ds[i] = Decision{RetryAfter: time.Minute, ResetAfter: time.Minute}
	}
	return nil
}

type failingLimiter struct{ err error }

func (f failingLimiter) Allow(context.Context, *Key, []Limit, int, []Decision) error { return f.err }

// emptyQuotas holds no credits, refilled in an hour.
type emptyQuotas struct{}

func (emptyQuotas) Spend(context.Context, *Key, int64) (QuotaDecision, error) {
	return QuotaDecision{Limit: 100, Interval: 24 * time.Hour, RefillAfter: time.Hour}, nil
}

// memQuotas keeps counts in memory, by key ID, starting from Key.Quota.
type memQuotas struct {
	mu     sync.Mutex
	counts map[string]int64
	spends atomic.Int64
}

func (q *memQuotas) Spend(_ context.Context, key *Key, cost int64) (QuotaDecision, error) {
	q.spends.Add(1)
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.counts == nil {
		q.counts = map[string]int64{}
	}
	n, ok := q.counts[key.ID]
	if !ok {
		n = key.Quota.Remaining
	}
	d := QuotaDecision{Limit: key.Quota.Remaining, Remaining: n}
	if n >= cost {
		d.Allowed, d.Remaining = true, n-cost
		q.counts[key.ID] = n - cost
	}
	return d, nil
}

// countingLimiter counts the calls to a Limiter.
type countingLimiter struct {
	Limiter
	calls atomic.Int64
}

func (c *countingLimiter) Allow(ctx context.Context, key *Key, limits []Limit, cost int, ds []Decision) error {
	c.calls.Add(1)
	return c.Limiter.Allow(ctx, key, limits, cost, ds)
}

func serve(h http.Handler, value string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, "/posts", nil)
	if value != "" {
		r.Header.Set("Authorization", "Bearer "+value)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestRateLimitEnforced(t *testing.T) {
	clock := newFakeClock()
	lim := newTestLimiter(t, clock)
	m, err := New(withLimits(Limit{Rate: 2, Period: time.Minute}), WithLimiter(lim))
	require.NoError(t, err)
	h := m.Handler(okHandler)

	w := serve(h, writerValue)
	require.Equal(t, 200, w.Code)
	assert.Equal(t, `"default";q=2;w=60`, w.Header().Get("RateLimit-Policy"))
	assert.Equal(t, `"default";r=1;t=30`, w.Header().Get("RateLimit"))

	w = serve(h, writerValue)
	require.Equal(t, 200, w.Code)
	assert.Equal(t, `"default";r=0;t=60`, w.Header().Get("RateLimit"))

	w = serve(h, writerValue)
	require.Equal(t, 429, w.Code)
	assert.Equal(t, "30", w.Header().Get("Retry-After"))
	assert.Equal(t, `"default";q=2;w=60`, w.Header().Get("RateLimit-Policy"))
	assert.Equal(t, `"default";r=0;t=30`, w.Header().Get("RateLimit"), "t is the point Retry-After names")
	assert.Equal(t, "no-store", w.Header().Get("Cache-Control"))
	assert.Empty(t, w.Header().Get("WWW-Authenticate"), "the key is fine: no challenge")
	var body errorJSON
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body))
	assert.Equal(t, "rate_limited", body.Error)

	clock.Advance(30 * time.Second)
	assert.Equal(t, 200, serve(h, writerValue).Code, "one came back")

	assert.Empty(t, serve(m.Handler(okHandler), readerValue).Header().Get("RateLimit"), "a key without limits gets no fields")
}

func TestQuotaEnforced(t *testing.T) {
	quotas := &memQuotas{}
	m, err := New(withQuota(&Quota{Remaining: 3}), WithQuotas(quotas))
	require.NoError(t, err)
	h := m.Cost(2)(okHandler)

	w := serve(h, writerValue)
	require.Equal(t, 200, w.Code)
	assert.Equal(t, `"quota";q=3`, w.Header().Get("RateLimit-Policy"))
	assert.Equal(t, `"quota";r=1`, w.Header().Get("RateLimit"))

	w = serve(h, writerValue)
	require.Equal(t, 429, w.Code, "1 left, 2 needed")
	assert.Empty(t, w.Header().Get("Retry-After"), "a quota that never refills names no time")
	assert.Equal(t, `"quota";r=1`, w.Header().Get("RateLimit"))
	var body errorJSON
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body))
	assert.Equal(t, "quota_exhausted", body.Error)

	assert.Equal(t, 200, serve(m.Handler(okHandler), writerValue).Code, "a request of cost 1 still fits")
	assert.Equal(t, 429, serve(m.Handler(okHandler), writerValue).Code)
}

func TestRateLimitsAndQuotaTogether(t *testing.T) {
	clock := newFakeClock()
	quotas := &memQuotas{}
	v := ValidatorFunc(func(context.Context, string) (*Key, error) {
		k := writerKey
		k.Limits = []Limit{{Name: "burst", Rate: 1, Period: time.Second}, {Name: "hourly", Rate: 100, Period: time.Hour, Burst: 10}}
		k.Quota = &Quota{Remaining: 1000}
		return &k, nil
	})
	m, err := New(v, WithLimiter(newTestLimiter(t, clock)), WithQuotas(quotas))
	require.NoError(t, err)
	h := m.Handler(okHandler)
	w := serve(h, writerValue)
	require.Equal(t, 200, w.Code)
	assert.Equal(t, `"burst";q=1;w=1, "hourly";q=100;w=3600, "quota";q=1000`, w.Header().Get("RateLimit-Policy"))
	assert.Equal(t, `"burst";r=0;t=1, "hourly";r=9;t=36, "quota";r=999`, w.Header().Get("RateLimit"))
	assertStructuredFields(t, w.Header())

	w = serve(h, writerValue)
	require.Equal(t, 429, w.Code)
	assert.Equal(t, `"burst";r=0;t=1, "hourly";r=9;t=36`, w.Header().Get("RateLimit"), "a rate-limited request never reads the quota")
	assert.Equal(t, int64(1), quotas.spends.Load(), "nor spends it")
	assertStructuredFields(t, w.Header())
}

// A key that is invalid, revoked or refused before its limits never
// spends a limit or a credit.
func TestRefusedKeyNeverCharged(t *testing.T) {
	limiter := &countingLimiter{Limiter: newTestLimiter(t, newFakeClock())}
	quotas := &memQuotas{}
	revoked := atomic.Bool{}
	v := ValidatorFunc(func(_ context.Context, value string) (*Key, error) {
		if value != writerValue || revoked.Load() {
			return nil, ErrInvalidKey
		}
		k := writerKey
		k.Limits = []Limit{{Rate: 100, Period: time.Second}}
		k.Quota = &Quota{Remaining: 100}
		return &k, nil
	})
	m, err := New(v, WithLimiter(limiter), WithQuotas(quotas))
	require.NoError(t, err)
	h := m.Handler(okHandler)

	require.Equal(t, 200, serve(h, writerValue).Code)
	require.Equal(t, int64(1), limiter.calls.Load())
	require.Equal(t, int64(1), quotas.spends.Load())

	revoked.Store(true)
	m.Cache().InvalidateID(writerKey.ID)
	for _, value := range []string{writerValue, "sk_test_unknown", ""} {
		assert.NotEqual(t, 200, serve(h, value).Code)
	}
	assert.Equal(t, 401, serve(h, writerValue).Code)
	assert.Equal(t, int64(1), limiter.calls.Load(), "a revoked, unknown or missing key spends no limit")
	assert.Equal(t, int64(1), quotas.spends.Load(), "nor any credit")
}

func TestLimitPolicyByPlan(t *testing.T) {
	plans := map[string][]Limit{
		"free": {{Rate: 1, Period: time.Hour}},
		"pro":  {{Rate: 1000, Period: time.Hour}},
	}
	v := ValidatorFunc(func(_ context.Context, value string) (*Key, error) {
		k := writerKey
		k.ID = value
		k.Metadata = map[string]string{"plan": strings.TrimPrefix(value, "sk_test_")}
		return &k, nil
	})
	m, err := New(v, WithLimits(func(k *Key) []Limit { return plans[k.Metadata["plan"]] }))
	require.NoError(t, err)
	h := m.Handler(okHandler)
	assert.Equal(t, 200, serve(h, "sk_test_free").Code)
	assert.Equal(t, 429, serve(h, "sk_test_free").Code)
	for range 10 {
		assert.Equal(t, 200, serve(h, "sk_test_pro").Code)
	}
	w := serve(h, "sk_test_none")
	assert.Equal(t, 200, w.Code)
	assert.Empty(t, w.Header().Get("RateLimit"), "no plan, no limits")
}

func TestRouteCost(t *testing.T) {
	m, err := New(withLimits(Limit{Rate: 10, Period: time.Hour}),
		WithCost(func(r *http.Request) int {
			if r.Method == http.MethodPost {
				return 4
			}
			return 1
		}))
	require.NoError(t, err)
	h := m.Handler(okHandler)
	expensive := m.Cost(5)(okHandler)
	assert.Equal(t, `"default";r=5;t=1800`, serve(expensive, writerValue).Header().Get("RateLimit"))
	post := httptest.NewRequest(http.MethodPost, "/posts", nil)
	post.Header.Set("Authorization", "Bearer "+writerValue)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, post)
	assert.Equal(t, `"default";r=1;t=3240`, w.Header().Get("RateLimit"))
	assert.Equal(t, 429, serve(expensive, writerValue).Code, "5 needed, 1 left")
	assert.Equal(t, 200, serve(h, writerValue).Code)

	assert.Panics(t, func() { m.Cost(0) })
	bad, err := New(withLimits(Limit{Rate: 10, Period: time.Hour}), WithCost(func(*http.Request) int { return 0 }))
	require.NoError(t, err)
	assert.Equal(t, 500, serve(bad.Handler(okHandler), writerValue).Code, "a cost below 1 is a server error, not free")
	assert.Equal(t, 500, serve(m.Cost(11)(okHandler), writerValue).Code, "a cost above the burst could never pass")
}

func TestInvalidLimitFailsClosed(t *testing.T) {
	for name, l := range map[string]Limit{
		"zero rate":   {Period: time.Second},
		"bad name":    {Name: `x"y`, Rate: 1, Period: time.Second},
		"zero period": {Rate: 1},
	} {
		t.Run(name, func(t *testing.T) {
			m, err := New(withLimits(l))
			require.NoError(t, err)
			w := serve(m.Handler(okHandler), writerValue)
			assert.Equal(t, 500, w.Code)
			assert.Empty(t, w.Header().Get("RateLimit"))
		})
	}
}

func TestQuotaStoreErrors(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		status int
	}{
		{"unreachable", errors.New("connection refused"), 503},
		{"timeout", context.DeadlineExceeded, 503},
		{"key gone", fmt.Errorf("sqlstore: %w", ErrInvalidKey), 401},
		{"misconfigured", fmt.Errorf("sqlstore: %w: no quota column", ErrMisconfigured), 500},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store := QuotaStoreFunc(func(context.Context, *Key, int64) (QuotaDecision, error) { return QuotaDecision{Allowed: true}, tc.err })
			m, err := New(withQuota(&Quota{Remaining: 5}), WithQuotas(store))
			require.NoError(t, err)
			w := serve(m.Handler(okHandler), writerValue)
			assert.Equal(t, tc.status, w.Code)
			assertNoKeyValue(t, w)
		})
	}
}

func TestNewRefusesNilLimiterOrQuotas(t *testing.T) {
	_, err := New(testStatic(), WithLimiter(nil))
	assert.ErrorIs(t, err, ErrMisconfigured)
	_, err = New(testStatic(), WithQuotas((*memQuotas)(nil)))
	assert.ErrorIs(t, err, ErrMisconfigured)
}

func TestRateLimitedEvent(t *testing.T) {
	var events []RequestEvent
	m, err := New(withLimits(Limit{Name: "search", Rate: 1, Period: time.Minute}), WithLimiter(newTestLimiter(t, newFakeClock())),
		WithHooks(Hooks{Request: func(e RequestEvent) { events = append(events, e) }}))
	require.NoError(t, err)
	h := m.Handler(okHandler)
	serve(h, writerValue)
	serve(h, writerValue)
	require.Len(t, events, 2)
	assert.Equal(t, OutcomeAuthenticated, events[0].Outcome)
	assert.Equal(t, OutcomeRateLimited, events[1].Outcome)
	assert.Equal(t, writerKey.ID, events[1].Key.ID)
	var le *LimitError
	require.ErrorAs(t, events[1].Err, &le)
	assert.Equal(t, "search", le.Limit)
	assert.ErrorIs(t, events[1].Err, ErrRateLimited)
	assert.NotErrorIs(t, events[1].Err, ErrQuotaExhausted)
	assert.ErrorIs(t, &LimitError{Quota: true}, ErrRateLimited, "a quota refusal is a rate limit too")
	assert.ErrorIs(t, &LimitError{Quota: true}, ErrQuotaExhausted)
	assert.Equal(t, `apikey: rate limited: limit "search", retry after 1m0s`, events[1].Err.Error())
}

func TestRateLimitFieldsSyntax(t *testing.T) {
	tests := []struct {
		name           string
		limits         []Limit
		ds             []Decision
		q              *QuotaDecision
		policy, fields string
	}{
		{"sub-second period", []Limit{{Name: "fast", Rate: 5, Period: 100 * time.Millisecond}}, []Decision{{Allowed: true, Remaining: 4, ResetAfter: 20 * time.Millisecond}},
			nil, `"fast";q=50;w=1`, `"fast";r=4;t=1`},
		{"odd period", []Limit{{Rate: 3, Period: 1500 * time.Millisecond}}, []Decision{{RetryAfter: 400 * time.Millisecond}},
			nil, `"default";q=4;w=2`, `"default";r=0;t=1`},
		{"refilling quota", nil, nil, &QuotaDecision{Allowed: true, Remaining: 7, Limit: 100, Interval: 24 * time.Hour, RefillAfter: 90 * time.Minute},
			`"quota";q=100;w=86400`, `"quota";r=7;t=5400`},
		{"huge numbers are clamped", []Limit{{Rate: 1_000_000_000, Period: time.Nanosecond}}, []Decision{{Allowed: true, Remaining: 1 << 62}},
			&QuotaDecision{Remaining: 1 << 62, Limit: -1}, `"default";q=999999999999999;w=1, "quota";q=0`, `"default";r=999999999999999;t=0, "quota";r=999999999999999`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			var s limitScratch
			setRateLimitFields(h, tc.limits, tc.ds, tc.q, &s)
			assert.Equal(t, tc.policy, h.Get("RateLimit-Policy"))
			assert.Equal(t, tc.fields, h.Get("RateLimit"))
			assertStructuredFields(t, h)
		})
	}
}

// sfItem is one member of the fields' lists, as RFC 9651 §4.2 parses it:
// an sf-string, then parameters whose values are sf-integers.
var sfItem = regexp.MustCompile(`^"[\x20\x21\x23-\x5b\x5d-\x7e]*"(;[a-z*][a-z0-9_.*-]*=(-?[0-9]{1,15}))*$`)

// assertStructuredFields checks that both fields are Lists of Strings with
// Integer parameters, separated as RFC 9651 serializes them, and that the
// parameters the draft defines are those it allows.
func assertStructuredFields(t *testing.T, h http.Header) {
	t.Helper()
	allowed := map[string]map[string]bool{
		"RateLimit-Policy": {"q": true, "w": true},
		"RateLimit":        {"r": true, "t": true},
	}
	for field, params := range allowed {
		vals := h.Values(field)
		require.Len(t, vals, 1, field)
		for _, member := range strings.Split(vals[0], ", ") {
			require.Regexp(t, sfItem, member, field)
			for _, p := range strings.Split(member, ";")[1:] {
				k, v, _ := strings.Cut(p, "=")
				assert.True(t, params[k], "%s: parameter %s", field, k)
				assert.NotEqual(t, '-', v[0], "%s: %s is never negative", field, k)
				if k == "w" {
					assert.NotEqual(t, "0", v, "w is positive")
				}
			}
		}
	}
}

// The hit path of a key with a limit allocates nothing more than that of
// a key without.
func TestLimitedHitPathAllocations(t *testing.T) {
	plain, err := New(testStatic())
	require.NoError(t, err)
	measure := func(m *Middleware, cost int) float64 {
		h := m.Cost(cost)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		r := httptest.NewRequest(http.MethodGet, "/posts", nil)
		r.Header.Set("Authorization", "Bearer "+writerValue)
		w := &discard{h: http.Header{}}
		h.ServeHTTP(w, r)
		return testing.AllocsPerRun(200, func() {
			clear(w.h)
			h.ServeHTTP(w, r)
		})
	}
	unlimited := measure(plain, 1)
	for name, limits := range map[string][]Limit{
		"one limit":  {{Rate: 1e9, Period: time.Second}},
		"two limits": {{Rate: 1e9, Period: time.Second}, {Name: "org", Rate: 1e9, Period: time.Second, Scope: ScopeOwner}},
	} {
		t.Run(name, func(t *testing.T) {
			m, err := New(withLimits(limits...))
			require.NoError(t, err)
			assert.Equal(t, unlimited, measure(m, 1))
			assert.Equal(t, unlimited, measure(m, 2), "at a route cost")
		})
	}
}

// Two middlewares sharing a Cache, each with its own limiter (as New
// makes by default), charge a key that requests alternate between as
// cheaply as one does: the entry's plan is the first one's, not made
// again at every turn.
func TestLimitedHitPathAllocationsSharedCache(t *testing.T) {
	c, err := NewCache(withLimits(Limit{Rate: 1e9, Period: time.Second}))
	require.NoError(t, err)
	var hs [2]http.Handler
	for i := range hs {
		m, err := New(c)
		require.NoError(t, err)
		hs[i] = m.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	}
	r := httptest.NewRequest(http.MethodGet, "/posts", nil)
	r.Header.Set("Authorization", "Bearer "+writerValue)
	w := &discard{h: http.Header{}}
	for _, h := range hs {
		h.ServeHTTP(w, r)
		h.ServeHTTP(w, r)
	}
	one := testing.AllocsPerRun(200, func() {
		clear(w.h)
		hs[0].ServeHTTP(w, r)
	})
	alternating := testing.AllocsPerRun(200, func() {
		for _, h := range hs {
			clear(w.h)
			h.ServeHTTP(w, r)
		}
	})
	assert.Equal(t, 2*one, alternating)
}

// The context of a limited request stays a small object: above 512 bytes
// the runtime adds a header to each allocation, and the hit path slows.
func TestLimitedContextIsSmall(t *testing.T) {
	assert.LessOrEqual(t, unsafe.Sizeof(limitedContext{}), uintptr(512))
	assert.LessOrEqual(t, unsafe.Sizeof(quietContext{}), uintptr(512))
	// The decisions stay on the stack: only the fields' text is in the
	// context, which every limited request allocates, zeroes and scans.
	assert.LessOrEqual(t, unsafe.Sizeof(quietContext{}), uintptr(128))
}

// Require checks the key's permissions before its limits and quota: a
// request it refuses (403) spends neither, and carries no RateLimit
// fields; one it lets through spends both once.
func TestRequireRefusesBeforeCharging(t *testing.T) {
	limiter := &countingLimiter{Limiter: newTestLimiter(t, newFakeClock())}
	quotas := &memQuotas{}
	v := ValidatorFunc(func(_ context.Context, value string) (*Key, error) {
		if value != writerValue {
			return nil, ErrInvalidKey
		}
		k := writerKey
		k.Limits = []Limit{{Rate: 100, Period: time.Second}}
		k.Quota = &Quota{Remaining: 100}
		return &k, nil
	})
	m, err := New(v, WithLimiter(limiter), WithQuotas(quotas))
	require.NoError(t, err)

	w := serve(m.Require("keys:admin")(okHandler), writerValue)
	require.Equal(t, 403, w.Code)
	assert.Equal(t, int64(0), limiter.calls.Load(), "a request refused 403 spends no limit")
	assert.Equal(t, int64(0), quotas.spends.Load(), "nor a credit")
	assert.Empty(t, w.Header().Get("RateLimit"))

	w = serve(m.Require("posts:write")(okHandler), writerValue)
	require.Equal(t, 200, w.Code)
	assert.Equal(t, int64(1), limiter.calls.Load())
	assert.Equal(t, int64(1), quotas.spends.Load())
	assert.Equal(t, `"default";r=99;t=1, "quota";r=99`, w.Header().Get("RateLimit"))
}

// A quota refused for a cost above what a refill tops up to gets no
// Retry-After: waiting for the refill would not be enough.
func TestQuotaRetryAfterOnlyWhenARefillHelps(t *testing.T) {
	m, err := New(withQuota(&Quota{Remaining: 0, Refill: &Refill{Amount: 100, Interval: 24 * time.Hour}}), WithQuotas(emptyQuotas{}))
	require.NoError(t, err)
	w := serve(m.Cost(100)(okHandler), writerValue)
	require.Equal(t, 429, w.Code)
	assert.Equal(t, "3600", w.Header().Get("Retry-After"), "100 fit in a refill")
	w = serve(m.Cost(101)(okHandler), writerValue)
	require.Equal(t, 429, w.Code)
	assert.Empty(t, w.Header().Get("Retry-After"), "101 never fit")
}
