package apikey

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"
)

// The tests in this file pin the edges that the other tests leave loose:
// each value sits on one side of a comparison, so that a comparison moved
// by one (> for >=, say) or an operator swapped fails a test. They were
// written against the survivors of a mutation run (see CONTRIBUTING.md).

// A key of exactly the maximum length reaches the validator; one byte more
// is malformed.
func TestBoundaryMaxKeyLength(t *testing.T) {
	n := len(writerValue)
	tests := []struct {
		max     int
		wantErr error
	}{
		{n, nil},
		{n + 1, nil},
		{n - 1, ErrMalformedKey},
		{1, ErrMalformedKey},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.max), func(t *testing.T) {
			m, err := New(testStatic(), WithMaxKeyLength(tc.max))
			require.NoError(t, err)
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("Authorization", "Bearer "+writerValue)
			_, err = m.Authenticate(r)
			if tc.wantErr == nil {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, tc.wantErr)
				assert.EqualError(t, err, fmt.Sprintf("apikey: malformed key: the key is longer than %d bytes", tc.max))
			}
		})
	}
}

// Every option accepts the smallest value that works and refuses the one
// just beyond it.
func TestBoundaryOptionEdges(t *testing.T) {
	tests := []struct {
		name string
		opts []Option
		ok   bool
	}{
		{"max key length 1", []Option{WithMaxKeyLength(1)}, true},
		{"max key length 0", []Option{WithMaxKeyLength(0)}, false},
		{"cache size 1", []Option{WithCacheSize(1)}, true},
		{"negative cache size 1", []Option{WithNegativeCacheSize(1)}, true},
		{"negative cache size 0", []Option{WithNegativeCacheSize(0)}, false},
		{"cache TTL 1ns", []Option{WithCacheTTL(time.Nanosecond)}, true},
		{"negative TTL 0", []Option{WithNegativeCacheTTL(0)}, true},
		{"negative TTL -1ns", []Option{WithNegativeCacheTTL(-1)}, false},
		{"stale 0", []Option{WithStaleIfError(0)}, true},
		{"stale -1ns", []Option{WithStaleIfError(-1)}, false},
		{"timeout 1ns", []Option{WithValidationTimeout(time.Nanosecond)}, true},
		{"timeout -1ns", []Option{WithValidationTimeout(-1)}, false},
		{"rate 0, burst 0", []Option{WithValidationRate(0, 0)}, false},
		{"rate 0, burst 1", []Option{WithValidationRate(0, 1)}, false},
		{"rate 1, burst 1", []Option{WithValidationRate(1, 1)}, true},
		{"rate smallest positive", []Option{WithValidationRate(math.SmallestNonzeroFloat64, 1)}, true},
		{"rate largest finite", []Option{WithValidationRate(math.MaxFloat64, 1)}, true},
		{"rate +Inf", []Option{WithValidationRate(math.Inf(1), 1)}, false},
		{"rate -Inf", []Option{WithValidationRate(math.Inf(-1), 1)}, false},
		{"rate NaN", []Option{WithValidationRate(math.NaN(), 1)}, false},
		{"rate 1, burst 0", []Option{WithValidationRate(1, 0)}, false},
		{"rate -1", []Option{WithValidationRate(-1, 1)}, false},
		{"in flight 1", []Option{WithMaxInFlight(1)}, true},
		{"in flight 0", []Option{WithMaxInFlight(0)}, false},
		{"reserve 0", []Option{WithKnownKeyReserve(0)}, true},
		{"reserve 0.99", []Option{WithKnownKeyReserve(0.99)}, true},
		{"reserve 1", []Option{WithKnownKeyReserve(1)}, false},
		{"reserve -0.01", []Option{WithKnownKeyReserve(-0.01)}, false},
		{"realm with a space and a tilde", []Option{WithRealm("a b~")}, true},
		{"realm with 0x1f", []Option{WithRealm("a\x1fb")}, false},
		{"realm with DEL", []Option{WithRealm("a\x7fb")}, false},
		{"realm with a backslash", []Option{WithRealm(`a\b`)}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := New(testStatic(), tc.opts...)
			if tc.ok {
				assert.NoError(t, err)
				assert.NotNil(t, m)
			} else {
				assert.ErrorIs(t, err, ErrMisconfigured)
			}
		})
	}
}

