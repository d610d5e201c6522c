package apikey

import (
	"context"
	"hash/maphash"
	"math/rand/v2"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cachedEntry returns the cache's entry for value, which a request made.
func cachedEntry(t *testing.T, m *Middleware, value string) *entry {
	t.Helper()
	e := m.Cache().positiveShard(DigestOf(value)).peek(DigestOf(value))
	require.NotNil(t, e, "the key is cached")
	return e
}

// A hit charges its key through the plan its cache entry keeps, made on
// the first hit and kept while it fits; the answers are those of the
// limiter's Allow, which the miss used.
func TestLimitPlanKeptOnTheEntry(t *testing.T) {
	clock := newFakeClock()
	lim := newTestLimiter(t, clock)
	m, err := New(withLimits(Limit{Rate: 3, Period: time.Minute}), WithLimiter(lim))
	require.NoError(t, err)
	h := m.Handler(okHandler)

	w := serve(h, writerValue) // a miss: Allow
	require.Equal(t, 200, w.Code)
	assert.Equal(t, `"default";r=2;t=20`, w.Header().Get("RateLimit"))
	e := cachedEntry(t, m, writerValue)
	assert.Nil(t, e.plan.Load(), "a miss makes no plan")

	w = serve(h, writerValue) // a hit: the plan
	require.Equal(t, 200, w.Code)
	assert.Equal(t, `"default";q=3;w=60`, w.Header().Get("RateLimit-Policy"))
	assert.Equal(t, `"default";r=1;t=40`, w.Header().Get("RateLimit"), "the bucket the miss charged")
	p := e.plan.Load()
	require.NotNil(t, p)
	assert.Same(t, lim, p.limiter)

	assert.Equal(t, 200, serve(h, writerValue).Code)
	w = serve(h, writerValue)
	assert.Equal(t, 429, w.Code)
	assert.Equal(t, "20", w.Header().Get("Retry-After"))
	assert.Equal(t, `"default";r=0;t=20`, w.Header().Get("RateLimit"))
	assert.Same(t, p, e.plan.Load(), "the plan still fits")
}

// A plan is made again when a policy's answer changes and when a sweep
// forgot one of its buckets; another limiter (two middlewares sharing a
// cache) charges the entry without it, and keeps it. Each time the key's
// buckets go on from where they were.
func TestLimitPlanRemade(t *testing.T) {
	clock := newFakeClock()
	lim := newTestLimiter(t, clock)
	limits := []Limit{{Rate: 2, Period: time.Minute}}
	c, err := NewCache(testStatic(), WithClock(clock.Now), WithCacheTTL(3*time.Hour))
	require.NoError(t, err)
	m, err := New(c, WithLimiter(lim), WithLimits(func(*Key) []Limit { return limits }))
	require.NoError(t, err)
	h := m.Handler(okHandler)
	require.Equal(t, 200, serve(h, writerValue).Code) // a miss
	require.Equal(t, 200, serve(h, writerValue).Code) // a hit, the bucket now empty
	e := cachedEntry(t, m, writerValue)
	first := e.plan.Load()
	require.NotNil(t, first)

	t.Run("the policy's answer changes", func(t *testing.T) {
		limits = []Limit{{Rate: 2, Period: time.Minute}, {Name: "hourly", Rate: 100, Period: time.Hour}}
		w := serve(h, writerValue)
		assert.Equal(t, 429, w.Code, "the default bucket is still empty")
		assert.Equal(t, `"default";q=2;w=60, "hourly";q=100;w=3600`, w.Header().Get("RateLimit-Policy"))
		assert.NotSame(t, first, e.plan.Load())
		assert.Len(t, e.plan.Load().cells, 2)
	})

	t.Run("another limiter", func(t *testing.T) {
		other := newTestLimiter(t, clock)
		m2, err := New(c, WithLimiter(other), WithLimits(func(*Key) []Limit { return limits }))
		require.NoError(t, err)
		p := e.plan.Load()
		h2 := m2.Handler(okHandler)
		assert.Equal(t, 200, serve(h2, writerValue).Code, "its own buckets")
		assert.Equal(t, 200, serve(h2, writerValue).Code)
		assert.Equal(t, 429, serve(h2, writerValue).Code, "its own buckets, empty now")
		assert.Same(t, p, e.plan.Load(), "the first limiter's plan is kept: the other charges as on a miss")
		assert.Equal(t, 429, serve(h, writerValue).Code, "the first limiter's bucket is still empty")
		assert.Same(t, p, e.plan.Load())
	})

	t.Run("a bucket swept", func(t *testing.T) {
		p := e.plan.Load()
		clock.Advance(time.Hour) // every bucket full again, and idle
		for i := range lim.shards {
			s := &lim.shards[i]
			s.mu.Lock()
			s.sweep(lim.elapsed())
			s.mu.Unlock()
		}
		require.Equal(t, int64(cellSwept), p.cells[0].tat.Load())
		w := serve(h, writerValue)
		assert.Equal(t, 200, w.Code)
		assert.Equal(t, `"default";r=1;t=30, "hourly";r=99;t=36`, w.Header().Get("RateLimit"), "full buckets, charged once")
		assert.NotSame(t, p, e.plan.Load())
		assert.Equal(t, 200, serve(h, writerValue).Code)
		assert.Equal(t, 429, serve(h, writerValue).Code, "the new plan's buckets are the limiter's")
	})
}

// A plan is made only from valid limits: a policy's invalid answer is a
// 500 on a hit as on a miss, never a request let through.
func TestLimitPlanInvalidLimit(t *testing.T) {
	bad := false
	m, err := New(testStatic(), WithLimits(func(*Key) []Limit {
		if bad {
			return []Limit{{Rate: 0, Period: time.Second}}
		}
		return []Limit{{Rate: 10, Period: time.Second}}
	}), WithLogger(nil))
	require.NoError(t, err)
	h := m.Handler(okHandler)
	require.Equal(t, 200, serve(h, writerValue).Code)
	require.Equal(t, 200, serve(h, writerValue).Code)
	bad = true
	assert.Equal(t, http.StatusInternalServerError, serve(h, writerValue).Code)
}

// The real clock is read through a coarse clock: what a limiter without
// WithLimiterClock decides still follows time, a burst at once and then
// nothing for a while.
func TestLocalLimiterRealClock(t *testing.T) {
	l, err := NewLocalLimiter()
	require.NoError(t, err)
	require.NotNil(t, l.coarse)
	key := &Key{ID: "k"}
	lim := Limit{Rate: 3, Period: time.Hour}
	ds := make([]Decision, 1)
	for i := range 3 {
		require.NoError(t, l.Allow(context.Background(), key, []Limit{lim}, 1, ds))
		assert.True(t, ds[0].Allowed, "request %d", i)
	}
	require.NoError(t, l.Allow(context.Background(), key, []Limit{lim}, 1, ds))
	assert.False(t, ds[0].Allowed)
	assert.InDelta(t, float64(20*time.Minute), float64(ds[0].RetryAfter), float64(time.Second))
}

// Through a plan, a limiter decides as its Allow does, request after
// request, refusals, costs and a limit shared by the owner included.
func TestLimitPlanAgreesWithAllow(t *testing.T) {
	clock := newFakeClock()
	planned, direct := newTestLimiter(t, clock), newTestLimiter(t, clock)
	key := &Key{ID: "k", Owner: Owner{Type: "organization", ID: "org_1"}}
	limits := []Limit{
		{Rate: 5, Period: time.Second, Burst: 3},
		{Name: "org", Rate: 20, Period: time.Minute, Scope: ScopeOwner},
	}
	ent := &entry{}
	r := rand.New(rand.NewPCG(1, 2))
	allowed := 0
	for i := range 2000 {
		cost := 1 + r.IntN(3)
		var viaPlan, viaAllow [2]Decision
		_, err := planned.chargePlanned(ent, key, limits, cost, viaPlan[:])
		require.NoError(t, err)
		require.NoError(t, direct.Allow(context.Background(), key, limits, cost, viaAllow[:]))
		require.Equal(t, viaAllow, viaPlan, "request %d", i)
		if viaPlan[0].Allowed && viaPlan[1].Allowed {
			allowed++
		}
		clock.Advance(time.Duration(r.IntN(400)) * time.Millisecond)
	}
	assert.Greater(t, allowed, 100)
	assert.Less(t, allowed, 1900, "some were refused")
}

// Sweeps race charges through plans and through Allow: a key's first
// limit is charged and given back by every request, which its second
// limit refuses, so that its bucket is full, and swept, between requests,
// while another goroutine sweeps the shard again and again.
// No charge is lost or made twice: nothing passes, and the first limit's
// bucket is full at the end.
func TestLimitPlanSweptWhileCharging(t *testing.T) {
	clock := newFakeClock() // frozen: only sweeps change the buckets
	l := newTestLimiter(t, clock)
	key := &Key{ID: "k"}
	wide := Limit{Name: "wide", Rate: 1000, Period: time.Hour}
	limits := []Limit{wide, {Name: "narrow", Rate: 1, Period: time.Hour}}
	ds := make([]Decision, 1)
	require.NoError(t, l.Allow(context.Background(), key, limits[1:], 1, ds))
	require.True(t, ds[0].Allowed, "the narrow limit is now empty")

	ent := &entry{}
	var wg sync.WaitGroup
	var passed, swept atomic.Int64
	stop := make(chan struct{})
	wg.Add(1)
	home := &l.shards[maphash.String(l.seed, key.ID)&(localLimiterShards-1)]
	go func() { // the key's shard swept again and again
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			home.mu.Lock()
			home.sweep(l.elapsed())
			home.mu.Unlock()
			runtime.Gosched()
		}
	}()
	var chargers sync.WaitGroup
	for w := range 4 {
		chargers.Add(1)
		go func() {
			defer chargers.Done()
			for i := 0; i < 2000 || swept.Load() == 0 && i < 1_000_000; i++ {
				var ds [2]Decision
				var err error
				if w%2 == 0 {
					before := ent.plan.Load()
					_, err = l.chargePlanned(ent, key, limits, 1, ds[:])
					if before != nil && ent.plan.Load() != before {
						swept.Add(1)
					}
				} else {
					err = l.Allow(context.Background(), key, limits, 1, ds[:])
				}
				if err != nil || !ds[0].Allowed || ds[1].Allowed {
					passed.Add(1)
				}
			}
		}()
	}
	chargers.Wait()
	close(stop)
	wg.Wait()
	assert.Zero(t, passed.Load(), "a request passed the empty limit, or the wide one refused")
	assert.NotZero(t, swept.Load(), "plans lost buckets to sweeps")
	require.NoError(t, l.Allow(context.Background(), key, []Limit{wide}, 1, ds))
	assert.Equal(t, Decision{Allowed: true, Remaining: 999, ResetAfter: time.Hour / 1000}, ds[0], "every charge of the wide limit given back")
}

