package apikey

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newTestLimiter(t *testing.T, clock *fakeClock, opts ...LimiterOption) *LocalLimiter {
	t.Helper()
	l, err := NewLocalLimiter(append([]LimiterOption{WithLimiterClock(clock.Now)}, opts...)...)
	require.NoError(t, err)
	return l
}

// allowOne charges cost to one limit of key.
func allowOne(t *testing.T, l Limiter, key *Key, lim Limit, cost int) Decision {
	t.Helper()
	d := make([]Decision, 1)
	require.NoError(t, l.Allow(context.Background(), key, []Limit{lim}, cost, d))
	return d[0]
}

func TestLocalLimiterGCRA(t *testing.T) {
	clock := newFakeClock()
	l := newTestLimiter(t, clock)
	key := &Key{ID: "k1"}
	lim := Limit{Rate: 10, Period: time.Second, Burst: 5} // one every 100ms, 5 at once

	for i := range 5 {
		d := allowOne(t, l, key, lim, 1)
		require.True(t, d.Allowed, "request %d of the burst", i)
		assert.Equal(t, 4-i, d.Remaining)
		assert.Equal(t, time.Duration(i+1)*100*time.Millisecond, d.ResetAfter)
	}
	d := allowOne(t, l, key, lim, 1)
	assert.False(t, d.Allowed, "the burst is spent")
	assert.Equal(t, 0, d.Remaining)
	assert.Equal(t, 100*time.Millisecond, d.RetryAfter)
	assert.Equal(t, 500*time.Millisecond, d.ResetAfter)

	clock.Advance(99 * time.Millisecond)
	assert.False(t, allowOne(t, l, key, lim, 1).Allowed, "1ms early")
	clock.Advance(time.Millisecond)
	assert.True(t, allowOne(t, l, key, lim, 1).Allowed, "one came back after 100ms")
	assert.False(t, allowOne(t, l, key, lim, 1).Allowed)

	// A cost of 3 needs 3 intervals of room.
	clock.Advance(250 * time.Millisecond)
	d = allowOne(t, l, key, lim, 3)
	assert.False(t, d.Allowed)
	assert.Equal(t, 2, d.Remaining)
	assert.Equal(t, 50*time.Millisecond, d.RetryAfter)
	clock.Advance(50 * time.Millisecond)
	d = allowOne(t, l, key, lim, 3)
	assert.True(t, d.Allowed)
	assert.Equal(t, 0, d.Remaining)

	// Idle for long, the bucket is full again, no fuller.
	clock.Advance(time.Hour)
	d = allowOne(t, l, key, lim, 1)
	assert.True(t, d.Allowed)
	assert.Equal(t, 4, d.Remaining)
}

func TestLocalLimiterAverageRate(t *testing.T) {
	clock := newFakeClock()
	l := newTestLimiter(t, clock)
	key := &Key{ID: "k1"}
	lim := Limit{Rate: 100, Period: time.Minute} // burst 100
	allowed := 0
	// Ten minutes of one attempt every 10ms: the burst plus 100 a minute.
	for range 60_000 {
		if allowOne(t, l, key, lim, 1).Allowed {
			allowed++
		}
		clock.Advance(10 * time.Millisecond)
	}
	assert.InDelta(t, 100+10*100, allowed, 1)
}

func TestLocalLimiterAllOrNothing(t *testing.T) {
	clock := newFakeClock()
	l := newTestLimiter(t, clock)
	key := &Key{ID: "k1"}
	limits := []Limit{
		{Name: "second", Rate: 10, Period: time.Second},
		{Name: "minute", Rate: 3, Period: time.Minute},
		{Name: "hour", Rate: 100, Period: time.Hour},
	}
	d := make([]Decision, 3)
	for range 3 {
		require.NoError(t, l.Allow(context.Background(), key, limits, 1, d))
		require.True(t, d[0].Allowed && d[1].Allowed && d[2].Allowed)
	}
	require.NoError(t, l.Allow(context.Background(), key, limits, 1, d))
	assert.True(t, d[0].Allowed, "the first limit had room")
	assert.False(t, d[1].Allowed, "the minute limit is spent")
	assert.Equal(t, 20*time.Second, d[1].RetryAfter)
	assert.True(t, d[2].Allowed, "the last limit had room")
	// Nothing was charged by the refused request.
	assert.Equal(t, 7, d[0].Remaining)
	assert.Equal(t, 97, d[2].Remaining)
	for range 20 {
		require.NoError(t, l.Allow(context.Background(), key, limits, 1, d))
	}
	assert.Equal(t, 7, d[0].Remaining, "refused requests are never charged")
	assert.Equal(t, 97, d[2].Remaining)
}