// A cache spreads its entries over a power of two of shards, at most 16
// and never more than its size, whose bounds add up to its size.
func TestBoundaryShards(t *testing.T) {
	tests := []struct{ size, shards int }{
		{1, 1}, {2, 2}, {3, 2}, {4, 4}, {7, 4}, {8, 8}, {15, 8}, {16, 16}, {17, 16}, {31, 16}, {32, 16}, {10_000, 16},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.size), func(t *testing.T) {
			require.Equal(t, tc.shards, shardCount(tc.size))
			total := 0
			for i := range tc.shards {
				n := perShard(tc.size, tc.shards, i)
				assert.Contains(t, []int{tc.size / tc.shards, tc.size/tc.shards + 1}, n)
				total += n
			}
			assert.Equal(t, tc.size, total)
		})
	}
	// The remainder goes to the first shards.
	assert.Equal(t, []int{3, 3, 2, 2}, []int{perShard(10, 4, 0), perShard(10, 4, 1), perShard(10, 4, 2), perShard(10, 4, 3)})

	// A digest's shard is its first byte's low bits.
	for _, tc := range []struct{ first, shards, want int }{
		{0xff, 16, 15}, {0xff, 1, 0}, {0x10, 16, 0}, {0x17, 8, 7}, {0x02, 2, 0}, {0x03, 2, 1},
	} {
		assert.Equal(t, tc.want, shardOf(Digest{byte(tc.first)}, tc.shards), "%#x over %d", tc.first, tc.shards)
	}
}

// A hit moves its entry to the LRU's front once a second at most: a hit
// exactly a second after the last move moves it, one a nanosecond sooner
// does not.
func TestBoundaryPromoteEvery(t *testing.T) {
	tests := []struct {
		after       time.Duration
		evicted     string // by the next miss
		kept        string
		description string
	}{
		{time.Second - time.Nanosecond, readerValue, writerValue, "not moved: reader stays the oldest"},
		{time.Second, writerValue, readerValue, "moved: writer becomes the oldest"},
	}
	for _, tc := range tests {
		t.Run(tc.after.String(), func(t *testing.T) {
			v := counting(testStatic())
			c, clock := newTestCache(t, v, WithCacheTTL(time.Hour))
			c.positive = newPositiveShards(2, 1, &c.ids)
			ctx := context.Background()
			validate := func(value string) {
				t.Helper()
				_, err := c.Validate(ctx, value)
				require.NoError(t, err)
			}
			clock.Advance(time.Hour) // instants far from zero
			validate(readerValue)
			validate(writerValue)
			clock.Advance(tc.after)
			validate(readerValue) // a hit
			validate(adminValue)  // a miss that evicts the oldest
			require.EqualValues(t, 3, v.calls.Load())

			validate(tc.kept)
			assert.EqualValues(t, 3, v.calls.Load(), tc.description)
			validate(tc.evicted)
			assert.EqualValues(t, 4, v.calls.Load(), tc.description)
		})
	}
}

// partedCache returns a cache whose entries' clock is mono and whose wall
// clock lags an hour behind it, so that only the entries' own end is
// tested, not the key's ExpiresAt by the wall clock; its validator returns
// writerKey expiring at mono's start + life, or the error in fail if set.
func partedCache(t *testing.T, life time.Duration, fail *error, opts ...Option) (*Cache, *fakeClock, *countingValidator) {
	t.Helper()
	mono := newFakeClock()
	expires := mono.Now().Add(life)
	v := &countingValidator{fn: func(context.Context, string) (*Key, error) {
		if *fail != nil {
			return nil, *fail
		}
		k := writerKey
		k.ExpiresAt = expires
		return &k, nil
	}}
	c, err := NewCache(v, append([]Option{WithClock(mono.Now), WithCacheTTL(time.Hour)}, opts...)...)
	require.NoError(t, err)
	c.clock.fakeWall = func() time.Time { return mono.Now().Add(-time.Hour) }
	return c, mono, v
}

