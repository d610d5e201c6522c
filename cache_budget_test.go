package apikey

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// customers returns n valid keys by value, for a validator that knows them
// and nothing else.
func customers(n int) (map[string]Key, *countingValidator) {
	keys := make(map[string]Key, n)
	for i := range n {
		keys[fmt.Sprintf("sk_customer_%05d", i)] = Key{ID: fmt.Sprintf("key_%05d", i)}
	}
	v := counting(ValidatorFunc(func(_ context.Context, value string) (*Key, error) {
		if k, ok := keys[value]; ok {
			return &k, nil
		}
		return nil, ErrInvalidKey
	}))
	return keys, v
}

func TestBudgetRate(t *testing.T) {
	keys, v := customers(1)
	c, clock := newTestCache(t, v, WithValidationRate(10, 10), WithCacheTTL(time.Second))
	ctx := context.Background()
	_, err := c.Validate(ctx, "sk_customer_00000")
	require.NoError(t, err, "a burst token for the first customer")
	require.Len(t, keys, 1)

	// A flood of unknown keys spends the general half of the burst, and
	// the reserved half but for the one token kept for the one known key,
	// then is refused at once, without a call.
	refused := 0
	for i := range 20 {
		_, err := c.Validate(ctx, fmt.Sprintf("sk_random_%d", i))
		if err == errOverBudget {
			refused++
		} else {
			require.ErrorIs(t, err, ErrInvalidKey)
		}
	}
	assert.Equal(t, 12, refused, "5 general tokens, one spent on the customer, and 4 reserved ones")
	assert.EqualValues(t, 9, v.calls.Load())
	assert.EqualValues(t, 12, c.Stats().Refused)

	// The known customer, whose entry expired meanwhile, still gets in on
	// the reserved half.
	clock.Advance(2 * time.Second) // also refills 10 tokens: spend them
	for i := range 10 {
		c.Validate(ctx, fmt.Sprintf("sk_random_again_%d", i))
	}
	calls := v.calls.Load()
	_, err = c.Validate(ctx, "sk_customer_00000")
	require.NoError(t, err)
	assert.Equal(t, calls+1, v.calls.Load())

	// Time refills the general budget.
	_, err = c.Validate(ctx, "sk_random_late")
	assert.Equal(t, errOverBudget, err)
	clock.Advance(time.Second)
	_, err = c.Validate(ctx, "sk_random_late")
	assert.ErrorIs(t, err, ErrInvalidKey)
}

// 100 new keys arriving at once, on a cache warming up with no key known
// yet, all get through on a burst of 100: the reserve keeps back one token
// per known key, up to its half of the burst, and lends the rest.
func TestBudgetWarming(t *testing.T) {
	for _, tc := range []struct {
		name    string
		known   int
		through int
	}{
		{"cold", 0, 100},
		{"10 known", 10, 90},
		{"60 known", 60, 50}, // more known keys than the reserved half: all of it kept
	} {
		t.Run(tc.name, func(t *testing.T) {
			release := make(chan struct{})
			var asked sync.WaitGroup
			asked.Add(100)
			v := ValidatorFunc(func(context.Context, string) (*Key, error) {
				asked.Done()
				<-release // every call is in flight before any is answered
				return &Key{ID: "key_new"}, nil
			})
			c, _ := newTestCache(t, v, WithValidationRate(100, 100))
			for i := range tc.known {
				c.budget.known.remember(DigestOf(fmt.Sprintf("sk_known_%d", i)), c.clock.now())
			}
			var through atomic.Int64
			var done sync.WaitGroup
			for i := range 100 {
				done.Add(1)
				go func() {
					defer done.Done()
					_, err := c.Validate(context.Background(), fmt.Sprintf("sk_new_%d", i))
					if err == nil {
						through.Add(1)
					} else {
						asked.Done() // refused: no call
					}
				}()
			}
			asked.Wait()
			close(release)
			done.Wait()
			assert.EqualValues(t, tc.through, through.Load())
		})
	}
}