// BenchmarkHitPathSharedCache is a limited key's hits alternating between
// two middlewares that share a Cache, each with its own LocalLimiter.
func BenchmarkHitPathSharedCache(b *testing.B) {
	c, err := NewCache(withLimits(Limit{Rate: 1_000_000_000, Period: time.Second}))
	require.NoError(b, err)
	r := benchRequest(writerValue)
	var hs [2]http.Handler
	for i := range hs {
		m, err := New(c)
		require.NoError(b, err)
		_, err = m.Authenticate(r) // warm the cache
		require.NoError(b, err)
		hs[i] = m.Handler(okHandler)
	}
	w := &discard{h: http.Header{}}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		clear(w.h)
		hs[i%2].ServeHTTP(w, r)
	}
}

// A key's entry is replaced again and again (its ID invalidated every
// tenth request, so that the next validates it anew and makes a new
// entry, with a new plan) while requests charge it through one middleware's plans and a
// second middleware's Allow, both on one limiter: every plan finds the
// same buckets, so that exactly the burst passes, on a frozen clock.
func TestLimitPlanEntriesReplacedWhileCharging(t *testing.T) {
	lim := newTestLimiter(t, newFakeClock())
	limit := Limit{Rate: 100, Period: time.Hour}
	c, err := NewCache(withLimits(limit))
	require.NoError(t, err)
	var hs [2]http.Handler
	for i := range hs {
		m, err := New(c, WithLimiter(lim))
		require.NoError(t, err)
		hs[i] = m.Handler(okHandler)
	}
	var passed, refused atomic.Int64
	var requests sync.WaitGroup
	for w := range 4 {
		requests.Add(1)
		go func() {
			defer requests.Done()
			for i := range 100 {
				if i%10 == w { // the next request makes a new entry
					c.InvalidateID(writerKey.ID)
				}
				switch code := serve(hs[w%2], writerValue).Code; code {
				case http.StatusOK:
					passed.Add(1)
				case http.StatusTooManyRequests:
					refused.Add(1)
				default:
					t.Errorf("status %d", code)
				}
			}
		}()
	}
	requests.Wait()
	assert.Equal(t, int64(limit.Rate), passed.Load(), "the burst, once")
	assert.Equal(t, int64(400-limit.Rate), refused.Load())
	st := c.Stats()
	t.Logf("%+v", st)
	assert.Greater(t, st.Hits, uint64(100), "charged through plans")
	assert.Greater(t, st.Misses, uint64(10), "and through Allow, on new entries")
}
