package redisfleet

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apikeyauth/apikey"
)

// -limit-load runs TestLimiterAcrossProcesses as the load of BENCHMARKS.md:
// 3 processes at 10× overload for 10s, instead of its short check.
var limitLoad = flag.Bool("limit-load", false, "run TestLimiterAcrossProcesses for 10s at 10× overload and print its figures")

func newTestLimiterFleet(t *testing.T, opt *redis.Options, prefix string, lopts ...LimiterOption) (*Fleet, *Limiter) {
	t.Helper()
	f, err := New(opt, testOptions(prefix)...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.Close() })
	l, err := f.Limiter(lopts...)
	require.NoError(t, err)
	return f, l
}

func allow(t *testing.T, l apikey.Limiter, key *apikey.Key, cost int, limits ...apikey.Limit) []apikey.Decision {
	t.Helper()
	ds := make([]apikey.Decision, len(limits))
	require.NoError(t, l.Allow(context.Background(), key, limits, cost, ds))
	return ds
}

func TestLimiterGCRA(t *testing.T) {
	opt, prefix := testRedis(t)
	_, l := newTestLimiterFleet(t, opt, prefix)
	key := &apikey.Key{ID: "key_1", Owner: apikey.Owner{Type: "organization", ID: "org_1"}}
	lim := apikey.Limit{Rate: 5, Period: time.Hour, Burst: 3}
	for i := range 3 {
		d := allow(t, l, key, 1, lim)[0]
		require.True(t, d.Allowed, "request %d of the burst", i)
		assert.Equal(t, 2-i, d.Remaining)
		assert.InDelta(t, float64(time.Duration(i+1)*12*time.Minute), float64(d.ResetAfter), float64(time.Second))
	}
	d := allow(t, l, key, 1, lim)[0]
	assert.False(t, d.Allowed)
	assert.Equal(t, 0, d.Remaining)
	assert.InDelta(t, float64(12*time.Minute), float64(d.RetryAfter), float64(time.Second))

	other := &apikey.Key{ID: "key_2", Owner: key.Owner}
	assert.True(t, allow(t, l, other, 1, lim)[0].Allowed, "another key has its own bucket")
	shared := apikey.Limit{Name: "org", Rate: 1, Period: time.Hour, Scope: apikey.ScopeOwner}
	assert.True(t, allow(t, l, key, 1, shared)[0].Allowed)
	assert.False(t, allow(t, l, other, 1, shared)[0].Allowed, "the owner's keys share one")

	// All or nothing: the refused hourly limit leaves the other uncharged.
	fresh := &apikey.Key{ID: "key_3"}
	wide := apikey.Limit{Name: "wide", Rate: 100, Period: time.Second}
	narrow := apikey.Limit{Name: "narrow", Rate: 1, Period: time.Hour}
	allow(t, l, fresh, 1, wide, narrow)
	ds := allow(t, l, fresh, 1, wide, narrow)
	assert.True(t, ds[0].Allowed)
	assert.False(t, ds[1].Allowed)
	before := ds[0].Remaining
	ds = allow(t, l, fresh, 1, wide, narrow)
	assert.GreaterOrEqual(t, ds[0].Remaining, before, "refused requests charge nothing")
	assert.Zero(t, l.Fallbacks())

	err := l.Allow(context.Background(), key, []apikey.Limit{lim}, 4, make([]apikey.Decision, 1))
	assert.ErrorIs(t, err, apikey.ErrMisconfigured, "a cost above the burst could never pass")
}

