package apikey

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// newTestCache returns a cache over v on a fake clock.
func newTestCache(t *testing.T, v Validator, opts ...Option) (*Cache, *fakeClock) {
	t.Helper()
	clock := newFakeClock()
	c, err := NewCache(v, append([]Option{WithClock(clock.Now)}, opts...)...)
	require.NoError(t, err)
	return c, clock
}

// gate is a validator that blocks every call until released, and says when
// a call has started.
type gate struct {
	started chan struct{}
	release chan struct{}
	answer  func(ctx context.Context, value string) (*Key, error)
	calls   atomic.Int64
}

func newGate(answer func(ctx context.Context, value string) (*Key, error)) *gate {
	return &gate{started: make(chan struct{}, 1), release: make(chan struct{}), answer: answer}
}

func (g *gate) Validate(ctx context.Context, value string) (*Key, error) {
	g.calls.Add(1)
	select {
	case g.started <- struct{}{}:
	default:
	}
	<-g.release
	return g.answer(ctx, value)
}

func TestCacheTTL(t *testing.T) {
	v := counting(testStatic())
	c, clock := newTestCache(t, v, WithCacheTTL(30*time.Second))
	ctx := context.Background()

	key, err := c.Validate(ctx, writerValue)
	require.NoError(t, err)
	assert.Equal(t, writerKey.ID, key.ID)
	assert.EqualValues(t, 1, v.calls.Load())

	// The jitter takes at most 10 % off the TTL.
	clock.Advance(27*time.Second - time.Nanosecond)
	_, err = c.Validate(ctx, writerValue)
	require.NoError(t, err)
	assert.EqualValues(t, 1, v.calls.Load(), "served from the cache within the TTL")

	clock.Advance(3*time.Second + time.Nanosecond)
	_, err = c.Validate(ctx, writerValue)
	require.NoError(t, err)
	assert.EqualValues(t, 2, v.calls.Load(), "validated again after the TTL")

	st := c.Stats()
	assert.EqualValues(t, 1, st.Hits)
	assert.EqualValues(t, 2, st.Misses)
	assert.Equal(t, 1, st.Size)
}

// newExpiringCache returns a cache with a long TTL and stale window on
// clock, over a validator that returns writerKey expiring at expires.
func newExpiringCache(t *testing.T, clock *fakeClock, expires time.Time) (*Cache, *countingValidator) {
	t.Helper()
	v := &countingValidator{fn: func(context.Context, string) (*Key, error) {
		k := writerKey
		k.ExpiresAt = expires
		return &k, nil
	}}
	c, err := NewCache(v, WithClock(clock.Now), WithCacheTTL(time.Hour), WithStaleIfError(time.Hour))
	require.NoError(t, err)
	return c, v
}

func TestCacheExpiresAtCapsTheTTL(t *testing.T) {
	clock := newFakeClock()
	expires := clock.Now().Add(10 * time.Second)
	c, v := newExpiringCache(t, clock, expires)
	ctx := context.Background()

	_, err := c.Validate(ctx, writerValue)
	require.NoError(t, err)
	clock.Advance(10*time.Second - time.Nanosecond)
	_, err = c.Validate(ctx, writerValue)
	require.NoError(t, err)
	assert.EqualValues(t, 1, v.calls.Load())

	clock.Advance(time.Nanosecond)
	_, err = c.Validate(ctx, writerValue)
	assert.ErrorIs(t, err, ErrInvalidKey, "a key past its own expiry is invalid, even if the validator returns it")
	assert.EqualValues(t, 2, v.calls.Load())
}