func TestLocalLimiterBuckets(t *testing.T) {
	clock := newFakeClock()
	l := newTestLimiter(t, clock)
	perKey := Limit{Rate: 1, Period: time.Minute}
	perOwner := Limit{Name: "org", Rate: 1, Period: time.Minute, Scope: ScopeOwner}
	perOrg := Limit{Name: "org", Rate: 1, Period: time.Minute, Scope: ScopeOrganization}
	k1 := &Key{ID: "k1", Owner: Owner{Type: "organization", ID: "org_1"}}
	k2 := &Key{ID: "k2", Owner: Owner{Type: "organization", ID: "org_1"}}
	u1 := &Key{ID: "u1", Owner: Owner{Type: "user", ID: "org_1", OrganizationID: "org_1"}}
	orphan := &Key{ID: "k3"}

	assert.True(t, allowOne(t, l, k1, perKey, 1).Allowed)
	assert.True(t, allowOne(t, l, k2, perKey, 1).Allowed, "each key has its own bucket")
	assert.True(t, allowOne(t, l, k1, perOwner, 1).Allowed)
	assert.False(t, allowOne(t, l, k2, perOwner, 1).Allowed, "the owner's keys share one")
	assert.True(t, allowOne(t, l, u1, perOwner, 1).Allowed, "a user whose ID is an organization's is another owner")
	assert.True(t, allowOne(t, l, k1, perOrg, 1).Allowed, "the organization's bucket is not the owner's")
	assert.False(t, allowOne(t, l, u1, perOrg, 1).Allowed, "a user's key shares its organization's")
	assert.True(t, allowOne(t, l, orphan, perOwner, 1).Allowed)
	assert.False(t, allowOne(t, l, orphan, perOwner, 1).Allowed, "a key without an owner keeps its own bucket, still limited")
}

func TestLocalLimiterShare(t *testing.T) {
	clock := newFakeClock()
	l := newTestLimiter(t, clock, WithLimiterShare(1.0/3))
	key := &Key{ID: "k1"}
	lim := Limit{Rate: 30, Period: time.Second, Burst: 30}
	allowed := 0
	for range 100 {
		if allowOne(t, l, key, lim, 1).Allowed {
			allowed++
		}
	}
	assert.Equal(t, 10, allowed, "a third of the burst")
	tiny := Limit{Name: "tiny", Rate: 1, Period: time.Second}
	assert.True(t, allowOne(t, l, key, tiny, 1).Allowed, "a share never goes below one")
}

func TestLocalLimiterRefusesImpossibleCost(t *testing.T) {
	l := newTestLimiter(t, newFakeClock())
	d := make([]Decision, 1)
	err := l.Allow(context.Background(), &Key{ID: "k"}, []Limit{{Rate: 5, Period: time.Second}}, 6, d)
	assert.ErrorIs(t, err, ErrMisconfigured)
}

func TestNewLocalLimiterRefuses(t *testing.T) {
	for name, opt := range map[string]LimiterOption{
		"nil option": nil, "nil clock": WithLimiterClock(nil),
		"zero share": WithLimiterShare(0), "share above 1": WithLimiterShare(1.5),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := NewLocalLimiter(opt)
			assert.ErrorIs(t, err, ErrMisconfigured)
		})
	}
}

func TestLocalLimiterSweepsIdleBuckets(t *testing.T) {
	clock := newFakeClock()
	l := newTestLimiter(t, clock)
	lim := Limit{Rate: 1, Period: time.Second}
	for i := range 100_000 {
		allowOne(t, l, &Key{ID: fmt.Sprint("k", i)}, lim, 1)
		if i%1000 == 999 {
			clock.Advance(2 * time.Second)
		}
	}
	total := 0
	for i := range l.shards {
		total += l.shards[i].buckets
	}
	assert.Less(t, total, 10_000, "idle buckets are forgotten")
}