// The Limiter behind the middleware, with limits from a Static validator
// and from a policy by organization (the form WorkOS keys, which carry no
// metadata, get theirs in), shared by two replicas.
func TestLimiterBehindMiddleware(t *testing.T) {
	opt, prefix := testRedis(t)
	static, err := apikey.NewStatic(map[string]apikey.Key{
		"sk_test_static": {ID: "key_static", Limits: []apikey.Limit{{Rate: 2, Period: time.Hour}}},
		"sk_test_org":    {ID: "key_org", Owner: apikey.Owner{Type: "organization", ID: "org_free"}},
	})
	require.NoError(t, err)
	byOrg := func(k *apikey.Key) []apikey.Limit {
		if k.Owner.ID == "org_free" {
			return []apikey.Limit{{Name: "free", Rate: 1, Period: time.Hour, Scope: apikey.ScopeOrganization}}
		}
		return k.Limits
	}
	var handlers []http.Handler
	for range 2 {
		_, l := newTestLimiterFleet(t, opt, prefix)
		m, err := apikey.New(static, apikey.WithLimiter(l), apikey.WithLimits(byOrg))
		require.NoError(t, err)
		handlers = append(handlers, m.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
	}
	send := func(h http.Handler, value string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", "Bearer "+value)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	assert.Equal(t, 200, send(handlers[0], "sk_test_static").Code)
	w := send(handlers[1], "sk_test_static")
	assert.Equal(t, 200, w.Code)
	assert.Equal(t, `"default";r=0;t=3600`, w.Header().Get("RateLimit"))
	w = send(handlers[0], "sk_test_static")
	assert.Equal(t, 429, w.Code, "the other replica's request counted here")
	assert.Equal(t, "1800", w.Header().Get("Retry-After"))
	assert.Equal(t, 200, send(handlers[1], "sk_test_org").Code)
	assert.Equal(t, 429, send(handlers[0], "sk_test_org").Code)
}

// TestLimiterFallback stops the Limiter's own Redis: requests are then
// counted locally at the replica's share, within the timeout, never
// refused with 500 and never let through uncounted; FallbackRefuse answers
// 503 instead. Once Redis is back, the Limiter counts there again.
func TestLimiterFallback(t *testing.T) {
	srv := startRedisServer(t, "")
	_, local := newTestLimiterFleet(t, srv.options(), "fallback", WithReplicas(4))
	_, refuse := newTestLimiterFleet(t, srv.options(), "fallback", WithFallback(FallbackRefuse))
	key := &apikey.Key{ID: "key_1"}
	lim := apikey.Limit{Rate: 40, Period: time.Hour}
	require.True(t, allow(t, local, key, 1, lim)[0].Allowed)
	require.True(t, allow(t, refuse, key, 1, lim)[0].Allowed)

	srv.stop()
	start := time.Now()
	allowed := 0
	for range 100 {
		if allow(t, local, key, 1, lim)[0].Allowed {
			allowed++
		}
	}
	assert.Equal(t, 10, allowed, "a quarter of the limit, counted here")
	assert.Less(t, time.Since(start), 5*time.Second, "one timeout, not one per request")
	assert.Equal(t, uint64(100), local.Fallbacks())

	// A cost the limit's burst fits but a quarter of it does not: Redis
	// would let it through, so it is unavailable (503), not refused for
	// ever with a Retry-After that no wait would keep, nor a 500.
	small := apikey.Limit{Name: "small", Rate: 40, Period: time.Hour, Burst: 8}
	err := local.Allow(context.Background(), key, []apikey.Limit{small}, 3, make([]apikey.Decision, 1))
	assert.Equal(t, 503, apikey.StatusCode(err))
	assert.ErrorIs(t, err, apikey.ErrUnavailable)
	assert.NotErrorIs(t, err, apikey.ErrMisconfigured)
	assert.True(t, allow(t, local, key, 2, small)[0].Allowed, "a cost within the share")

	err = refuse.Allow(context.Background(), key, []apikey.Limit{lim}, 1, make([]apikey.Decision, 1))
	var ue *apikey.UnavailableError
	require.ErrorAs(t, err, &ue)
	assert.Equal(t, 503, apikey.StatusCode(err))
	assert.Positive(t, ue.RetryAfter)

	startRedisServer(t, srv.port)
	require.Eventually(t, func() bool {
		before := local.Fallbacks()
		allow(t, local, key, 1, lim)
		return local.Fallbacks() == before
	}, 10*time.Second, 50*time.Millisecond, "back to Redis")
}

func TestLimiterRefusesBadOptions(t *testing.T) {
	opt, prefix := testRedis(t)
	f, err := New(opt, testOptions(prefix)...)
	require.NoError(t, err)
	defer f.Close()
	for name, o := range map[string]LimiterOption{"nil": nil, "fallback": WithFallback(7), "replicas": WithReplicas(-1)} {
		_, err := f.Limiter(o)
		assert.ErrorIs(t, err, apikey.ErrMisconfigured, name)
	}
}

// Environment of a limit child (runLimitChild).
const (
	childLimitEnv    = "REDISFLEET_TEST_LIMIT"    // the limit, as apikey.ParseLimit reads it
	childAttemptsEnv = "REDISFLEET_TEST_ATTEMPTS" // attempts per second
	childForEnv      = "REDISFLEET_TEST_FOR"      // how long
	childStartEnv    = "REDISFLEET_TEST_START"    // when to start, unix ns
	childCountEnv    = "REDISFLEET_TEST_COUNT"    // when set: this many attempts, unpaced
)

// limitReport is what a limit child prints.
type limitReport struct {
	Allowed, Attempts, Errors int
	First, Last               int64 // unix ns of the first and last attempt
	P50, P99                  time.Duration
	Fallbacks                 uint64
}

// TestLimiterAcrossProcesses charges one key's limit from 3 processes of
// their own, each as fast as it can, twice the limit together: together
// they get the limit, no more and no less (but for what refills while
// they run), each a part of it. With -limit-load it runs the load of
// BENCHMARKS.md instead: 10× the limit, paced, for 10s, within 1% of the
// limit in total, and prints the figures.
func TestLimiterAcrossProcesses(t *testing.T) {
	opt, prefix := testRedis(t)
	const processes = 3
	limit := apikey.Limit{Rate: 600, Period: time.Hour} // one refill every 6s
	attempts, runFor := "", "1h"
	count := strconv.Itoa(2 * limit.Rate / processes)
	if *limitLoad {
		limit = apikey.Limit{Rate: 300, Period: time.Second}
		attempts, runFor, count = strconv.Itoa(10*limit.Rate/processes), "10s", ""
	}
	start := time.Now().Add(2 * time.Second) // the children's Redis connections are up by then
	var children []*child
	for range processes {
		children = append(children, startChild(t, map[string]string{
			"APIKEY_TEST_REDIS": opt.Addr, childPrefixEnv: prefix, childModeEnv: "limit",
			childLimitEnv: limit.String(), childAttemptsEnv: attempts, childCountEnv: count,
			childForEnv: runFor, childStartEnv: strconv.FormatInt(start.UnixNano(), 10),
		}))
	}
	var reports []limitReport
	for _, c := range children {
		var r limitReport
		require.NoError(t, json.Unmarshal([]byte(c.line(t)), &r))
		require.NoError(t, c.wait(), "the child's stderr: %s", c.stderr.String())
		reports = append(reports, r)
	}
	total, tried := 0, 0
	first, last := reports[0].First, reports[0].Last
	for _, r := range reports {
		total += r.Allowed
		tried += r.Attempts
		first, last = min(first, r.First), max(last, r.Last)
		assert.Zero(t, r.Errors)
		assert.Zero(t, r.Fallbacks, "Redis answered every call")
	}
	window := time.Duration(last - first)
	burst := float64(limit.BurstOrDefault())
	refilled := float64(limit.Rate) * window.Seconds() / limit.Period.Seconds()
	want := burst + refilled
	t.Logf("%d processes, %d attempts in %v (%.1f× the rate): %d allowed, %.0f expected (burst + rate × window, %+.2f%%)",
		processes, tried, window.Round(time.Millisecond), float64(tried)/refilled, total, want, 100*(float64(total)-want)/want)
	for i, r := range reports {
		t.Logf("process %d: %d of %d allowed; Allow p50 %v, p99 %v", i, r.Allowed, r.Attempts, r.P50, r.P99)
		assert.Positive(t, r.Allowed, "every process gets a part")
	}
	if *limitLoad {
		assert.InEpsilon(t, want, float64(total), 0.01, "within 1%% of the limit in total")
		return
	}
	assert.GreaterOrEqual(t, total, int(burst), "the whole burst, however slow the machine")
	assert.LessOrEqual(t, total, int(burst)+int(refilled)+1, "and no more than what refilled meanwhile")
}

// runLimitChild charges one key's limit at the rate and for the time its
// environment says (or a count of times, unpaced), from 8 goroutines, and
// prints a limitReport.
func runLimitChild() error {
	lim, err := apikey.ParseLimit(os.Getenv(childLimitEnv))
	if err != nil {
		return err
	}
	count, perSecond := 0, 0
	if c := os.Getenv(childCountEnv); c != "" {
		if count, err = strconv.Atoi(c); err != nil {
			return err
		}
	} else if perSecond, err = strconv.Atoi(os.Getenv(childAttemptsEnv)); err != nil {
		return err
	}
	runFor, err := time.ParseDuration(os.Getenv(childForEnv))
	if err != nil {
		return err
	}
	startNs, err := strconv.ParseInt(os.Getenv(childStartEnv), 10, 64)
	if err != nil {
		return err
	}
	f, err := New(&redis.Options{Addr: redisAddr()}, testOptions(os.Getenv(childPrefixEnv))...)
	if err != nil {
		return err
	}
	defer f.Close()
	l, err := f.Limiter()
	if err != nil {
		return err
	}
	key := &apikey.Key{ID: "key_load"}
	limits := []apikey.Limit{lim}
	// Connect and load the script before the start, so that the first
	// attempts do not pay for it.
	if err := limitScript.Load(context.Background(), f.client).Err(); err != nil {
		return err
	}
	start := time.Unix(0, startNs)
	time.Sleep(time.Until(start))
	const workers = 8
	var interval time.Duration // 0: unpaced
	if perSecond > 0 {
		interval = time.Duration(int64(time.Second) * workers / int64(perSecond))
	}
	var mu sync.Mutex
	var r limitReport
	var latencies []time.Duration
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			ds := make([]apikey.Decision, 1)
			next := start.Add(interval * time.Duration(w) / workers)
			var mine []time.Duration
			allowed, attempts, errs := 0, 0, 0
			first, last := int64(0), int64(0)
			for {
				if d := time.Until(next); d > 0 {
					time.Sleep(d)
				}
				now := time.Now()
				if now.Sub(start) >= runFor || count > 0 && attempts >= count/workers {
					break
				}
				err := l.Allow(context.Background(), key, limits, 1, ds)
				took := time.Since(now)
				mine = append(mine, took)
				// Redis ran the script about halfway through the call.
				at := now.Add(took / 2).UnixNano()
				if first == 0 {
					first = at
				}
				last = at
				attempts++
				switch {
				case err != nil:
					errs++
				case ds[0].Allowed:
					allowed++
				}
				next = next.Add(interval)
			}
			mu.Lock()
			defer mu.Unlock()
			r.Allowed += allowed
			r.Attempts += attempts
			r.Errors += errs
			if r.First == 0 || first < r.First {
				r.First = first
			}
			r.Last = max(r.Last, last)
			latencies = append(latencies, mine...)
		})
	}
	wg.Wait()
	slices.Sort(latencies)
	if n := len(latencies); n > 0 {
		r.P50, r.P99 = latencies[n/2], latencies[n*99/100]
	}
	r.Fallbacks = l.Fallbacks()
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	fmt.Println(string(b))
	return nil
}