func TestCacheNegativeTTL(t *testing.T) {
	ctx := context.Background()
	t.Run("remembered for the negative TTL", func(t *testing.T) {
		v := counting(testStatic())
		c, clock := newTestCache(t, v, WithNegativeCacheTTL(5*time.Second))
		for range 3 {
			_, err := c.Validate(ctx, "sk_test_unknown")
			assert.ErrorIs(t, err, ErrInvalidKey)
		}
		assert.EqualValues(t, 1, v.calls.Load())
		assert.EqualValues(t, 2, c.Stats().NegativeHits)

		clock.Advance(5 * time.Second)
		_, err := c.Validate(ctx, "sk_test_unknown")
		assert.ErrorIs(t, err, ErrInvalidKey)
		assert.EqualValues(t, 2, v.calls.Load())
	})
	t.Run("off", func(t *testing.T) {
		v := counting(testStatic())
		c, _ := newTestCache(t, v, WithNegativeCacheTTL(0))
		for range 3 {
			_, err := c.Validate(ctx, "sk_test_unknown")
			assert.ErrorIs(t, err, ErrInvalidKey)
		}
		assert.EqualValues(t, 3, v.calls.Load())
	})
	t.Run("wrapped invalid counts", func(t *testing.T) {
		v := &countingValidator{fn: func(context.Context, string) (*Key, error) {
			return nil, fmt.Errorf("store: %w", ErrInvalidKey)
		}}
		c, _ := newTestCache(t, v)
		for range 2 {
			_, err := c.Validate(ctx, "sk_x")
			assert.ErrorIs(t, err, ErrInvalidKey)
		}
		assert.EqualValues(t, 1, v.calls.Load())
	})
}

func TestCacheNeverRemembersOtherErrors(t *testing.T) {
	fail := errors.New("upstream down")
	v := &countingValidator{fn: func(context.Context, string) (*Key, error) { return nil, fail }}
	c, _ := newTestCache(t, v)
	for range 3 {
		_, err := c.Validate(context.Background(), writerValue)
		assert.ErrorIs(t, err, fail)
	}
	assert.EqualValues(t, 3, v.calls.Load())
	assert.Zero(t, c.Stats().Size)
	assert.Zero(t, c.Stats().NegativeSize)
}

func TestCacheFloodOfInvalidKeysKeepsValidOnes(t *testing.T) {
	const valid, flood = 500, 100_000
	keys := make(map[string]Key, valid)
	for i := range valid {
		keys["sk_valid_"+strconv.Itoa(i)] = Key{ID: "key_" + strconv.Itoa(i)}
	}
	v := &countingValidator{fn: func(_ context.Context, value string) (*Key, error) {
		if k, ok := keys[value]; ok {
			return &k, nil
		}
		return nil, ErrInvalidKey
	}}
	c, _ := newTestCache(t, v, WithCacheSize(1000), WithNegativeCacheSize(1000))
	ctx := context.Background()
	for value := range keys {
		_, err := c.Validate(ctx, value)
		require.NoError(t, err)
	}
	for i := range flood {
		_, err := c.Validate(ctx, "sk_random_"+strconv.Itoa(i))
		require.ErrorIs(t, err, ErrInvalidKey)
	}
	callsBefore := v.calls.Load()
	for value := range keys {
		_, err := c.Validate(ctx, value)
		require.NoError(t, err)
	}
	assert.Equal(t, callsBefore, v.calls.Load(), "every valid key is still cached")
	st := c.Stats()
	assert.Equal(t, valid, st.Size)
	assert.Equal(t, 1000, st.NegativeSize)
	assert.EqualValues(t, flood-1000, st.Evictions)
}

