// Package otelapikey reports what apikey's middleware and cache do as
// OpenTelemetry metrics, and each validator call as a span.
//
//	tel, err := otelapikey.New() // the global providers, or WithMeterProvider, WithTracerProvider
//	mw, err := apikey.New(validator, apikey.WithHooks(tel.Hooks()))
//	tel.ObserveCache(mw.Cache())
//	defer tel.Close()
//
// The instruments carry the same attributes as promapikey's labels, and
// names that an OpenTelemetry-to-Prometheus exporter turns into promapikey's
// metric names (apikey.requests becomes apikey_requests_total, and so on):
//
//	apikey.requests{outcome}             counter
//	apikey.rate_limited{limit}           counter: requests refused (429), by limit name
//	apikey.validations{result}           counter
//	apikey.validation.duration           histogram, seconds
//	apikey.cache.hits{cache}             observable counter: positive, negative, stale
//	apikey.cache.misses                  observable counter
//	apikey.cache.coalesced               observable counter
//	apikey.cache.evictions               observable counter
//	apikey.cache.invalidations{source}   counter
//	apikey.cache.entries{cache}          observable gauge: positive, negative
//
// The span of a validator call, "apikey.validate", is a child of the span of
// the request that started the validation (a validation shared by several
// requests belongs to the first). It carries the result and the key's
// fingerprint, never its value, and is built when the call has ended, with
// the call's start and end times: spans the validator starts itself are its
// siblings, not its children.
package otelapikey