func TestQuotasInRedis(t *testing.T) {
	opt, prefix := testRedis(t)
	f1, _ := newTestLimiterFleet(t, opt, prefix)
	f2, _ := newTestLimiterFleet(t, opt, prefix)
	key := &apikey.Key{ID: "key_1", Quota: &apikey.Quota{Remaining: 5, Refill: &apikey.Refill{Amount: 5, Interval: time.Hour}}}
	ctx := context.Background()

	d, err := f1.Quotas().Spend(ctx, key, 2)
	require.NoError(t, err)
	assert.True(t, d.Allowed)
	assert.Equal(t, int64(3), d.Remaining)
	assert.Equal(t, int64(5), d.Limit)
	assert.Equal(t, time.Hour, d.Interval)
	assert.InDelta(t, float64(time.Hour), float64(d.RefillAfter), float64(time.Second))

	d, err = f2.Quotas().Spend(ctx, key, 3)
	require.NoError(t, err)
	assert.True(t, d.Allowed, "the other replica spends from the same count")
	assert.Equal(t, int64(0), d.Remaining)
	d, err = f1.Quotas().Spend(ctx, key, 1)
	require.NoError(t, err)
	assert.False(t, d.Allowed)

	n, started, err := f1.Quotas().Remaining(ctx, key.ID)
	require.NoError(t, err)
	assert.True(t, started)
	assert.Zero(t, n)
	require.NoError(t, f2.Quotas().Set(ctx, key.ID, 10))
	d, err = f1.Quotas().Spend(ctx, key, 10)
	require.NoError(t, err)
	assert.True(t, d.Allowed, "topped up by an operator")

	_, started, err = f1.Quotas().Remaining(ctx, "key_never")
	require.NoError(t, err)
	assert.False(t, started)
}