func TestCacheStaleIfError(t *testing.T) {
	ctx := context.Background()
	var mode atomic.Value // "ok", "down" or "invalid"
	mode.Store("ok")
	v := &countingValidator{fn: func(ctx context.Context, value string) (*Key, error) {
		switch mode.Load() {
		case "down":
			return nil, &UnavailableError{RetryAfter: time.Second}
		case "invalid":
			return nil, ErrInvalidKey
		case "misconfigured":
			return nil, ErrMisconfigured
		}
		return testStatic().Validate(ctx, value)
	}}

	t.Run("bounded", func(t *testing.T) {
		mode.Store("ok")
		c, clock := newTestCache(t, v, WithCacheTTL(30*time.Second), WithStaleIfError(time.Minute))
		_, err := c.Validate(ctx, writerValue)
		require.NoError(t, err)

		mode.Store("down")
		clock.Advance(31 * time.Second)
		key, err := c.Validate(ctx, writerValue)
		require.NoError(t, err, "served stale while the validator is down")
		assert.Equal(t, writerKey.ID, key.ID)
		assert.EqualValues(t, 1, c.Stats().StaleHits)

		clock.Advance(time.Minute) // 91 s: past TTL + stale window, whatever the jitter
		_, err = c.Validate(ctx, writerValue)
		assert.ErrorIs(t, err, ErrUnavailable)
	})
	t.Run("never after invalid", func(t *testing.T) {
		mode.Store("ok")
		c, clock := newTestCache(t, v, WithCacheTTL(30*time.Second), WithStaleIfError(time.Minute))
		_, err := c.Validate(ctx, writerValue)
		require.NoError(t, err)

		clock.Advance(31 * time.Second)
		mode.Store("invalid")
		_, err = c.Validate(ctx, writerValue)
		require.ErrorIs(t, err, ErrInvalidKey)

		clock.Advance(6 * time.Second) // past the negative TTL
		mode.Store("down")
		_, err = c.Validate(ctx, writerValue)
		assert.ErrorIs(t, err, ErrUnavailable)
	})
	t.Run("not for a misconfigured validator", func(t *testing.T) {
		mode.Store("ok")
		c, clock := newTestCache(t, v, WithCacheTTL(30*time.Second), WithStaleIfError(time.Minute))
		_, err := c.Validate(ctx, writerValue)
		require.NoError(t, err)
		clock.Advance(31 * time.Second)
		mode.Store("misconfigured")
		_, err = c.Validate(ctx, writerValue)
		assert.ErrorIs(t, err, ErrMisconfigured)
	})
	t.Run("off by default", func(t *testing.T) {
		mode.Store("ok")
		c, clock := newTestCache(t, v, WithCacheTTL(30*time.Second))
		_, err := c.Validate(ctx, writerValue)
		require.NoError(t, err)
		clock.Advance(31 * time.Second)
		mode.Store("down")
		_, err = c.Validate(ctx, writerValue)
		assert.ErrorIs(t, err, ErrUnavailable)
	})
}

func TestCacheInvalidation(t *testing.T) {
	ctx := context.Background()
	// Two values share one ID, as a key and its re-issued copy might.
	v := &countingValidator{fn: func(_ context.Context, value string) (*Key, error) {
		switch value {
		case "sk_a1", "sk_a2":
			return &Key{ID: "key_a"}, nil
		case "sk_b":
			return &Key{ID: "key_b"}, nil
		}
		return nil, ErrInvalidKey
	}}
	warm := func(c *Cache) {
		for _, value := range []string{"sk_a1", "sk_a2", "sk_b", "sk_unknown"} {
			_, _ = c.Validate(ctx, value)
		}
	}
	callsFor := func(c *Cache, value string) int64 {
		before := v.calls.Load()
		_, _ = c.Validate(ctx, value)
		return v.calls.Load() - before
	}

	t.Run("by value", func(t *testing.T) {
		c, _ := newTestCache(t, v)
		warm(c)
		c.InvalidateValue("sk_a1")
		c.InvalidateValue("sk_unknown")
		assert.EqualValues(t, 1, callsFor(c, "sk_a1"))
		assert.EqualValues(t, 0, callsFor(c, "sk_a2"))
		assert.EqualValues(t, 1, callsFor(c, "sk_unknown"))
	})
	t.Run("by ID", func(t *testing.T) {
		c, _ := newTestCache(t, v)
		warm(c)
		c.InvalidateID("key_a")
		assert.EqualValues(t, 1, callsFor(c, "sk_a1"))
		assert.EqualValues(t, 1, callsFor(c, "sk_a2"))
		assert.EqualValues(t, 0, callsFor(c, "sk_b"))
		c.InvalidateID("key_unknown") // no effect, no error
		assert.EqualValues(t, 0, callsFor(c, "sk_b"))
	})
	t.Run("purge", func(t *testing.T) {
		c, _ := newTestCache(t, v)
		warm(c)
		c.Purge()
		assert.Zero(t, c.Stats().Size)
		assert.Zero(t, c.Stats().NegativeSize)
		for _, value := range []string{"sk_a1", "sk_b", "sk_unknown"} {
			assert.EqualValues(t, 1, callsFor(c, value))
		}
	})
	t.Run("ID index follows evictions", func(t *testing.T) {
		c, _ := newTestCache(t, v, WithCacheSize(1))
		warm(c)
		assert.Equal(t, 1, c.Stats().Size)
		c.ids.mu.Lock()
		indexed := 0
		for _, head := range c.ids.heads {
			for e := head; e != nil; e = e.idNext {
				indexed++
			}
		}
		c.ids.mu.Unlock()
		assert.Equal(t, 1, indexed, "the index holds only what the cache holds")
	})
}

