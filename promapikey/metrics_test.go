package promapikey_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apikeyauth/apikey"
	"github.com/apikeyauth/apikey/promapikey"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	readerValue   = "sk_test_reader_0123456789"
	writerValue   = "sk_test_writer_0123456789"
	adminValue    = "sk_test_admin_0123456789"
	unknownValue1 = "sk_test_unknown_1111111111"
	unknownValue2 = "sk_test_unknown_2222222222"
)

// modalValidator answers from a Static validator, or fails as its mode
// says.
type modalValidator struct {
	static  *apikey.Static
	mode    atomic.Value // "ok", "down", "panic" or "block"
	release chan struct{}
}

func (v *modalValidator) Validate(ctx context.Context, value string) (*apikey.Key, error) {
	switch v.mode.Load() {
	case "down":
		return nil, &apikey.UnavailableError{Err: errors.New("upstream 503")}
	case "panic":
		panic("boom")
	case "block":
		<-v.release
	}
	return v.static.Validate(ctx, value)
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// TestMetricsOverHTTP sends real requests to a server behind the
// middleware, then scrapes the metrics endpoint over HTTP and checks every
// metric against the traffic.
func TestMetricsOverHTTP(t *testing.T) {
	static, err := apikey.NewStatic(map[string]apikey.Key{
		readerValue: {ID: "key_reader", Permissions: []string{"posts:read"}},
		writerValue: {ID: "key_writer", Permissions: []string{"posts:write"}},
		adminValue:  {ID: "key_admin", Permissions: []string{"*"}},
	})
	require.NoError(t, err)
	v := &modalValidator{static: static, release: make(chan struct{})}
	v.mode.Store("ok")
	clk := &clock{now: time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)}

	metrics := promapikey.New()
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics)
	mw, err := apikey.New(v, apikey.WithHooks(metrics.Hooks()), apikey.WithLogger(nil),
		apikey.WithClock(clk.Now), apikey.WithCacheTTL(time.Minute), apikey.WithStaleIfError(time.Hour),
		apikey.WithNegativeCacheSize(1))
	require.NoError(t, err)
	metrics.ObserveCache(mw.Cache())

	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	mux := http.NewServeMux()
	mux.Handle("GET /me", mw.Handler(ok))
	mux.Handle("POST /posts", mw.Require("posts:write")(ok))
	app := httptest.NewServer(mux)
	defer app.Close()
	scrape := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer scrape.Close()

	send := func(method, path string, values ...string) int {
		req, err := http.NewRequest(method, app.URL+path, nil)
		require.NoError(t, err)
		for _, value := range values {
			req.Header.Add("Authorization", "Bearer "+value)
		}
		resp, err := app.Client().Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}

	assert.Equal(t, 200, send("GET", "/me", writerValue))              // miss, valid
	assert.Equal(t, 200, send("GET", "/me", writerValue))              // positive hit
	assert.Equal(t, 403, send("POST", "/posts", readerValue))          // miss, valid, then forbidden
	assert.Equal(t, 401, send("GET", "/me"))                           // missing
	assert.Equal(t, 400, send("GET", "/me", writerValue, writerValue)) // malformed
	assert.Equal(t, 401, send("GET", "/me", unknownValue1))            // miss, invalid
	assert.Equal(t, 401, send("GET", "/me", unknownValue1))            // negative hit
	assert.Equal(t, 401, send("GET", "/me", unknownValue2))            // miss, invalid, evicts unknown1
	mw.Cache().InvalidateID("key_writer")                              // local
	mw.Cache().Invalidate(apikey.Invalidation{ID: "x", Origin: apikey.OriginWebhook})
	mw.Cache().Invalidate(apikey.Invalidation{ID: "x", Origin: apikey.OriginReplica})
	mw.Cache().Invalidate(apikey.Invalidation{ID: "x", Origin: apikey.OriginStore})

	v.mode.Store("block") // two requests, one validator call
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { assert.Equal(t, 200, send("GET", "/me", adminValue)) })
	}
	require.Eventually(t, func() bool { return mw.Cache().Stats().Coalesced == 1 }, 5*time.Second, time.Millisecond)
	close(v.release)
	wg.Wait()

	v.mode.Store("down")
	clk.Add(2 * time.Minute)
	assert.Equal(t, 200, send("GET", "/me", readerValue)) // miss, unavailable, stale hit
	assert.Equal(t, 503, send("GET", "/me", writerValue)) // miss, unavailable: invalidated, so nothing stale
	v.mode.Store("panic")
	assert.Equal(t, 500, send("GET", "/me", writerValue)) // miss, error

	families := scrapeFamilies(t, scrape.URL)
	counters := func(name, label string) map[string]float64 {
		t.Helper()
		f, ok := families[name]
		require.True(t, ok, "%s is exported", name)
		got := map[string]float64{}
		for _, m := range f.GetMetric() {
			value := m.GetCounter().GetValue()
			if f.GetType() == dto.MetricType_GAUGE {
				value = m.GetGauge().GetValue()
			}
			got[labelValue(m, label)] = value
		}
		return got
	}
	assert.Equal(t, map[string]float64{
		"authenticated": 5, "forbidden": 1, "missing": 1, "malformed": 1, "invalid": 3, "rate_limited": 0, "unavailable": 1, "error": 1,
	}, counters("apikey_requests_total", "outcome"))
	assert.Equal(t, map[string]float64{"valid": 3, "invalid": 2, "unavailable": 2, "error": 1},
		counters("apikey_validations_total", "result"))
	assert.Equal(t, map[string]float64{"positive": 1, "negative": 1, "stale": 1}, counters("apikey_cache_hits_total", "cache"))
	assert.Equal(t, map[string]float64{"": 9}, counters("apikey_cache_misses_total", ""))
	assert.Equal(t, map[string]float64{"": 1}, counters("apikey_cache_coalesced_total", ""))
	assert.Equal(t, map[string]float64{"": 1}, counters("apikey_cache_evictions_total", ""))
	assert.Equal(t, map[string]float64{"local": 1, "webhook": 1, "replica": 1, "store": 1},
		counters("apikey_cache_invalidations_total", "source"))
	assert.Equal(t, map[string]float64{"positive": 2, "negative": 1}, counters("apikey_cache_entries", "cache"))

	duration, found := families["apikey_validation_duration_seconds"]
	require.True(t, found)
	require.Equal(t, dto.MetricType_HISTOGRAM, duration.GetType())
	h := duration.GetMetric()[0].GetHistogram()
	assert.EqualValues(t, 8, h.GetSampleCount(), "one observation per validator call")
	assert.Len(t, h.GetBucket(), len(promapikey.DurationBuckets)+1, "and +Inf")
}