import (
	"context"
	"errors"
	"sync"

	"github.com/apikeyauth/apikey"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of the meter and the tracer.
const ScopeName = "github.com/apikeyauth/apikey/otelapikey"

// DurationBuckets are the bounds, in seconds, of apikey.validation.duration:
// fine around the 100–300 ms that a vendor's validation API usually takes.
var DurationBuckets = []float64{.001, .005, .01, .025, .05, .1, .15, .2, .3, .5, .75, 1, 2.5, 5, 10}

// Telemetry records apikey's metrics and spans. Build it with New and pass
// Hooks to the middleware or cache it observes. It is safe for concurrent
// use; one Telemetry can observe several middlewares and caches.
type Telemetry struct {
	tracer        trace.Tracer
	requests      metric.Int64Counter
	limited       metric.Int64Counter
	validations   metric.Int64Counter
	duration      metric.Float64Histogram
	invalidations metric.Int64Counter

	// The attribute sets of the known label values, built once: an
	// attribute set built per call would allocate on every request.
	byOutcome map[apikey.Outcome]metric.MeasurementOption
	byResult  map[apikey.Result]metric.MeasurementOption
	byOrigin  map[apikey.Origin]metric.MeasurementOption

	registration metric.Registration

	mu     sync.Mutex
	caches []*apikey.Cache
}

// Option configures New.
type Option func(*settings)

type settings struct {
	meters  metric.MeterProvider
	tracers trace.TracerProvider
}

// WithMeterProvider sets where the metrics go. Default: otel.GetMeterProvider().
func WithMeterProvider(p metric.MeterProvider) Option {
	return func(s *settings) { s.meters = p }
}

// WithTracerProvider sets where the spans go. Default: otel.GetTracerProvider().
func WithTracerProvider(p trace.TracerProvider) Option {
	return func(s *settings) { s.tracers = p }
}

// New creates the instruments. It fails only if the meter provider refuses
// one of them.
func New(opts ...Option) (*Telemetry, error) {
	var s settings
	for _, opt := range opts {
		opt(&s)
	}
	if s.meters == nil {
		s.meters = otel.GetMeterProvider()
	}
	if s.tracers == nil {
		s.tracers = otel.GetTracerProvider()
	}
	meter := s.meters.Meter(ScopeName)
	t := &Telemetry{tracer: s.tracers.Tracer(ScopeName)}
	var errs [10]error
	t.requests, errs[0] = meter.Int64Counter("apikey.requests", metric.WithUnit("{request}"),
		metric.WithDescription("Requests that the API-key middleware decided, each once, by its final outcome (forbidden when a permission guard refused it)."))
	t.limited, errs[9] = meter.Int64Counter("apikey.rate_limited", metric.WithUnit("{request}"),
		metric.WithDescription("Requests refused with 429, by the name of the limit that refused them (quota for the quota)."))
	t.validations, errs[1] = meter.Int64Counter("apikey.validations", metric.WithUnit("{validation}"),
		metric.WithDescription("Validator calls, by result."))
	t.duration, errs[2] = meter.Float64Histogram("apikey.validation.duration", metric.WithUnit("s"),
		metric.WithDescription("How long validator calls took."),
		metric.WithExplicitBucketBoundaries(DurationBuckets...))
	t.invalidations, errs[3] = meter.Int64Counter("apikey.cache.invalidations", metric.WithUnit("{invalidation}"),
		metric.WithDescription("Invalidations the cache applied, by where they came from."))
	var hits, misses, coalesced, evictions metric.Int64ObservableCounter
	var entries metric.Int64ObservableGauge
	hits, errs[4] = meter.Int64ObservableCounter("apikey.cache.hits", metric.WithUnit("{request}"),
		metric.WithDescription("Requests answered from the cache: positive, negative, or stale."))
	misses, errs[5] = meter.Int64ObservableCounter("apikey.cache.misses", metric.WithUnit("{request}"),
		metric.WithDescription("Requests that waited for the validator, coalesced ones included."))
	coalesced, errs[6] = meter.Int64ObservableCounter("apikey.cache.coalesced", metric.WithUnit("{request}"),
		metric.WithDescription("Misses that joined a validation of the same key already in flight."))
	evictions, errs[7] = meter.Int64ObservableCounter("apikey.cache.evictions", metric.WithUnit("{entry}"),
		metric.WithDescription("Cache entries dropped to make room, valid and invalid."))
	entries, errs[8] = meter.Int64ObservableGauge("apikey.cache.entries", metric.WithUnit("{entry}"),
		metric.WithDescription("Keys held by the cache: positive (valid) or negative (invalid)."))
	if err := errors.Join(errs[:]...); err != nil {
		return nil, err
	}

	t.byOutcome = attributeSets("outcome", apikey.OutcomeAuthenticated, apikey.OutcomeMissing, apikey.OutcomeMalformed,
		apikey.OutcomeInvalid, apikey.OutcomeForbidden, apikey.OutcomeRateLimited, apikey.OutcomeUnavailable, apikey.OutcomeError)
	t.byResult = attributeSets("result", apikey.ResultValid, apikey.ResultInvalid, apikey.ResultUnavailable, apikey.ResultError)
	t.byOrigin = attributeSets("source", apikey.OriginLocal, apikey.OriginWebhook, apikey.OriginReplica, apikey.OriginStore)

	positive := metric.WithAttributeSet(attribute.NewSet(attribute.String("cache", "positive")))
	negative := metric.WithAttributeSet(attribute.NewSet(attribute.String("cache", "negative")))
	stale := metric.WithAttributeSet(attribute.NewSet(attribute.String("cache", "stale")))
	reg, err := meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		st, ok := t.stats()
		if !ok {
			return nil
		}
		o.ObserveInt64(hits, clamp(st.Hits), positive)
		o.ObserveInt64(hits, clamp(st.NegativeHits), negative)
		o.ObserveInt64(hits, clamp(st.StaleHits), stale)
		o.ObserveInt64(misses, clamp(st.Misses))
		o.ObserveInt64(coalesced, clamp(st.Coalesced))
		o.ObserveInt64(evictions, clamp(st.Evictions))
		o.ObserveInt64(entries, int64(st.Size), positive)
		o.ObserveInt64(entries, int64(st.NegativeSize), negative)
		return nil
	}, hits, misses, coalesced, evictions, entries)
	if err != nil {
		return nil, err
	}
	t.registration = reg
	return t, nil
}