// Concurrent spends from two replicas never lose or double a decrement.
func TestQuotasExact(t *testing.T) {
	opt, prefix := testRedis(t)
	key := &apikey.Key{ID: "key_exact", Quota: &apikey.Quota{Remaining: 500}}
	var allowed sync.WaitGroup
	var mu sync.Mutex
	granted := 0
	for range 2 {
		f, _ := newTestLimiterFleet(t, opt, prefix)
		for range 8 {
			allowed.Go(func() {
				for range 100 {
					d, err := f.Quotas().Spend(context.Background(), key, 1)
					if err != nil {
						t.Error(err)
						return
					}
					if d.Allowed {
						mu.Lock()
						granted++
						mu.Unlock()
					}
				}
			})
		}
	}
	allowed.Wait()
	assert.Equal(t, 500, granted)
}

// While Redis is down, credits are refused with 503, never guessed.
func TestQuotasFailClosed(t *testing.T) {
	srv := startRedisServer(t, "")
	f, _ := newTestLimiterFleet(t, srv.options(), "quotadown")
	m, err := apikey.New(apikey.ValidatorFunc(func(context.Context, string) (*apikey.Key, error) {
		return &apikey.Key{ID: "key_1", Quota: &apikey.Quota{Remaining: 100}}, nil
	}), apikey.WithQuotas(f.Quotas()))
	require.NoError(t, err)
	h := m.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	send := func() int {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", "Bearer sk_test_quota")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	assert.Equal(t, 200, send())
	srv.stop()
	assert.Equal(t, 503, send())
}

// A refill that fell due tops the count up to its amount, and no higher;
// the schedule moves on by whole intervals.
func TestQuotasRefill(t *testing.T) {
	opt, prefix := testRedis(t)
	f, _ := newTestLimiterFleet(t, opt, prefix)
	admin := redis.NewClient(opt)
	defer admin.Close()
	ctx := context.Background()
	key := &apikey.Key{ID: "key_refill", Quota: &apikey.Quota{Remaining: 3, Refill: &apikey.Refill{Amount: 10, Interval: time.Hour}}}
	d, err := f.Quotas().Spend(ctx, key, 3)
	require.NoError(t, err)
	require.True(t, d.Allowed)
	d, err = f.Quotas().Spend(ctx, key, 1)
	require.NoError(t, err)
	require.False(t, d.Allowed)

	// Move the last refill 2.5 intervals back, as if that much time passed.
	hkey := f.Quotas().key(key.ID)
	last, err := admin.HGet(ctx, hkey, "last").Int64()
	require.NoError(t, err)
	require.NoError(t, admin.HSet(ctx, hkey, "last", last-(150*time.Minute).Microseconds()).Err())
	d, err = f.Quotas().Spend(ctx, key, 1)
	require.NoError(t, err)
	assert.True(t, d.Allowed)
	assert.Equal(t, int64(9), d.Remaining, "topped up to 10 once, not twice")
	assert.InDelta(t, float64(30*time.Minute), float64(d.RefillAfter), float64(time.Second), "the next refill keeps the schedule")
}