// TestCacheInvalidationWinsAgainstInFlight checks, many times over, that a
// validation started before an invalidation never stores its result, and
// that no request starting after the invalidation sees the revoked key.
func TestCacheInvalidationWinsAgainstInFlight(t *testing.T) {
	ctx := context.Background()
	t.Run("deterministic", func(t *testing.T) {
		for _, invalidate := range []func(*Cache){
			func(c *Cache) { c.InvalidateID(writerKey.ID) },
			func(c *Cache) { c.InvalidateValue(writerValue) },
			func(c *Cache) { c.Purge() },
		} {
			g := newGate(testStatic().Validate)
			c, _ := newTestCache(t, g)
			done := make(chan error)
			go func() {
				_, err := c.Validate(ctx, writerValue)
				done <- err
			}()
			<-g.started
			invalidate(c)
			close(g.release)
			require.NoError(t, <-done, "the request that started first gets its answer")
			_, err := c.Validate(ctx, writerValue)
			require.NoError(t, err)
			assert.EqualValues(t, 2, g.calls.Load(), "the in-flight result was not stored")
		}
	})
	t.Run("concurrent", func(t *testing.T) {
		for range 200 {
			var revoked atomic.Bool
			v := ValidatorFunc(func(context.Context, string) (*Key, error) {
				if revoked.Load() {
					return nil, ErrInvalidKey
				}
				return &writerKey, nil
			})
			c, _ := newTestCache(t, v)
			var wg sync.WaitGroup
			stop := make(chan struct{})
			for range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						select {
						case <-stop:
							return
						default:
							_, _ = c.Validate(ctx, writerValue)
						}
					}
				}()
			}
			revoked.Store(true)
			c.InvalidateID(writerKey.ID)
			_, err := c.Validate(ctx, writerValue)
			close(stop)
			wg.Wait()
			require.ErrorIs(t, err, ErrInvalidKey, "a request after the invalidation sees the revocation")
			_, err = c.Validate(ctx, writerValue)
			require.ErrorIs(t, err, ErrInvalidKey)
		}
	})
}

func TestCacheCoalescesOneThousandRequests(t *testing.T) {
	const n = 1000
	g := newGate(testStatic().Validate)
	c, _ := newTestCache(t, g)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key, err := c.Validate(context.Background(), writerValue)
			if err == nil && key.ID != writerKey.ID {
				err = fmt.Errorf("got key %s", key.ID)
			}
			errs <- err
		}()
	}
	require.Eventually(t, func() bool { return c.Stats().Misses == n }, 10*time.Second, time.Millisecond)
	close(g.release)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.EqualValues(t, 1, g.calls.Load(), "one validator call for a thousand requests")
	assert.EqualValues(t, n-1, c.Stats().Coalesced)
}

func TestCacheWaiterHonoursItsOwnContext(t *testing.T) {
	var sawCancel atomic.Bool
	g := newGate(func(ctx context.Context, value string) (*Key, error) {
		sawCancel.Store(ctx.Err() != nil)
		return testStatic().Validate(ctx, value)
	})
	c, _ := newTestCache(t, g)

	leaderCtx, cancel := context.WithCancel(context.Background())
	leader := make(chan error)
	go func() {
		_, err := c.Validate(leaderCtx, writerValue)
		leader <- err
	}()
	<-g.started
	follower := make(chan error)
	go func() {
		key, err := c.Validate(context.Background(), writerValue)
		if err == nil && key.ID != writerKey.ID {
			err = errors.New("wrong key")
		}
		follower <- err
	}()
	require.Eventually(t, func() bool { return c.Stats().Coalesced == 1 }, 5*time.Second, time.Millisecond)

	cancel()
	assert.ErrorIs(t, <-leader, context.Canceled, "the cancelled request returns at once")
	close(g.release)
	assert.NoError(t, <-follower, "the other request still gets the answer")
	assert.False(t, sawCancel.Load(), "the validation is detached from the request that started it")
	assert.EqualValues(t, 1, g.calls.Load())
}