func attributeSets[L ~string](name string, labels ...L) map[L]metric.MeasurementOption {
	sets := make(map[L]metric.MeasurementOption, len(labels))
	for _, l := range labels {
		sets[l] = metric.WithAttributeSet(attribute.NewSet(attribute.String(name, string(l))))
	}
	return sets
}

// attributes returns the attribute set of label, built on the spot for a
// label New did not know (a store's own Origin, say).
func attributes[L ~string](known map[L]metric.MeasurementOption, name string, label L) metric.MeasurementOption {
	if o, ok := known[label]; ok {
		return o
	}
	return metric.WithAttributes(attribute.String(name, string(label)))
}

func clamp(n uint64) int64 { return int64(min(n, 1<<63-1)) }

// Hooks returns the hooks that count requests, validations and
// invalidations and trace validator calls. Give them to apikey.New or
// apikey.NewCache with apikey.WithHooks.
func (t *Telemetry) Hooks() apikey.Hooks {
	return apikey.Hooks{
		Request: func(e apikey.RequestEvent) {
			ctx := context.Background()
			if e.Request != nil {
				ctx = e.Request.Context()
			}
			t.requests.Add(ctx, 1, attributes(t.byOutcome, "outcome", e.Outcome))
			if e.Outcome == apikey.OutcomeRateLimited {
				var le *apikey.LimitError
				if errors.As(e.Err, &le) {
					t.limited.Add(ctx, 1, metric.WithAttributes(attribute.String("limit", le.Limit)))
				}
			}
		},
		Validation: t.validation,
		Invalidation: func(inv apikey.Invalidation) {
			origin := inv.Origin
			if origin == "" {
				origin = apikey.OriginLocal
			}
			t.invalidations.Add(context.Background(), 1, attributes(t.byOrigin, "source", origin))
		},
	}
}

func (t *Telemetry) validation(e apikey.ValidationEvent) {
	ctx := e.Context
	if ctx == nil {
		ctx = context.Background()
	}
	result := attributes(t.byResult, "result", e.Result)
	t.validations.Add(ctx, 1, result)
	t.duration.Record(ctx, e.Duration.Seconds(), result)

	_, span := t.tracer.Start(ctx, "apikey.validate",
		trace.WithTimestamp(e.Start), trace.WithSpanKind(trace.SpanKindInternal))
	if !span.IsRecording() {
		span.End()
		return
	}
	attrs := []attribute.KeyValue{
		attribute.String("apikey.result", string(e.Result)),
		attribute.String("apikey.key.fingerprint", e.Digest.Fingerprint()),
	}
	if e.Key != nil {
		attrs = append(attrs, attribute.String("apikey.key.id", e.Key.ID))
	}
	span.SetAttributes(attrs...)
	if e.Result == apikey.ResultUnavailable || e.Result == apikey.ResultError {
		// Validator errors never hold the key value: the Validator contract.
		desc := string(e.Result)
		if e.Err != nil {
			desc = e.Err.Error()
		}
		span.SetStatus(codes.Error, desc)
	}
	span.End(trace.WithTimestamp(e.Start.Add(e.Duration)))
}

// ObserveCache adds c's counters and sizes to the apikey.cache.*
// instruments, read from c.Stats at each collection. A nil c is ignored.
func (t *Telemetry) ObserveCache(c *apikey.Cache) {
	if c == nil {
		return
	}
	t.mu.Lock()
	t.caches = append(t.caches, c)
	t.mu.Unlock()
}

// stats sums the stats of the caches observed, and reports whether there
// is any.
func (t *Telemetry) stats() (apikey.CacheStats, bool) {
	t.mu.Lock()
	caches := t.caches
	t.mu.Unlock()
	var sum apikey.CacheStats
	for _, c := range caches {
		sum = sum.Add(c.Stats())
	}
	return sum, len(caches) > 0
}

// Close stops reading the caches' stats at collection. The hooks keep
// working; Close is for a Telemetry whose meter provider outlives it.
func (t *Telemetry) Close() error { return t.registration.Unregister() }