// Over budget, the answer is a 503 with Retry-After, like any outage.
func TestBudgetAnswers503(t *testing.T) {
	_, v := customers(0)
	m, err := New(v, WithValidationRate(1, 1), WithKnownKeyReserve(0))
	require.NoError(t, err)
	var codes []int
	for i := range 2 {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", fmt.Sprintf("Bearer sk_random_%d", i))
		w := httptest.NewRecorder()
		m.Handler(http.NotFoundHandler()).ServeHTTP(w, r)
		codes = append(codes, w.Code)
		if w.Code == http.StatusServiceUnavailable {
			assert.Equal(t, "1", w.Header().Get("Retry-After"))
		}
	}
	assert.Equal(t, []int{401, 503}, codes)
	assert.EqualValues(t, 1, v.calls.Load())
}

// With stale-if-error, a known key that the budget refuses is served stale,
// within the same window as in an outage.
func TestBudgetServesKnownKeysStale(t *testing.T) {
	_, v := customers(1)
	c, clock := newTestCache(t, v, WithValidationRate(2, 2), WithKnownKeyReserve(0.5),
		WithCacheTTL(10*time.Second), WithStaleIfError(time.Minute))
	ctx := context.Background()
	_, err := c.Validate(ctx, "sk_customer_00000") // a general token
	require.NoError(t, err)
	clock.Advance(11 * time.Second) // past the TTL; the bucket refills
	for _, value := range []string{"sk_random_1", "sk_random_2", "sk_random_3"} {
		c.Validate(ctx, value) // spend the general tokens
	}
	_, err = c.Validate(ctx, "sk_customer_00000") // the reserved token
	require.NoError(t, err)
	clock.Advance(11 * time.Second)
	for _, value := range []string{"sk_random_4", "sk_random_5", "sk_random_6", "sk_random_7"} {
		c.Validate(ctx, value)
	}
	c.budget.reserved.AllowN(clock.Now(), 1) // nothing left for anyone
	calls := v.calls.Load()
	key, err := c.Validate(ctx, "sk_customer_00000")
	require.NoError(t, err, "served stale")
	assert.Equal(t, "key_00000", key.ID)
	assert.Equal(t, calls, v.calls.Load(), "without a call")
	assert.EqualValues(t, 1, c.Stats().StaleHits)

	clock.Advance(2 * time.Minute) // past the stale window
	for _, value := range []string{"sk_random_8", "sk_random_9", "sk_random_10", "sk_random_11"} {
		c.Validate(ctx, value)
	}
	c.budget.reserved.AllowN(clock.Now(), 1)
	_, err = c.Validate(ctx, "sk_customer_00000")
	assert.ErrorIs(t, err, ErrUnavailable)
}

// However many distinct keys arrive at once, the validator calls in flight,
// and the goroutines behind them, stay bounded; known keys keep their share.
func TestBudgetBoundsInFlight(t *testing.T) {
	_, v := customers(1)
	g := newGate(v.Validate)
	c, clock := newTestCache(t, g, WithMaxInFlight(8), WithKnownKeyReserve(0.5), WithCacheTTL(time.Second))
	ctx := context.Background()
	close(g.release)
	_, err := c.Validate(ctx, "sk_customer_00000")
	require.NoError(t, err)
	clock.Advance(2 * time.Second)
	g.release = make(chan struct{})
	g.calls.Store(0)

	before := goroutineStacks()
	var wg sync.WaitGroup
	errs := make(chan error, 2000)
	for i := range 2000 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.Validate(ctx, fmt.Sprintf("sk_flood_%d", i))
			errs <- err
		}()
	}
	// Wait until every flood request has been answered or is waiting on
	// one of the 4 general slots.
	require.Eventually(t, func() bool { return len(errs) == 2000-4 }, 10*time.Second, time.Millisecond)
	assert.EqualValues(t, 4, g.calls.Load(), "the general share of 8")
	// Those in the cache, or started by it: not the answered ones, which
	// may not have ended yet.
	assert.LessOrEqual(t, newGoroutines(before, goroutineStacks(), "apikey.(*Cache)"), 4*3+8, "request, flight and call goroutines of 4 calls")

	// A known customer still gets one of the reserved slots.
	done := make(chan error)
	go func() { _, err := c.Validate(ctx, "sk_customer_00000"); done <- err }()
	require.Eventually(t, func() bool { return g.calls.Load() == 5 }, 10*time.Second, time.Millisecond)
	close(g.release)
	require.NoError(t, <-done)
	wg.Wait()
	close(errs)
	refused := 0
	for err := range errs {
		if err == errOverBudget {
			refused++
		}
	}
	assert.Equal(t, 2000-4, refused)
	assert.Zero(t, c.budget.inFlight.Load(), "every slot given back")
}