// An entry is served up to the instant it ends, not at it: read at exactly
// its end, it is a miss, and the stale window ends there too.
func TestBoundaryEntryEndsAtItsInstant(t *testing.T) {
	ctx := context.Background()
	t.Run("fresh", func(t *testing.T) {
		var fail error
		c, clock, v := partedCache(t, 10*time.Second, &fail)
		_, err := c.Validate(ctx, writerValue)
		require.NoError(t, err)
		clock.Advance(10*time.Second - time.Nanosecond)
		_, err = c.Validate(ctx, writerValue)
		require.NoError(t, err)
		assert.EqualValues(t, 1, v.calls.Load(), "a hit a nanosecond before the end")
		clock.Advance(time.Nanosecond)
		_, err = c.Validate(ctx, writerValue)
		require.NoError(t, err, "the wall clock says the key is valid")
		assert.EqualValues(t, 2, v.calls.Load(), "a miss at the end")
	})
	t.Run("stale", func(t *testing.T) {
		var fail error
		c, clock, _ := partedCache(t, 10*time.Second, &fail, WithStaleIfError(time.Hour))
		_, err := c.Validate(ctx, writerValue)
		require.NoError(t, err)
		fail = &UnavailableError{}
		clock.Advance(10*time.Second - time.Nanosecond)
		key, err := c.staleOr(DigestOf(writerValue), c.clock.now(), fail)
		require.NoError(t, err, "stale a nanosecond before the end")
		assert.Equal(t, writerKey.ID, key.ID)
		clock.Advance(time.Nanosecond)
		_, err = c.Validate(ctx, writerValue)
		assert.ErrorIs(t, err, ErrUnavailable, "no stale answer at the end")
		assert.EqualValues(t, 1, c.Stats().StaleHits)
	})
	t.Run("negative", func(t *testing.T) {
		v := counting(testStatic())
		c, clock := newTestCache(t, v, WithNegativeCacheTTL(5*time.Second))
		for _, d := range []time.Duration{0, 5*time.Second - time.Nanosecond, time.Nanosecond} {
			clock.Advance(d)
			_, err := c.Validate(ctx, "sk_test_unknown")
			require.ErrorIs(t, err, ErrInvalidKey)
		}
		assert.EqualValues(t, 2, v.calls.Load(), "remembered until, not at, the negative TTL")
	})
}

// A key is valid until the instant of its ExpiresAt, not at it.
func TestBoundaryExpiresAtInstant(t *testing.T) {
	for _, tc := range []struct {
		life    time.Duration
		wantErr error
	}{
		{0, ErrInvalidKey},
		{-time.Nanosecond, ErrInvalidKey},
		{time.Nanosecond, nil},
	} {
		t.Run(tc.life.String(), func(t *testing.T) {
			clock := newFakeClock()
			c, _ := newExpiringCache(t, clock, clock.Now().Add(tc.life))
			_, err := c.Validate(context.Background(), writerValue)
			if tc.wantErr == nil {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, tc.wantErr)
			}
		})
	}
	k := &Key{ExpiresAt: time.Unix(100, 0)}
	assert.False(t, k.expired(func() time.Time { return time.Unix(100, 0).Add(-1) }))
	assert.True(t, k.expired(func() time.Time { return time.Unix(100, 0) }))
	assert.False(t, (&Key{}).expired(nil), "no expiry, no clock read")
}

// The TTL's jitter takes between 0 and 10 % off, spread over the whole
// range: of many keys validated together, all are cached until 90 % of the
// TTL, some have ended half-way through the jitter, and none is left at
// the TTL.
func TestBoundaryTTLJitter(t *testing.T) {
	const n = 200
	tests := []struct {
		after          time.Duration
		minEnd, maxEnd int64 // of the n entries, how many have ended
	}{
		{90*time.Second - time.Nanosecond, 0, 0},
		{95 * time.Second, n / 5, 4 * n / 5},
		{100 * time.Second, n, n},
	}
	for _, tc := range tests {
		t.Run(tc.after.String(), func(t *testing.T) {
			v := counting(ValidatorFunc(func(_ context.Context, value string) (*Key, error) {
				return &Key{ID: value}, nil
			}))
			c, clock := newTestCache(t, v, WithCacheTTL(100*time.Second), WithCacheSize(10*n))
			sweep := func() int64 {
				before := v.calls.Load()
				for i := range n {
					_, err := c.Validate(context.Background(), fmt.Sprintf("sk_jitter_%d", i))
					require.NoError(t, err)
				}
				return v.calls.Load() - before
			}
			require.EqualValues(t, n, sweep())
			clock.Advance(tc.after)
			ended := sweep()
			assert.GreaterOrEqual(t, ended, tc.minEnd)
			assert.LessOrEqual(t, ended, tc.maxEnd)
		})
	}
}

