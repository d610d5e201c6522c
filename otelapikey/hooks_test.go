package otelapikey_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/apikeyauth/apikey"
	"github.com/apikeyauth/apikey/otelapikey"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// recorded is a Telemetry whose metrics and spans a test reads back.
type recorded struct {
	tel   *otelapikey.Telemetry
	read  *sdkmetric.ManualReader
	spans *tracetest.SpanRecorder
}

func newRecorded(t *testing.T) recorded {
	t.Helper()
	read := sdkmetric.NewManualReader()
	meters := sdkmetric.NewMeterProvider(sdkmetric.WithReader(read))
	t.Cleanup(func() { _ = meters.Shutdown(context.Background()) })
	spans := tracetest.NewSpanRecorder()
	tracers := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	t.Cleanup(func() { _ = tracers.Shutdown(context.Background()) })
	tel, err := otelapikey.New(otelapikey.WithMeterProvider(meters), otelapikey.WithTracerProvider(tracers))
	require.NoError(t, err)
	t.Cleanup(func() { _ = tel.Close() })
	return recorded{tel, read, spans}
}

// metrics collects the int64 sums and gauges, by name, then by attributes.
func (r recorded) metrics(t *testing.T) map[string]map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, r.read.Collect(context.Background(), &rm))
	got := map[string]map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch data := m.Data.(type) {
			case metricdata.Sum[int64]:
				got[m.Name] = points(data.DataPoints)
			case metricdata.Gauge[int64]:
				got[m.Name] = points(data.DataPoints)
			}
		}
	}
	return got
}

// TestRequestWithoutRequest: an event with no request (a hook called by
// hand, or by a caller outside net/http) is counted, not a panic.
func TestRequestWithoutRequest(t *testing.T) {
	r := newRecorded(t)
	hooks := r.tel.Hooks()
	require.NotPanics(t, func() {
		hooks.Request(apikey.RequestEvent{Outcome: apikey.OutcomeMissing})
		hooks.Request(apikey.RequestEvent{Outcome: apikey.OutcomeRateLimited, Err: &apikey.LimitError{Limit: "search"}})
	})
	got := r.metrics(t)
	assert.Equal(t, map[string]int64{"outcome=missing": 1, "outcome=rate_limited": 1}, got["apikey.requests"])
	assert.Equal(t, map[string]int64{"limit=search": 1}, got["apikey.rate_limited"])
}

// TestInvalidationSource: an invalidation with no origin is a local one;
// the others keep theirs, known to New or not.
func TestInvalidationSource(t *testing.T) {
	for _, tc := range []struct {
		origin apikey.Origin
		want   string
	}{
		{"", "source=local"},
		{apikey.OriginLocal, "source=local"},
		{apikey.OriginWebhook, "source=webhook"},
		{apikey.OriginReplica, "source=replica"},
		{"backfill", "source=backfill"},
	} {
		t.Run(string(tc.origin), func(t *testing.T) {
			r := newRecorded(t)
			r.tel.Hooks().Invalidation(apikey.Invalidation{ID: "key_1", Origin: tc.origin})
			assert.Equal(t, map[string]int64{tc.want: 1}, r.metrics(t)["apikey.cache.invalidations"])
		})
	}
}

// TestValidationSpanStatus: a failed validator call's span is an error,
// described by the error when there is one, else by the result; a call
// that decided is not an error.
func TestValidationSpanStatus(t *testing.T) {
	for _, tc := range []struct {
		name     string
		result   apikey.Result
		err      error
		wantCode codes.Code
		wantDesc string
	}{
		{"valid", apikey.ResultValid, nil, codes.Unset, ""},
		{"invalid", apikey.ResultInvalid, nil, codes.Unset, ""},
		{"unavailable with its error", apikey.ResultUnavailable, errors.New("upstream 503"), codes.Error, "upstream 503"},
		{"unavailable without an error", apikey.ResultUnavailable, nil, codes.Error, "unavailable"},
		{"error without an error", apikey.ResultError, nil, codes.Error, "error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRecorded(t)
			start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			require.NotPanics(t, func() {
				r.tel.Hooks().Validation(apikey.ValidationEvent{Start: start, Duration: 150 * time.Millisecond,
					Result: tc.result, Err: tc.err, Digest: apikey.DigestOf(writerValue)})
			})
			ended := r.spans.Ended()
			require.Len(t, ended, 1)
			assert.Equal(t, tc.wantCode, ended[0].Status().Code)
			assert.Equal(t, tc.wantDesc, ended[0].Status().Description)
			assert.Equal(t, start, ended[0].StartTime())
			assert.Equal(t, start.Add(150*time.Millisecond), ended[0].EndTime())
		})
	}
}

// TestCacheInstrumentsNeedACache: with no cache observed, the cache
// instruments report nothing rather than zeros that look like an idle
// cache; once one is observed they report it.
func TestCacheInstrumentsNeedACache(t *testing.T) {
	r := newRecorded(t)
	got := r.metrics(t)
	for _, name := range []string{"apikey.cache.hits", "apikey.cache.misses", "apikey.cache.coalesced", "apikey.cache.evictions", "apikey.cache.entries"} {
		assert.NotContains(t, got, name, "no cache observed")
	}
	r.tel.ObserveCache(nil)
	assert.NotContains(t, r.metrics(t), "apikey.cache.misses", "a nil cache is ignored")

	static, err := apikey.NewStatic(map[string]apikey.Key{writerValue: {ID: "key_writer"}})
	require.NoError(t, err)
	c, err := apikey.NewCache(static)
	require.NoError(t, err)
	r.tel.ObserveCache(c)
	assert.Equal(t, map[string]int64{"": 0}, r.metrics(t)["apikey.cache.misses"])
}