func labelValue(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func scrapeFamilies(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	return families
}

// TestMetricsUnknownLabels: an origin or outcome New did not know is
// counted under its own label rather than dropped.
func TestMetricsUnknownLabels(t *testing.T) {
	metrics := promapikey.New()
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics)
	metrics.Hooks().Invalidation(apikey.Invalidation{Origin: "cli"})
	metrics.Hooks().Invalidation(apikey.Invalidation{})
	families, err := reg.Gather()
	require.NoError(t, err)
	got := map[string]float64{}
	for _, f := range families {
		if f.GetName() == "apikey_cache_invalidations_total" {
			for _, m := range f.GetMetric() {
				got[labelValue(m, "source")] = m.GetCounter().GetValue()
			}
		}
	}
	assert.Equal(t, map[string]float64{"local": 1, "webhook": 0, "replica": 0, "store": 0, "cli": 1}, got)
	for _, f := range families {
		assert.NotContains(t, f.GetName(), "apikey_cache_hits", "no cache observed, no cache stats")
	}
}

// TestRateLimitedByLimit: a request refused for a limit counts as
// rate_limited, and under the limit's name.
func TestRateLimitedByLimit(t *testing.T) {
	static, err := apikey.NewStatic(map[string]apikey.Key{
		writerValue: {ID: "key_writer", Limits: []apikey.Limit{{Name: "search", Rate: 1, Period: time.Hour}}},
	})
	require.NoError(t, err)
	metrics := promapikey.New()
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics)
	mw, err := apikey.New(static, apikey.WithHooks(metrics.Hooks()))
	require.NoError(t, err)
	h := mw.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for range 3 {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", "Bearer "+writerValue)
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	families, err := reg.Gather()
	require.NoError(t, err)
	got := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			switch f.GetName() {
			case "apikey_requests_total":
				got["outcome="+labelValue(m, "outcome")] = m.GetCounter().GetValue()
			case "apikey_rate_limited_total":
				got["limit="+labelValue(m, "limit")] = m.GetCounter().GetValue()
			}
		}
	}
	assert.Equal(t, 1.0, got["outcome=authenticated"])
	assert.Equal(t, 2.0, got["outcome=rate_limited"])
	assert.Equal(t, 2.0, got["limit=search"])
}

// apikey_requests_total is one counter family whatever counts its
// children: the authenticated requests on a striped counter, the other
// outcomes on a CounterVec. A pedantic registry checks the descriptors and
// the family; every child has its help, type and created timestamp.
func TestRequestsFamilyIsOne(t *testing.T) {
	metrics := promapikey.New()
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(metrics))
	hooks := metrics.Hooks()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				hooks.Request(apikey.RequestEvent{Outcome: apikey.OutcomeAuthenticated})
			}
		})
	}
	wg.Wait()
	hooks.Request(apikey.RequestEvent{Outcome: apikey.OutcomeForbidden})

	families, err := reg.Gather()
	require.NoError(t, err)
	var requests *dto.MetricFamily
	for _, f := range families {
		if f.GetName() == "apikey_requests_total" {
			requests = f
		}
	}
	require.NotNil(t, requests)
	assert.Equal(t, dto.MetricType_COUNTER, requests.GetType())
	assert.Contains(t, requests.GetHelp(), "Requests that the API-key middleware decided")
	got := map[string]float64{}
	for _, m := range requests.GetMetric() {
		got[labelValue(m, "outcome")] = m.GetCounter().GetValue()
		assert.NotNil(t, m.GetCounter().GetCreatedTimestamp(), "the created timestamp, as a Counter's")
	}
	assert.Equal(t, map[string]float64{
		"authenticated": 8000, "forbidden": 1, "missing": 0, "malformed": 0, "invalid": 0, "rate_limited": 0, "unavailable": 0, "error": 0,
	}, got)
}