// With negative caching off, nothing is remembered as invalid.
func TestBoundaryNegativeCacheOff(t *testing.T) {
	v := counting(testStatic())
	c, _ := newTestCache(t, v, WithNegativeCacheTTL(0))
	for range 2 {
		_, err := c.Validate(context.Background(), "sk_test_unknown")
		require.ErrorIs(t, err, ErrInvalidKey)
	}
	assert.EqualValues(t, 2, v.calls.Load())
	assert.Zero(t, c.Stats().NegativeSize)
}

// With stale-if-error off, a failed validation answers its error, even
// when a later validation of the same key has stored a fresh entry
// meanwhile (after an invalidation parted the two).
func TestBoundaryNoStaleWhenOff(t *testing.T) {
	failing := true
	first := newGate(func(context.Context, string) (*Key, error) { return nil, &UnavailableError{} })
	v := ValidatorFunc(func(ctx context.Context, value string) (*Key, error) {
		if failing {
			failing = false
			return first.Validate(ctx, value)
		}
		return testStatic().Validate(ctx, value)
	})
	c, _ := newTestCache(t, v)
	ctx := context.Background()
	done := make(chan error)
	go func() { _, err := c.Validate(ctx, writerValue); done <- err }()
	<-first.started
	c.InvalidateValue(writerValue)
	_, err := c.Validate(ctx, writerValue) // a new flight, which stores the key
	require.NoError(t, err)
	close(first.release)
	assert.ErrorIs(t, <-done, ErrUnavailable)
	assert.Zero(t, c.Stats().StaleHits)
}

// The budget's split between known keys and the others, per second and in
// flight.
func TestBoundaryBudgetSplit(t *testing.T) {
	tests := []struct {
		rate                        float64
		burst, maxInFlight          int
		reserve                     float64
		generalInFlight             int64
		reservedRate, generalRate   rate.Limit
		reservedBurst, generalBurst int
	}{
		{100, 100, 256, 0.5, 128, 50, 50, 50, 50},
		{100, 10, 10, 0.25, 7, 25, 75, 2, 8},
		{10, 1, 1, 0.5, 1, 5, 5, 1, 1}, // each share gets a burst of at least one
		{8, 4, 3, 0, 3, 0, 8, 0, 4},
		{8, 4, 4, 0.9, 1, 7.2, 0.8, 3, 1},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%g/%d/%d/%g", tc.rate, tc.burst, tc.maxInFlight, tc.reserve), func(t *testing.T) {
			s := defaultSettings()
			s.rate, s.burst, s.maxInFlight, s.reserve = tc.rate, tc.burst, tc.maxInFlight, tc.reserve
			b := newBudget(&s)
			assert.EqualValues(t, tc.maxInFlight, b.maxInFlight)
			assert.Equal(t, tc.generalInFlight, b.generalInFlight)
			assert.InDelta(t, float64(tc.reservedRate), float64(b.reserved.Limit()), 1e-9)
			assert.InDelta(t, float64(tc.generalRate), float64(b.general.Limit()), 1e-9)
			assert.Equal(t, tc.reservedBurst, b.reserved.Burst())
			assert.Equal(t, tc.generalBurst, b.general.Burst())
		})
	}
	s := defaultSettings()
	assert.Nil(t, newBudget(&s).general, "no rate, no bucket")
}