func TestCacheValidationTimeout(t *testing.T) {
	var deadline atomic.Value
	v := ValidatorFunc(func(ctx context.Context, value string) (*Key, error) {
		d, ok := ctx.Deadline()
		require.True(t, ok)
		deadline.Store(d)
		return testStatic().Validate(ctx, value)
	})
	c, err := NewCache(v, WithValidationTimeout(time.Second))
	require.NoError(t, err)
	before := time.Now()
	_, err = c.Validate(context.Background(), writerValue)
	require.NoError(t, err)
	after := time.Now()
	// The timeout runs from when the call started, some time between the
	// two reads: bounds that no time passing between them can break.
	got := deadline.Load().(time.Time)
	assert.False(t, got.Before(before.Add(time.Second)), "deadline %v before %v", got, before.Add(time.Second))
	assert.False(t, got.After(after.Add(time.Second)), "deadline %v after %v", got, after.Add(time.Second))
}

func TestCacheValidatorPanics(t *testing.T) {
	g := newGate(func(context.Context, string) (*Key, error) { panic("validator bug with " + writerValue) })
	c, _ := newTestCache(t, g)
	const n = 10
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := c.Validate(context.Background(), writerValue)
			errs <- err
		}()
	}
	require.Eventually(t, func() bool { return c.Stats().Misses == n }, 5*time.Second, time.Millisecond)
	close(g.release)
	for range n {
		err := <-errs
		assert.ErrorIs(t, err, ErrValidatorPanicked)
		assert.NotContains(t, err.Error(), writerValue)
	}
	assert.Zero(t, c.Stats().Size)
	assert.Zero(t, c.Stats().NegativeSize)
}

func TestCacheEvictsLeastRecentlyUsed(t *testing.T) {
	v := counting(testStatic())
	c, _ := newTestCache(t, v, WithCacheSize(1))
	ctx := context.Background()
	for _, value := range []string{readerValue, writerValue, readerValue} {
		_, err := c.Validate(ctx, value)
		require.NoError(t, err)
	}
	assert.EqualValues(t, 3, v.calls.Load())
	assert.EqualValues(t, 2, c.Stats().Evictions)
	assert.Equal(t, 1, c.Stats().Size)
}

// Every refusal matches ErrMisconfigured and says, in the constructor's
// words, what is wrong.
func TestNewCacheRejectsBadConfiguration(t *testing.T) {
	tests := []struct {
		name string
		v    Validator
		opts []Option
		want string
	}{
		{"nil validator", nil, nil, "apikey: NewCache: the validator is nil"},
		{"zero size", testStatic(), []Option{WithCacheSize(0)}, "apikey: NewCache: the cache size must be positive, not 0"},
		{"negative negative size", testStatic(), []Option{WithNegativeCacheSize(-1)}, "apikey: NewCache: the negative cache size must be positive, not -1"},
		{"zero TTL", testStatic(), []Option{WithCacheTTL(0)}, "apikey: NewCache: the cache TTL must be positive, not 0s"},
		{"negative TTL", testStatic(), []Option{WithCacheTTL(-time.Second)}, "apikey: NewCache: the cache TTL must be positive, not -1s"},
		{"negative negative TTL", testStatic(), []Option{WithNegativeCacheTTL(-time.Second)}, "apikey: NewCache: the negative cache TTL must not be negative, not -1s"},
		{"negative stale", testStatic(), []Option{WithStaleIfError(-time.Second)}, "apikey: NewCache: the stale-if-error window must not be negative, not -1s"},
		{"zero timeout", testStatic(), []Option{WithValidationTimeout(0)}, "apikey: NewCache: the validation timeout must be positive, not 0s"},
		{"nil clock", testStatic(), []Option{WithClock(nil)}, "apikey: NewCache: the clock is nil"},
		{"a middleware's option", testStatic(), []Option{WithRealm("x"), WithoutCache()}, "apikey: NewCache: WithRealm, WithoutCache configures a Middleware, not a Cache: give it to New"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewCache(tc.v, tc.opts...)
			assert.Nil(t, c)
			assert.ErrorIs(t, err, ErrMisconfigured)
			assert.EqualError(t, err, tc.want)
		})
	}
}