// The flood of the issue: 100,000 random keys at full speed over a minute,
// with 1,000 known customers whose entries expire during it. Upstream calls
// stay within the budget, the customers are served, memory stays bounded.
func TestBudgetFlood(t *testing.T) {
	const (
		perSecond = 100
		burst     = 100
		customerN = 1000
		floodN    = 100_000
		duration  = 60 * time.Second
	)
	keys, v := customers(customerN)
	c, clock := newTestCache(t, v, WithValidationRate(perSecond, burst), WithCacheTTL(30*time.Second),
		WithCacheSize(10_000), WithNegativeCacheSize(10_000))
	ctx := context.Background()
	values := make([]string, 0, customerN)
	for value := range keys {
		values = append(values, value)
	}

	// The customers come in over 30 s before the flood, as they would: their
	// entries then expire all through it.
	for i, value := range values {
		clock.Advance(30 * time.Second / customerN)
		_, err := c.Validate(ctx, value)
		require.NoError(t, err, "customer %d", i)
	}
	calls := v.calls.Load()

	step := duration / floodN
	served, asked := 0, 0
	for i := range floodN {
		clock.Advance(step)
		c.Validate(ctx, fmt.Sprintf("sk_flood_%08d", i))
		if i%50 == 0 { // 2,000 customer requests, each customer twice
			asked++
			if _, err := c.Validate(ctx, values[(i/50)%customerN]); err == nil {
				served++
			}
		}
	}
	upstream := v.calls.Load() - calls
	t.Logf("flood: %d upstream calls in %s (budget %d/s, burst %d); customers served %d/%d; refused %d",
		upstream, duration, perSecond, burst, served, asked, c.Stats().Refused)
	assert.LessOrEqual(t, upstream, int64(perSecond*duration.Seconds()+burst))
	assert.GreaterOrEqual(t, float64(served)/float64(asked), 0.99)
	st := c.Stats()
	assert.LessOrEqual(t, st.Size, 10_000)
	assert.LessOrEqual(t, st.NegativeSize, 10_000)
	assert.LessOrEqual(t, c.budget.known.len(), 20_000)

	runtime.GC()
	var mem runtime.MemStats
	runtime.ReadMemStats(&mem)
	assert.Less(t, mem.HeapAlloc, uint64(64<<20), "heap after the flood")
}

func TestBudgetOptions(t *testing.T) {
	for _, tc := range []struct {
		opt  Option
		want string
	}{
		{WithValidationRate(-1, 1), "apikey: NewCache: the validation rate must be a positive, finite number of calls per second, not -1 (leave WithValidationRate out for no bound)"},
		{WithValidationRate(0, 1), "apikey: NewCache: the validation rate must be a positive, finite number of calls per second, not 0 (leave WithValidationRate out for no bound)"},
		{WithValidationRate(math.NaN(), 1), "apikey: NewCache: the validation rate must be a positive, finite number of calls per second, not NaN (leave WithValidationRate out for no bound)"},
		{WithValidationRate(math.Inf(1), 1), "apikey: NewCache: the validation rate must be a positive, finite number of calls per second, not +Inf (leave WithValidationRate out for no bound)"},
		{WithValidationRate(10, 0), "apikey: NewCache: the validation rate's burst must be at least 1, not 0"},
		{WithMaxInFlight(0), "apikey: NewCache: the maximum of validations in flight must be positive, not 0"},
		{WithKnownKeyReserve(1), "apikey: NewCache: the known keys' reserve must be at least 0 and less than 1, not 1"},
		{WithKnownKeyReserve(-0.1), "apikey: NewCache: the known keys' reserve must be at least 0 and less than 1, not -0.1"},
	} {
		_, err := NewCache(testStatic(), tc.opt)
		assert.ErrorIs(t, err, ErrMisconfigured)
		assert.EqualError(t, err, tc.want)
	}
}