// The in-flight bound admits exactly its number of calls, and every call
// refused, for either bound, gives its slot back.
func TestBoundaryBudgetTake(t *testing.T) {
	s := defaultSettings()
	s.maxInFlight, s.reserve = 4, 0.5
	b := newBudget(&s)

	require.NoError(t, b.take(false, time.Time{}))
	require.NoError(t, b.take(false, time.Time{}))
	assert.Equal(t, errOverBudget, b.take(false, time.Time{}), "2 general slots of 4")
	require.NoError(t, b.take(true, time.Time{}))
	require.NoError(t, b.take(true, time.Time{}))
	assert.Equal(t, errOverBudget, b.take(true, time.Time{}), "4 slots in all for known keys")
	assert.EqualValues(t, 4, b.inFlight.Load())
	assert.EqualValues(t, 2, b.refused.Load())
	for range 4 {
		b.release()
	}
	assert.Zero(t, b.inFlight.Load())

	// Refused by the rate: the slot taken is given back.
	s.rate, s.burst, s.reserve = 1, 1, 0
	b = newBudget(&s)
	wall := time.Unix(1000, 0)
	require.NoError(t, b.take(false, wall))
	b.release()
	for range 10 {
		assert.Equal(t, errOverBudget, b.take(false, wall))
	}
	assert.Zero(t, b.inFlight.Load())
	assert.NoError(t, b.take(false, wall.Add(time.Second)), "a token a second later")
}

// A key counts as known for 24 hours after it was last validated as valid,
// not at 24 hours; up to twice the cache size of them are remembered.
func TestBoundaryKnownKeys(t *testing.T) {
	b := &budget{known: newKnownKeys(6)} // for a cache of 3
	at := instant(time.Hour)
	d := DigestOf("sk_known")
	b.known.remember(d, at)
	assert.True(t, b.known.has(d, at))
	assert.True(t, b.known.has(d, at.add(24*time.Hour-time.Nanosecond)))
	assert.False(t, b.known.has(d, at.add(24*time.Hour)))
	assert.False(t, b.known.has(DigestOf("sk_other"), at))

	for i := range 5 {
		b.known.remember(DigestOf(fmt.Sprint("sk_", i)), at)
	}
	assert.True(t, b.known.has(d, at), "6 remembered for a cache of 3")
	b.known.remember(DigestOf("sk_5"), at)
	assert.False(t, b.known.has(d, at), "the oldest of 7 forgotten")
}

// A six-letter scheme other than Bearer is no key, not a malformed one
// (the check for "Bearer\t" reads seven bytes).
func TestBoundaryBearerScheme(t *testing.T) {
	tests := []struct {
		header  string
		want    string
		wantErr bool
	}{
		{"Digest abc", "", false},
		{"Bearer abc", "abc", false},
		{"Bearer\tabc", "", true},
		{"Bearerx abc", "", false},
		{"Bearer", "", true},
		{"Bearer =", "", true},
		{"Bearer a=", "a=", false},
		{"Bearer a=b", "", true},
		{"Bearer az09AZ-._~+/", "az09AZ-._~+/", false},
		{"Bearer a`", "", true},
		{"Bearer a:", "", true},
		{"Bearer a@", "", true},
		{"Bearer a[", "", true},
		{"Bearer a{", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.header, func(t *testing.T) {
			key, err := extractBearer(tc.header)
			assert.Equal(t, tc.want, key)
			if tc.wantErr {
				assert.ErrorIs(t, err, ErrMalformedKey)
			} else {
				assert.NoError(t, err)
			}
		})
	}
	for c := 0; c < 256; c++ {
		want := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~+/", byte(c)) >= 0
		assert.Equal(t, want, isToken68Char(byte(c)), "%q", c)
	}
}