func TestCacheStatsJSON(t *testing.T) {
	c, _ := newTestCache(t, testStatic())
	_, err := c.Validate(context.Background(), writerValue)
	require.NoError(t, err)
	c.InvalidateID(writerKey.ID)
	b, err := json.Marshal(c.Stats())
	require.NoError(t, err)
	assert.JSONEq(t, `{"hits":0,"negative_hits":0,"stale_hits":0,"misses":1,"coalesced":0,"evictions":0,"invalidations":1,"refused":0,"size":0,"negative_size":0}`, string(b))
}

// Invalidate applies every kind of invalidation, tells the hooks with its
// origin, and the shorthands say "local".
func TestCacheInvalidateReportsOrigin(t *testing.T) {
	var seen []Invalidation
	clock := newFakeClock()
	c, err := NewCache(testStatic(), WithClock(clock.Now), WithHooks(Hooks{Invalidation: func(inv Invalidation) { seen = append(seen, inv) }}))
	require.NoError(t, err)
	ctx := context.Background()
	warm := func() {
		t.Helper()
		for _, v := range []string{readerValue, writerValue} {
			_, err := c.Validate(ctx, v)
			require.NoError(t, err)
		}
		_, err := c.Validate(ctx, "sk_test_unknown")
		require.ErrorIs(t, err, ErrInvalidKey)
	}

	warm()
	c.Invalidate(Invalidation{ID: readerKey.ID, Origin: OriginWebhook})
	assert.Equal(t, 1, c.Stats().Size, "only the reader went")
	c.Invalidate(Invalidation{Digest: DigestOf("sk_test_unknown"), Origin: OriginReplica})
	assert.Equal(t, 0, c.Stats().NegativeSize, "the invalid key went by digest")
	c.InvalidateValue(writerValue)
	assert.Equal(t, 0, c.Stats().Size)
	warm()
	c.Purge()
	assert.Equal(t, 0, c.Stats().Size+c.Stats().NegativeSize)

	assert.Equal(t, []Invalidation{
		{ID: readerKey.ID, Origin: OriginWebhook},
		{Digest: DigestOf("sk_test_unknown"), Origin: OriginReplica},
		{Digest: DigestOf(writerValue), Origin: OriginLocal},
		{All: true, Origin: OriginLocal},
	}, seen)
	assert.EqualValues(t, 4, c.Stats().Invalidations)
}

// An invalidation of some other key while a validation is in flight keeps
// that validation's answer out of the cache; when the answer is "invalid",
// the key's old entry must still go, or an outage would serve it stale.
func TestCacheStaleNeverAfterInvalidRacingInvalidation(t *testing.T) {
	ctx := context.Background()
	var down atomic.Bool
	revoked := newGate(func(context.Context, string) (*Key, error) {
		if down.Load() {
			return nil, &UnavailableError{RetryAfter: time.Second}
		}
		return nil, ErrInvalidKey
	})
	var valid atomic.Bool
	valid.Store(true)
	v := ValidatorFunc(func(ctx context.Context, value string) (*Key, error) {
		if valid.Load() {
			return testStatic().Validate(ctx, value)
		}
		return revoked.Validate(ctx, value)
	})
	c, clock := newTestCache(t, v, WithCacheTTL(30*time.Second), WithStaleIfError(time.Minute))
	_, err := c.Validate(ctx, writerValue)
	require.NoError(t, err)

	clock.Advance(31 * time.Second) // past the TTL, within the stale window
	valid.Store(false)              // revoked upstream, with no webhook for it
	done := make(chan error, 1)
	go func() { _, err := c.Validate(ctx, writerValue); done <- err }()
	<-revoked.started
	c.InvalidateID(readerKey.ID) // another key's revocation, meanwhile
	close(revoked.release)
	require.ErrorIs(t, <-done, ErrInvalidKey)

	down.Store(true)
	key, err := c.Validate(ctx, writerValue)
	assert.ErrorIs(t, err, ErrUnavailable)
	assert.Nil(t, key, "a key the validator called invalid is never served stale")
	assert.Zero(t, c.Stats().StaleHits)
}