func TestLocalLimiterConcurrentExact(t *testing.T) {
	clock := newFakeClock()
	l := newTestLimiter(t, clock)
	key := &Key{ID: "k1"}
	lim := Limit{Rate: 1000, Period: time.Hour}
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			d := make([]Decision, 1)
			for range 500 {
				if err := l.Allow(context.Background(), key, []Limit{lim}, 1, d); err != nil {
					panic(err)
				}
				if d[0].Allowed {
					allowed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int64(1000), allowed.Load())
}

func TestLocalLimiterAllowDoesNotAllocate(t *testing.T) {
	l := newTestLimiter(t, newFakeClock())
	key := &Key{ID: "k1", Owner: Owner{Type: "organization", ID: "org_1"}}
	limits := []Limit{{Rate: 1e9, Period: time.Second}, {Name: "org", Rate: 1e9, Period: time.Second, Scope: ScopeOwner}}
	d := make([]Decision, 2)
	ctx := context.Background()
	require.NoError(t, l.Allow(ctx, key, limits, 1, d))
	allocs := testing.AllocsPerRun(1000, func() {
		if err := l.Allow(ctx, key, limits, 1, d); err != nil {
			panic(err)
		}
	})
	assert.Zero(t, allocs)
}

func TestLimitValidate(t *testing.T) {
	valid := []Limit{
		{Rate: 1, Period: time.Second},
		{Name: "a-b_c.d:e", Rate: 100, Period: 24 * time.Hour, Burst: 5, Scope: ScopeOwner},
		{Rate: maxLimitRate, Period: maxLimitPeriod},    // a burst of the rate comes back in the period
		{Rate: 1, Period: maxLimitPeriod, Burst: 100},   // the longest a burst may take to come back
		{Rate: 10, Period: maxLimitPeriod, Burst: 1000}, // the same, at another rate
	}
	for _, l := range valid {
		assert.NoError(t, l.Validate(), l.String())
	}
	invalid := map[string]Limit{
		"zero":                 {},
		"no period":            {Rate: 1},
		"negative rate":        {Rate: -1, Period: time.Second},
		"negative burst":       {Rate: 1, Period: time.Second, Burst: -1},
		"quote in name":        {Name: `a"b`, Rate: 1, Period: time.Second},
		"space in name":        {Name: "a b", Rate: 1, Period: time.Second},
		"long name":            {Name: string(make([]byte, 65)), Rate: 1, Period: time.Second},
		"bad scope":            {Rate: 1, Period: time.Second, Scope: "team"},
		"huge period":          {Rate: 1, Period: 400 * 24 * time.Hour},
		"huge burst":           {Rate: 1, Period: maxLimitPeriod, Burst: 1000},
		"burst past the bound": {Rate: 10, Period: maxLimitPeriod, Burst: 1001},
	}
	for name, l := range invalid {
		t.Run(name, func(t *testing.T) {
			assert.ErrorIs(t, l.Validate(), ErrMisconfigured)
		})
	}
}

func TestParseLimits(t *testing.T) {
	got, err := ParseLimits(" default=100/1m; search=10/1s,burst=20 ;daily=10000/24h,scope=owner;")
	require.NoError(t, err)
	assert.Equal(t, []Limit{
		{Name: "default", Rate: 100, Period: time.Minute},
		{Name: "search", Rate: 10, Period: time.Second, Burst: 20},
		{Name: "daily", Rate: 10000, Period: 24 * time.Hour, Scope: ScopeOwner},
	}, got)
	for _, l := range got {
		again, err := ParseLimit(l.String())
		require.NoError(t, err)
		assert.Equal(t, l, again, "String reads back")
	}
	l, err := ParseLimit("5/1s")
	require.NoError(t, err)
	assert.Equal(t, Limit{Rate: 5, Period: time.Second}, l)

	for _, bad := range []string{"x", "a=b/1s", "a=1/x", "a=1/1s,burst=x", "a=1/1s,color=red", "a=1/1s,scope=team", "a=0/1s", "a=1/1s;a=2/1s"} {
		_, err := ParseLimits(bad)
		assert.ErrorIs(t, err, ErrMisconfigured, bad)
	}
}

func TestLimitJSON(t *testing.T) {
	var l Limit
	require.NoError(t, l.UnmarshalJSON([]byte(`{"limit": 5, "period": "1s"}`)))
	assert.Equal(t, Limit{Rate: 5, Period: time.Second}, l)
	b, err := l.MarshalJSON()
	require.NoError(t, err)
	assert.JSONEq(t, `{"limit":5,"period":"1s"}`, string(b))
	assert.Error(t, l.UnmarshalJSON([]byte(`{"limit": 5, "period": "soon"}`)))
	assert.ErrorIs(t, l.UnmarshalJSON([]byte(`{"limit": 0, "period": "1s"}`)), ErrMisconfigured)
	// A misspelt field is refused, not dropped: {"brust": 50} must not
	// quietly become a burst of 5.
	assert.Error(t, l.UnmarshalJSON([]byte(`{"limit": 5, "period": "1s", "brust": 50}`)))
	assert.Error(t, l.UnmarshalJSON([]byte(`{"limit": 5, "period": "1s", "scoep": "owner"}`)))

	var r Refill
	require.NoError(t, r.UnmarshalJSON([]byte(`{"amount": 100, "interval": "24h"}`)))
	assert.Equal(t, Refill{Amount: 100, Interval: 24 * time.Hour}, r)
	assert.Error(t, r.UnmarshalJSON([]byte(`{"amount": 100, "interval": "24h", "amuont": 5}`)))
	q := Quota{Remaining: 100, Refill: &r}
	assert.NoError(t, q.Validate())
	for name, bad := range map[string]Quota{
		"negative":       {Remaining: -1},
		"zero amount":    {Refill: &Refill{Interval: time.Hour}},
		"short interval": {Refill: &Refill{Amount: 1, Interval: time.Millisecond}},
	} {
		assert.ErrorIs(t, bad.Validate(), ErrMisconfigured, name)
	}

	// A Quota reads strictly and validates itself, as a Limit does.
	var read Quota
	require.NoError(t, json.Unmarshal([]byte(`{"remaining": 100, "refill": {"amount": 100, "interval": "24h"}}`), &read))
	assert.Equal(t, q, read)
	for name, bad := range map[string]string{
		"misspelt field":  `{"remainig": 100}`,
		"misspelt refill": `{"remaining": 1, "refil": {"amount": 1, "interval": "24h"}}`,
	} {
		assert.Error(t, json.Unmarshal([]byte(bad), &read), name)
	}
	assert.ErrorIs(t, json.Unmarshal([]byte(`{"remaining": -1}`), &read), ErrMisconfigured)
	assert.ErrorIs(t, json.Unmarshal([]byte(`{"remaining": 1, "refill": {"amount": 1, "interval": "1ms"}}`), &read), ErrMisconfigured)
}

func TestBucketString(t *testing.T) {
	a := BucketOf(&Key{ID: "x/y", Owner: Owner{Type: "t", ID: "i"}}, Limit{Name: "n", Scope: ScopeOwner})
	b := BucketOf(&Key{ID: "x", Owner: Owner{Type: "t/i", ID: "y"}}, Limit{Name: "n", Scope: ScopeOwner})
	assert.NotEqual(t, a.String(), b.String())
	assert.Equal(t, "key/k1/default", BucketOf(&Key{ID: "k1"}, Limit{}).String())
}

// TestLocalLimiterBucketsOfOneID pins that buckets whose IDs are the same,
// and so share a hash chain, still count apart, and that a sweep keeps
// the busy ones of a chain while it forgets the idle ones.
func TestLocalLimiterBucketsOfOneID(t *testing.T) {
	clock := newFakeClock()
	l := newTestLimiter(t, clock)
	key := &Key{ID: "x", Owner: Owner{Type: "organization", ID: "x"}}
	limits := []Limit{
		{Rate: 1, Period: time.Hour},
		{Name: "other", Rate: 1, Period: time.Hour},
		{Name: "owner", Rate: 1, Period: time.Hour, Scope: ScopeOwner},
		{Name: "owner", Rate: 1, Period: time.Hour, Scope: ScopeOrganization},
	}
	// The bucket that goes idle first is charged first: the end of the
	// chain, where a sweep must cut it off.
	late := Limit{Name: "late", Rate: 1, Period: time.Minute}
	assert.True(t, allowOne(t, l, key, late, 1).Allowed)
	for _, lim := range limits {
		assert.True(t, allowOne(t, l, key, lim, 1).Allowed, "%v: its own bucket is full", lim)
	}
	for _, lim := range limits {
		assert.False(t, allowOne(t, l, key, lim, 1).Allowed, "%v: its own bucket is empty", lim)
	}
	clock.Advance(2 * time.Minute)
	s := &l.shards[maphash.String(l.seed, "x")&(localLimiterShards-1)]
	s.mu.Lock()
	s.sweep(l.elapsed())
	chained := 0
	for _, c := range s.cells {
		for ; c != nil; c = c.next {
			chained++
		}
	}
	s.mu.Unlock()
	assert.Equal(t, 4, s.buckets, "the idle bucket went, the four busy ones stayed")
	assert.Equal(t, s.buckets, chained, "the chains hold what the count says")
	for _, lim := range limits {
		assert.False(t, allowOne(t, l, key, lim, 1).Allowed, "%v: still empty after the sweep", lim)
	}
	assert.True(t, allowOne(t, l, key, late, 1).Allowed, "the forgotten bucket starts full")
}

// Every limit that lacks room for a refused request says so, with its own
// RetryAfter, not only the first: so that the middleware's Retry-After is
// the longest, when the request would pass all of them. Through Allow and
// through a plan, and in the response.
func TestLocalLimiterEveryRefusingLimitSaysSo(t *testing.T) {
	limits := []Limit{
		{Name: "second", Rate: 1, Period: time.Second},
		{Name: "roomy", Rate: 100, Period: time.Hour},
		{Name: "hour", Rate: 1, Period: time.Hour},
	}
	for _, planned := range []bool{false, true} {
		t.Run(map[bool]string{false: "Allow", true: "plan"}[planned], func(t *testing.T) {
			l := newTestLimiter(t, newFakeClock())
			key, ent := &Key{ID: "k"}, &entry{}
			charge := func() []Decision {
				ds := make([]Decision, len(limits))
				if planned {
					_, err := l.chargePlanned(ent, key, limits, 1, ds)
					require.NoError(t, err)
				} else {
					require.NoError(t, l.Allow(context.Background(), key, limits, 1, ds))
				}
				return ds
			}
			require.True(t, charge()[2].Allowed)
			ds := charge()
			assert.Equal(t, Decision{Remaining: 0, RetryAfter: time.Second, ResetAfter: time.Second}, ds[0])
			assert.Equal(t, Decision{Allowed: true, Remaining: 99, ResetAfter: 36 * time.Second}, ds[1], "as it stands, not charged")
			assert.Equal(t, Decision{Remaining: 0, RetryAfter: time.Hour, ResetAfter: time.Hour}, ds[2], "refused too")
		})
	}

	for name, opts := range map[string][]Option{"response, a hit's plan": nil, "response, uncached": {WithoutCache()}} {
		t.Run(name, func(t *testing.T) {
			m, err := New(withLimits(limits...), append(opts, WithLimiter(newTestLimiter(t, newFakeClock())))...)
			require.NoError(t, err)
			h := m.Handler(okHandler)
			require.Equal(t, http.StatusOK, serve(h, writerValue).Code)
			w := serve(h, writerValue)
			require.Equal(t, http.StatusTooManyRequests, w.Code)
			assert.Equal(t, "3600", w.Header().Get("Retry-After"), "the longest")
			assert.Equal(t, `"second";r=0;t=1, "roomy";r=99;t=36, "hour";r=0;t=3600`, w.Header().Get("RateLimit"))
		})
	}
}

// A cost above the limiter's share of a burst could never pass here: an
// error, as a cost above the burst itself is, for Allow and for a plan.
func TestLocalLimiterCostAboveItsShare(t *testing.T) {
	l := newTestLimiter(t, newFakeClock(), WithLimiterShare(0.25))
	key := &Key{ID: "k"}
	lim := Limit{Rate: 40, Period: time.Hour, Burst: 8} // a burst of 2 here
	ds := make([]Decision, 1)
	err := l.Allow(context.Background(), key, []Limit{lim}, 3, ds)
	require.ErrorIs(t, err, ErrMisconfigured)
	assert.Contains(t, err.Error(), "share")
	_, err = l.chargePlanned(&entry{}, key, []Limit{lim}, 3, ds)
	assert.ErrorIs(t, err, ErrMisconfigured)

	require.NoError(t, l.Allow(context.Background(), key, []Limit{lim}, 2, ds))
	assert.True(t, ds[0].Allowed)
	err = l.Allow(context.Background(), key, []Limit{lim}, 9, ds)
	require.ErrorIs(t, err, ErrMisconfigured)
	assert.NotContains(t, err.Error(), "share", "above the burst itself")
}