// Scope tokens are %x21 / %x23-5B / %x5D-7E: a permission with any other
// byte is left out of the challenge.
func TestBoundaryScopeValue(t *testing.T) {
	assert.Equal(t, "! ~ a:b", scopeValue([]string{"!", "~", "a:b", "a b", "\x7f", "", `"`, `\`, "\x20x"}))
}

// Retry-After rounds up to whole seconds: a cause of exactly n seconds
// asks for n, a nanosecond more for n+1; no cause, 1.
func TestBoundaryRetryAfter(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{ErrUnavailable, "1"},
		{&UnavailableError{RetryAfter: 1}, "1"},
		{&UnavailableError{RetryAfter: 2 * time.Second}, "2"},
		{&UnavailableError{RetryAfter: 2*time.Second - 1}, "2"},
		{&UnavailableError{RetryAfter: 2*time.Second + 1}, "3"},
		{&UnavailableError{RetryAfter: 0}, "1"},
		{errOverBudget, "1"},
	}
	for _, tc := range tests {
		t.Run(tc.err.Error(), func(t *testing.T) {
			assert.Equal(t, tc.want, retryAfterSeconds(tc.err))
		})
	}
}

// The audit line of a request that a guard refused, behind a router that
// ran inside the middleware, names the guard's route; a user key's line
// names its organization.
func TestBoundaryAuditRouteAndOrganization(t *testing.T) {
	logger, buf := testLogger()
	audit := NewAuditLog(logger)
	m, err := New(testStatic(), WithHooks(audit.Hooks()))
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("DELETE /posts/{id}", RequirePermission("posts:write")(okHandler))
	h := audit.Handler(m.Handler(mux))
	for _, v := range []string{readerValue, adminValue} {
		r := httptest.NewRequest(http.MethodDelete, "/posts/1", nil)
		r.Header.Set("Authorization", "Bearer "+v)
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	lines := logLines(t, buf)
	require.Len(t, lines, 2)
	assertFields(t, lines[0], map[string]any{"outcome": "forbidden", "status": 403.0, "route": "DELETE /posts/{id}", "key_id": readerKey.ID})
	assert.NotContains(t, lines[0], "organization_id", "an organization's key")
	assertFields(t, lines[1], map[string]any{"outcome": "authenticated", "status": 200.0, "route": "", "key_id": adminKey.ID, "organization_id": "org_1"})
}

// A later decision replaces an earlier one, keeping only what it does not
// know itself.
func TestBoundaryAuditMerge(t *testing.T) {
	first := RequestEvent{Outcome: OutcomeAuthenticated, Key: &readerKey, Digest: DigestOf(readerValue), Answer: AnswerHit}
	var rec auditRecord
	rec.merge(first)
	assert.Equal(t, first, rec.event)

	rec.merge(RequestEvent{Outcome: OutcomeForbidden})
	assert.Equal(t, RequestEvent{Outcome: OutcomeForbidden, Key: &readerKey, Digest: DigestOf(readerValue), Answer: AnswerHit}, rec.event)

	last := RequestEvent{Outcome: OutcomeForbidden, Key: &writerKey, Digest: DigestOf(writerValue), Answer: AnswerMiss}
	rec.merge(last)
	assert.Equal(t, last, rec.event)
}

// The audit line carries the status the client got: the first final one
// written, whatever a handler writes or flushes after it.
func TestBoundaryAuditStatus(t *testing.T) {
	tests := []struct {
		name   string
		handle func(w http.ResponseWriter)
		want   float64
	}{
		{"200 then 500", func(w http.ResponseWriter) { w.WriteHeader(200); w.WriteHeader(500) }, 200},
		{"103 then 201", func(w http.ResponseWriter) { w.WriteHeader(103); w.WriteHeader(201) }, 201},
		{"201 then a flush", func(w http.ResponseWriter) { w.WriteHeader(201); w.(http.Flusher).Flush() }, 201},
		{"a flush", func(w http.ResponseWriter) { w.(http.Flusher).Flush() }, 200},
		{"202 then a write", func(w http.ResponseWriter) { w.WriteHeader(202); w.Write([]byte("x")) }, 202},
		{"nothing", func(w http.ResponseWriter) {}, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			logger, buf := testLogger()
			audit := NewAuditLog(logger)
			m, err := New(testStatic(), WithHooks(audit.Hooks()))
			require.NoError(t, err)
			h := audit.Handler(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { tc.handle(w) })))
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("Authorization", "Bearer "+readerValue)
			h.ServeHTTP(httptest.NewRecorder(), r)
			lines := logLines(t, buf)
			require.Len(t, lines, 1)
			assert.Equal(t, tc.want, lines[0]["status"])
		})
	}
}

// A known key that the budget refuses, served stale, is answered "stale";
// a refused key with nothing to serve is a miss.
func TestBoundaryOverBudgetAnswers(t *testing.T) {
	_, v := customers(1)
	c, clock := newTestCache(t, v, WithValidationRate(1, 1), WithKnownKeyReserve(0),
		WithCacheTTL(time.Second), WithStaleIfError(time.Hour))
	ctx := context.Background()
	customer := "sk_customer_00000"
	_, err := c.Validate(ctx, customer)
	require.NoError(t, err)
	clock.Advance(2 * time.Second) // past the TTL, one token back
	_, err = c.Validate(ctx, "sk_random_1")
	require.ErrorIs(t, err, ErrInvalidKey)

	key, answer, err := c.lookup(ctx, DigestOf(customer), customer)
	require.NoError(t, err)
	assert.Equal(t, "key_00000", key.ID)
	assert.Equal(t, AnswerStale, answer)

	_, answer, err = c.lookup(ctx, DigestOf("sk_random_2"), "sk_random_2")
	assert.Equal(t, errOverBudget, err)
	assert.Equal(t, AnswerMiss, answer)
	assert.EqualValues(t, 2, v.calls.Load())
}

// An UnavailableError reads the same whichever of its parts are set.
func TestBoundaryUnavailableErrorText(t *testing.T) {
	tests := []struct {
		err  *UnavailableError
		want string
	}{
		{&UnavailableError{}, "apikey: validator unavailable"},
		{&UnavailableError{RequestID: "req_1"}, "apikey: validator unavailable (request id req_1)"},
		{&UnavailableError{Err: errors.New("down"), RequestID: "req_2"}, "apikey: validator unavailable: down (request id req_2)"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) { assert.EqualError(t, tc.err, tc.want) })
	}
}

// A key ID cached under two values stays invalidatable by ID after one of
// the two is dropped.
func TestBoundaryIDIndexKeepsTheOtherDigest(t *testing.T) {
	v := counting(ValidatorFunc(func(context.Context, string) (*Key, error) { return &Key{ID: "key_shared"}, nil }))
	c, _ := newTestCache(t, v)
	ctx := context.Background()
	for _, value := range []string{"sk_one", "sk_two"} {
		_, err := c.Validate(ctx, value)
		require.NoError(t, err)
	}
	c.InvalidateValue("sk_one")
	c.InvalidateID("key_shared")
	_, err := c.Validate(ctx, "sk_two")
	require.NoError(t, err)
	assert.EqualValues(t, 3, v.calls.Load(), "sk_two was forgotten with its ID")
	assert.Equal(t, []Digest{DigestOf("sk_two")}, c.ids.lookup("key_shared"))
}

// Check refuses a character outside base62 after the prefix even when the
// checksum, computed over it, matches.
func TestBoundaryKeyFormatCheckCharacters(t *testing.T) {
	valid := seededKeys(t, testFormat, 1)[0]
	for _, c := range []byte{'_', '-', '+', '/', '=', '.', ' ', 0x80} {
		for _, i := range []int{len(testFormat.Prefix), len(valid) - checksumLength - 1} {
			b := []byte(valid)
			b[i] = c
			putChecksum(b[len(b)-checksumLength:], crc32.ChecksumIEEE(b[:len(b)-checksumLength]))
			assert.False(t, testFormat.Check(string(b)), "%q at %d", c, i)
		}
	}
}

// A use a whole second after the one recorded is recorded; one a
// nanosecond sooner is not.
func TestBoundaryLastUsedResolution(t *testing.T) {
	l, err := NewLastUsed(10)
	require.NoError(t, err)
	t0 := time.Unix(1000, 0)
	l.Record("key_1", t0)
	l.Record("key_1", t0.Add(time.Second-1))
	got, ok := l.Get("key_1")
	require.True(t, ok)
	assert.Equal(t, t0, got)
	l.Record("key_1", t0.Add(time.Second))
	got, _ = l.Get("key_1")
	assert.Equal(t, t0.Add(time.Second), got)
}

// A refusal that names no permission gets the default description; one
// that names some lists them.
func TestBoundaryForbiddenBody(t *testing.T) {
	for _, tc := range []struct {
		err  *PermissionError
		want string
	}{
		{&PermissionError{}, "The API key lacks a required permission."},
		{&PermissionError{Missing: []string{"posts:write"}}, "The API key lacks a required permission: posts:write."},
	} {
		t.Run(tc.want, func(t *testing.T) {
			w := httptest.NewRecorder()
			WriteError(w, httptest.NewRequest(http.MethodGet, "/", nil), tc.err)
			assert.Equal(t, http.StatusForbidden, w.Code)
			assert.JSONEq(t, `{"error":"insufficient_scope","error_description":"`+tc.want+`"}`, w.Body.String())
		})
	}
}