// The smallest budget still lets a known key in on its reserved share, and
// an unknown one on the general share.
func TestBudgetSmallestBurst(t *testing.T) {
	_, v := customers(1)
	c, clock := newTestCache(t, v, WithValidationRate(1, 1), WithCacheTTL(time.Second))
	ctx := context.Background()
	_, err := c.Validate(ctx, "sk_customer_00000")
	require.NoError(t, err, "the general token")
	clock.Advance(time.Second) // past the TTL; the general share refills half a token
	_, err = c.Validate(ctx, "sk_customer_00000")
	require.NoError(t, err, "the reserved token")
	_, err = c.Validate(ctx, "sk_random")
	assert.Equal(t, errOverBudget, err, "the general share is not yet refilled")
	clock.Advance(time.Second)
	_, err = c.Validate(ctx, "sk_random")
	assert.ErrorIs(t, err, ErrInvalidKey)
}

// A request that missed just before another request's validation stored
// its answer, and that joins only after that validation ended, gets the
// stored answer: no second call, which under a budget of one call would
// be refused, answering a valid key 503. The test runs the two halves of
// the late request (its lookup's clock reading, then its miss) around a
// whole validation, the order a race makes rare.
func TestMissAfterFlightEndedServesStored(t *testing.T) {
	for _, tc := range []struct {
		name       string
		value      string
		invalidate bool // between the validation and the late miss
		answer     Answer
		keyID      string
		err        error
		calls      int64
	}{
		{name: "valid", value: readerValue, answer: AnswerHit, keyID: readerKey.ID, calls: 1},
		{name: "invalid", value: unknownValue, answer: AnswerNegativeHit, err: ErrInvalidKey, calls: 1},
		// An invalidation removed the answer: the late request must call
		// again, and the budget refuses it.
		{name: "valid, invalidated meanwhile", value: readerValue, invalidate: true, answer: AnswerMiss, err: ErrUnavailable, calls: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := counting(testStatic())
			c, _ := newTestCache(t, v, WithValidationRate(1, 1), WithKnownKeyReserve(0), WithLogger(nil))
			ctx := context.Background()
			d := DigestOf(tc.value)

			now := c.clock.now() // the late request's lookup: the cache is empty
			_, _, err := c.lookup(ctx, d, tc.value)
			require.Equal(t, int64(1), v.calls.Load())
			require.Equal(t, tc.value == readerValue, err == nil)
			if tc.invalidate {
				c.InvalidateValue(tc.value)
			}

			key, answer, err := c.miss(ctx, d, tc.value, now, false)
			assert.Equal(t, tc.calls, v.calls.Load())
			assert.Equal(t, tc.answer, answer)
			if tc.err != nil {
				assert.ErrorIs(t, err, tc.err)
				assert.Nil(t, key)
			} else if assert.NoError(t, err) {
				assert.Equal(t, tc.keyID, key.ID)
			}
		})
	}
}

// Keys not known that arrive together never borrow the reserve's tokens
// kept for known keys: two of them must not both see one token more than
// there are known keys and both take it.
func TestBudgetLendingKeepsTheReserve(t *testing.T) {
	wall := time.Unix(0, 0) // no refill: what is taken stays taken
	for round := range 200 {
		b := newBudget(&settings{rate: 100, burst: 100, reserve: 0.5, size: 100, maxInFlight: 1000})
		for i := range 10 {
			b.known.remember(DigestOf(fmt.Sprintf("sk_known_%d", i)), 0)
		}
		start := make(chan struct{})
		var done sync.WaitGroup
		for range 100 {
			done.Add(1)
			go func() {
				defer done.Done()
				<-start
				b.allow(false, wall)
			}()
		}
		close(start)
		done.Wait()
		require.GreaterOrEqual(t, b.reserved.TokensAt(wall), 10.0, "round %d: a token kept for a known key was lent", round)
	}
}
