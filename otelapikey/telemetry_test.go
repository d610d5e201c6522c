package otelapikey_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apikeyauth/apikey"
	"github.com/apikeyauth/apikey/otelapikey"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	writerValue  = "sk_test_writer_0123456789"
	unknownValue = "sk_test_unknown_1111111111"
)

func TestTelemetry(t *testing.T) {
	static, err := apikey.NewStatic(map[string]apikey.Key{writerValue: {ID: "key_writer", Permissions: []string{"posts:write"}}})
	require.NoError(t, err)
	var down atomic.Bool
	v := apikey.ValidatorFunc(func(ctx context.Context, value string) (*apikey.Key, error) {
		if down.Load() {
			return nil, &apikey.UnavailableError{Err: errors.New("upstream 503")}
		}
		return static.Validate(ctx, value)
	})

	reader := sdkmetric.NewManualReader()
	meters := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer meters.Shutdown(context.Background())
	spans := tracetest.NewSpanRecorder()
	tracers := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	defer tracers.Shutdown(context.Background())

	tel, err := otelapikey.New(otelapikey.WithMeterProvider(meters), otelapikey.WithTracerProvider(tracers))
	require.NoError(t, err)
	defer tel.Close()
	mw, err := apikey.New(v, apikey.WithHooks(tel.Hooks()), apikey.WithLogger(nil))
	require.NoError(t, err)
	tel.ObserveCache(mw.Cache())
	h := mw.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))

	// Each request runs inside a span of its own, as an HTTP server
	// instrumented with OpenTelemetry would start.
	var parents []string
	send := func(value string) int {
		ctx, parent := tracers.Tracer("test").Start(context.Background(), "request")
		defer parent.End()
		parents = append(parents, parent.SpanContext().SpanID().String())
		r := httptest.NewRequestWithContext(ctx, "GET", "/me", nil)
		r.Header.Set("Authorization", "Bearer "+value)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	assert.Equal(t, 200, send(writerValue))  // miss: a validator call
	assert.Equal(t, 200, send(writerValue))  // hit
	assert.Equal(t, 401, send(unknownValue)) // miss: a validator call
	mw.Cache().InvalidateID("key_writer")
	down.Store(true)
	assert.Equal(t, 503, send(writerValue)) // miss: a validator call

	var validations []sdktrace.ReadOnlySpan
	for _, s := range spans.Ended() {
		if s.Name() == "apikey.validate" {
			validations = append(validations, s)
		}
	}
	require.Len(t, validations, 3, "one span per validator call")
	for i, want := range []struct {
		parent int
		result string
		keyID  string
		status codes.Code
		value  string
	}{
		{0, "valid", "key_writer", codes.Unset, writerValue},
		{2, "invalid", "", codes.Unset, unknownValue},
		{3, "unavailable", "", codes.Error, writerValue},
	} {
		s := validations[i]
		assert.Equal(t, parents[want.parent], s.Parent().SpanID().String(), "a child of its request's span")
		attrs := attribute.NewSet(s.Attributes()...)
		result, _ := attrs.Value("apikey.result")
		assert.Equal(t, want.result, result.AsString())
		fp, _ := attrs.Value("apikey.key.fingerprint")
		assert.Equal(t, apikey.DigestOf(want.value).Fingerprint(), fp.AsString())
		id, _ := attrs.Value("apikey.key.id")
		assert.Equal(t, want.keyID, id.AsString())
		assert.Equal(t, want.status, s.Status().Code)
		assert.False(t, s.EndTime().Before(s.StartTime()))
		for _, a := range s.Attributes() {
			assert.NotContains(t, a.Value.Emit(), "sk_test_", "no key value in a span")
		}
		assert.NotContains(t, s.Status().Description, "sk_test_")
	}

	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	sums := map[string]map[string]int64{}
	var durationCount uint64
	for _, sm := range rm.ScopeMetrics {
		assert.Equal(t, otelapikey.ScopeName, sm.Scope.Name)
		for _, m := range sm.Metrics {
			switch data := m.Data.(type) {
			case metricdata.Sum[int64]:
				sums[m.Name] = points(data.DataPoints)
			case metricdata.Gauge[int64]:
				sums[m.Name] = points(data.DataPoints)
			case metricdata.Histogram[float64]:
				require.Equal(t, "apikey.validation.duration", m.Name)
				assert.Equal(t, "s", m.Unit)
				for _, p := range data.DataPoints {
					durationCount += p.Count
				}
			}
		}
	}
	assert.Equal(t, map[string]int64{"outcome=authenticated": 2, "outcome=invalid": 1, "outcome=unavailable": 1}, sums["apikey.requests"])
	assert.Equal(t, map[string]int64{"result=valid": 1, "result=invalid": 1, "result=unavailable": 1}, sums["apikey.validations"])
	assert.EqualValues(t, 3, durationCount)
	assert.Equal(t, map[string]int64{"cache=positive": 1, "cache=negative": 0, "cache=stale": 0}, sums["apikey.cache.hits"])
	assert.Equal(t, map[string]int64{"": 3}, sums["apikey.cache.misses"])
	assert.Equal(t, map[string]int64{"": 0}, sums["apikey.cache.coalesced"])
	assert.Equal(t, map[string]int64{"": 0}, sums["apikey.cache.evictions"])
	assert.Equal(t, map[string]int64{"source=local": 1}, sums["apikey.cache.invalidations"])
	assert.Equal(t, map[string]int64{"cache=positive": 0, "cache=negative": 1}, sums["apikey.cache.entries"])
}

// points maps each data point's attributes, as "k=v", to its value.
func points(dps []metricdata.DataPoint[int64]) map[string]int64 {
	got := map[string]int64{}
	for _, p := range dps {
		var kv []string
		for _, a := range p.Attributes.ToSlice() {
			kv = append(kv, string(a.Key)+"="+a.Value.Emit())
		}
		got[strings.Join(kv, ",")] = p.Value
	}
	return got
}

// TestRateLimited: a request refused for a limit counts as rate_limited,
// and under the limit's name.
func TestRateLimited(t *testing.T) {
	static, err := apikey.NewStatic(map[string]apikey.Key{
		writerValue: {ID: "key_writer", Limits: []apikey.Limit{{Name: "search", Rate: 1, Period: time.Hour}}},
	})
	require.NoError(t, err)
	rec := newRecorded(t)
	mw, err := apikey.New(static, apikey.WithHooks(rec.tel.Hooks()))
	require.NoError(t, err)
	h := mw.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for range 3 {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", "Bearer "+writerValue)
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	sums := rec.metrics(t)
	assert.Equal(t, map[string]int64{"outcome=authenticated": 1, "outcome=rate_limited": 2}, sums["apikey.requests"])
	assert.Equal(t, map[string]int64{"limit=search": 2}, sums["apikey.rate_limited"])
}