// nilUnwrapError is the classic typed-nil bug: its Unwrap dereferences a nil
// receiver, so errors.Is on it panics.
type nilUnwrapError struct{ cause error }

func (e *nilUnwrapError) Error() string { return "broken" }
func (e *nilUnwrapError) Unwrap() error { return e.cause }

// The cache's validation runs in a goroutine of its own, where nothing
// above could recover a panic: every way a validator can misbehave must end
// as an error for the waiters, never as a crash or a (nil, nil).
func TestCacheValidatorMisbehaves(t *testing.T) {
	for _, tc := range []struct {
		name string
		fn   func(context.Context, string) (*Key, error)
	}{
		{"calls runtime.Goexit", func(context.Context, string) (*Key, error) { runtime.Goexit(); return nil, nil }},
		{"returns an error that panics when unwrapped", func(context.Context, string) (*Key, error) {
			var err *nilUnwrapError
			return nil, err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := newTestCache(t, ValidatorFunc(tc.fn))
			key, err := c.Validate(context.Background(), writerValue)
			assert.Nil(t, key)
			assert.ErrorIs(t, err, ErrValidatorPanicked)
			assert.Zero(t, c.Stats().Size+c.Stats().NegativeSize, "nothing is cached")
		})
	}
}

// A validator that ignores its context must not hold the requests waiting
// on it past the validation timeout, even requests whose own context never
// ends, and the next request must not join the stuck call.
func TestCacheValidatorIgnoresTimeout(t *testing.T) {
	stuck := newGate(func(context.Context, string) (*Key, error) { return nil, ErrInvalidKey })
	defer close(stuck.release) // lets the stuck call return before goleak looks
	c, err := NewCache(stuck, WithValidationTimeout(10*time.Millisecond))
	require.NoError(t, err)

	for i := range 2 {
		done := make(chan error, 1)
		go func() { _, err := c.Validate(context.Background(), writerValue); done <- err }()
		select {
		case err := <-done:
			assert.ErrorIs(t, err, ErrUnavailable)
			assert.ErrorIs(t, err, context.DeadlineExceeded)
		case <-time.After(10 * time.Second):
			t.Fatal("the request is still waiting for a validator that ignores its context")
		}
		assert.EqualValues(t, i+1, stuck.calls.Load(), "each request after the timeout starts a new call")
	}
}

// Hits keep a key in the LRU's front, to within promoteEvery: a key in use
// outlives one that is not when the cache is full.
func TestCacheHitKeepsKeyRecent(t *testing.T) {
	v := counting(testStatic())
	c, clock := newTestCache(t, v, WithCacheTTL(time.Hour))
	c.positive = newPositiveShards(2, 1, &c.ids) // one shard of two, for a predictable order
	ctx := context.Background()
	validate := func(value string) {
		t.Helper()
		_, err := c.Validate(ctx, value)
		require.NoError(t, err)
	}

	validate(readerValue)
	validate(writerValue) // the LRU now holds writer, reader: reader is the oldest
	clock.Advance(2 * time.Second)
	validate(readerValue) // a hit: reader moves to the front
	validate(adminValue)  // a miss that evicts the oldest, writer
	require.EqualValues(t, 3, v.calls.Load())

	validate(readerValue)
	assert.EqualValues(t, 3, v.calls.Load(), "reader, in use, stayed cached")
	validate(writerValue)
	assert.EqualValues(t, 4, v.calls.Load(), "writer, unused, was evicted")
}

// A cached key's entry ends at its ExpiresAt by the monotonic clock, which
// stands still while a machine is suspended; ExpiresAt is a wall-clock
// time, and the cache must not serve the key past it by either clock.
func TestCacheExpiresAtByTheWallClock(t *testing.T) {
	wall, mono := newFakeClock(), newFakeClock()
	expires := wall.Now().Add(10 * time.Second)
	c, v := newExpiringCache(t, wall, expires)
	c.clock = newCacheClock(mono.Now) // the entries' clock, parted from the wall clock
	c.clock.fakeWall = wall.Now
	m, err := New(c)
	require.NoError(t, err)
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "Bearer "+writerValue)
	_, err = m.Authenticate(r)
	require.NoError(t, err)

	wall.Advance(time.Hour) // the machine slept for an hour
	mono.Advance(time.Second)
	_, err = m.Authenticate(r)
	assert.ErrorIs(t, err, ErrInvalidKey)
	assert.EqualValues(t, 2, v.calls.Load(), "the validator was asked again")
}

func TestCacheStatsAdd(t *testing.T) {
	a := CacheStats{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	b := CacheStats{10, 20, 30, 40, 50, 60, 70, 80, 90, 100}
	assert.Equal(t, CacheStats{11, 22, 33, 44, 55, 66, 77, 88, 99, 110}, a.Add(b))
}

// A validator that is a cache itself bounds how long this cache keeps its
// answer, so that the two TTLs do not add up; handlers see the key as it is.
func TestCacheUntil(t *testing.T) {
	clock := newFakeClock()
	v := counting(ValidatorFunc(func(_ context.Context, value string) (*Key, error) {
		k := writerKey
		return CacheUntil(&k, clock.Now().Add(5*time.Second)), nil
	}))
	c, err := NewCache(v, WithClock(clock.Now), WithCacheTTL(30*time.Second))
	require.NoError(t, err)
	ctx := context.Background()
	key, err := c.Validate(ctx, writerValue)
	require.NoError(t, err)
	assert.Equal(t, writerKey.ID, key.ID)
	b, err := json.Marshal(key)
	require.NoError(t, err)
	want, _ := json.Marshal(writerKey)
	assert.JSONEq(t, string(want), string(b), "nothing of the bound shows")

	clock.Advance(4 * time.Second)
	_, err = c.Validate(ctx, writerValue)
	require.NoError(t, err)
	assert.EqualValues(t, 1, v.calls.Load(), "within the bound: a hit")
	clock.Advance(time.Second)
	_, err = c.Validate(ctx, writerValue)
	require.NoError(t, err)
	assert.EqualValues(t, 2, v.calls.Load(), "at the bound: asked again, though the TTL is 30s")
}

// The ID index keeps each ID's entries in a list: removing from its head,
// middle or tail, twice, or an entry never added, leaves the others.
func TestIDIndexList(t *testing.T) {
	x := idIndex{heads: make(map[string]*entry)}
	newEntry := func(value, id string) *entry { return &entry{d: DigestOf(value), key: &Key{ID: id}} }
	a, b, c, other := newEntry("sk_a", "key_1"), newEntry("sk_b", "key_1"), newEntry("sk_c", "key_1"), newEntry("sk_o", "key_2")
	for _, e := range []*entry{a, b, c, other} {
		x.add(e)
	}
	assert.ElementsMatch(t, []Digest{a.d, b.d, c.d}, x.lookup("key_1"))

	x.remove(b) // the middle
	assert.ElementsMatch(t, []Digest{a.d, c.d}, x.lookup("key_1"))
	x.remove(b) // again
	x.remove(newEntry("sk_never", "key_1"))
	assert.ElementsMatch(t, []Digest{a.d, c.d}, x.lookup("key_1"))
	x.remove(c) // the head: the last added
	assert.Equal(t, []Digest{a.d}, x.lookup("key_1"))
	x.remove(a)
	assert.Empty(t, x.lookup("key_1"))
	assert.NotContains(t, x.heads, "key_1", "an ID with no entry left is dropped")
	assert.Equal(t, []Digest{other.d}, x.lookup("key_2"))

	var lru entry // a shard's list holding only other
	lru.older, lru.newer, other.older, other.newer = other, other, &lru, &lru
	x.removeAll(&lru)
	assert.Empty(t, x.heads)
}
