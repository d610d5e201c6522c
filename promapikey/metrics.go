// Package promapikey exports what apikey's middleware and cache do as
// Prometheus metrics.
//
//	metrics := promapikey.New()
//	mw, err := apikey.New(validator, apikey.WithHooks(metrics.Hooks()))
//	...
//	metrics.ObserveCache(mw.Cache())
//	prometheus.MustRegister(metrics)
//
// The metrics, whose names dashboards and alerts can rely on:
//
//	apikey_requests_total{outcome}            counter: authenticated, missing, malformed, invalid, forbidden, rate_limited, unavailable, error
//	apikey_rate_limited_total{limit}          counter: requests refused (429) by the limit's name, "quota" for the quota
//	apikey_validations_total{result}          counter: valid, invalid, unavailable, error
//	apikey_validation_duration_seconds        histogram of validator calls
//	apikey_cache_hits_total{cache}            counter: positive, negative, stale
//	apikey_cache_misses_total                 counter: requests that waited for the validator
//	apikey_cache_coalesced_total              counter: misses that joined a validation in flight
//	apikey_cache_evictions_total              counter: entries dropped to make room
//	apikey_cache_invalidations_total{source}  counter: local, webhook, replica, store
//	apikey_cache_entries{cache}               gauge: positive, negative
//
// Requests, validations and invalidations are counted by hooks as they
// happen; the cache's counters and sizes are read from Cache.Stats when
// Prometheus scrapes, so they cost the request path nothing. Authenticated
// requests, most of them, are counted on 64 cache lines, summed at each
// scrape, so that requests on different cores rarely write the same line:
// an authenticated cache hit costs one atomic add on a line of its own.
package promapikey

import (
	"errors"
	"sync"
	"time"

	"github.com/apikeyauth/apikey"
	"github.com/apikeyauth/apikey/internal/stripe"
	"github.com/prometheus/client_golang/prometheus"
)

// DurationBuckets are the bounds, in seconds, of
// apikey_validation_duration_seconds: fine around the 100–300 ms that a
// vendor's validation API usually takes, coarse up to the 5 s default
// validation timeout and beyond.
var DurationBuckets = []float64{.001, .005, .01, .025, .05, .1, .15, .2, .3, .5, .75, 1, 2.5, 5, 10}

// Metrics is a prometheus.Collector of apikey's metrics. Build it with New,
// pass Hooks to the middleware or cache it observes, and register it. It is
// safe for concurrent use; one Metrics can observe several middlewares and
// caches, whose counts it adds up.
type Metrics struct {
	// The authenticated requests, most of them, are counted on a striped
	// counter, read at each scrape, so that the hit path writes no cache
	// line that requests on other cores write too: a Prometheus Counter
	// is one atomic on one line. The other outcomes are requests' children.
	authenticated     stripe.Counter
	authenticatedDesc *prometheus.Desc // apikey_requests_total's, as requests describes it
	created           time.Time        // when authenticated started at zero, as requests' children record it
	requests          *prometheus.CounterVec
	byOutcome         labelled[apikey.Outcome]
	limited           *prometheus.CounterVec
	validations       *prometheus.CounterVec
	byResult          labelled[apikey.Result]
	duration          prometheus.Histogram
	invalidations     *prometheus.CounterVec
	byOrigin          labelled[apikey.Origin]

	hits, misses, coalesced, evictions, entries *prometheus.Desc

	mu     sync.Mutex
	caches []*apikey.Cache
}

// New returns Metrics with every counter at zero and every label value of
// the lists above present, so that rates are defined from the first scrape.
func New() *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: requestsName,
			Help: requestsHelp,
		}, []string{"outcome"}),
		authenticatedDesc: prometheus.NewDesc(requestsName, requestsHelp, []string{"outcome"}, nil),
		created:           time.Now(),
		limited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "apikey_rate_limited_total",
			Help: "Requests refused with 429, by the name of the limit that refused them (quota for the quota).",
		}, []string{"limit"}),
		validations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "apikey_validations_total",
			Help: "Validator calls, by result.",
		}, []string{"result"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "apikey_validation_duration_seconds",
			Help:    "How long validator calls took.",
			Buckets: DurationBuckets,
		}),
		invalidations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "apikey_cache_invalidations_total",
			Help: "Invalidations the cache applied, by where they came from.",
		}, []string{"source"}),
		hits: prometheus.NewDesc("apikey_cache_hits_total",
			"Requests answered from the cache: positive (a valid key), negative (an invalid key), stale (a valid key past its TTL while the validator was unavailable).",
			[]string{"cache"}, nil),
		misses: prometheus.NewDesc("apikey_cache_misses_total",
			"Requests that waited for the validator, coalesced ones included.", nil, nil),
		coalesced: prometheus.NewDesc("apikey_cache_coalesced_total",
			"Misses that joined a validation of the same key already in flight.", nil, nil),
		evictions: prometheus.NewDesc("apikey_cache_evictions_total",
			"Cache entries dropped to make room, valid and invalid.", nil, nil),
		entries: prometheus.NewDesc("apikey_cache_entries",
			"Keys held by the cache: positive (valid), negative (invalid).", []string{"cache"}, nil),
	}
	m.byOutcome = counters(m.requests, apikey.OutcomeMissing, apikey.OutcomeMalformed,
		apikey.OutcomeInvalid, apikey.OutcomeForbidden, apikey.OutcomeRateLimited, apikey.OutcomeUnavailable, apikey.OutcomeError)
	m.byResult = counters(m.validations, apikey.ResultValid, apikey.ResultInvalid, apikey.ResultUnavailable, apikey.ResultError)
	m.byOrigin = counters(m.invalidations, apikey.OriginLocal, apikey.OriginWebhook, apikey.OriginReplica, apikey.OriginStore)
	return m
}

// apikey_requests_total's name and help, shared by its two parts.
const (
	requestsName = "apikey_requests_total"
	requestsHelp = "Requests that the API-key middleware decided, each once, by its final outcome (forbidden when a permission guard refused it)."
)

// labelled is a CounterVec's children for the labels known from the start,
// most frequent first: the hooks find a label's counter by comparing a few
// short strings, cheaper than hashing it for a map or for WithLabelValues.
type labelled[L ~string] []labelledCounter[L]

type labelledCounter[L ~string] struct {
	label   L
	counter prometheus.Counter
}

// counters creates vec's children for labels, so that they exist from the
// start and the hooks find them without hashing label values.
func counters[L ~string](vec *prometheus.CounterVec, labels ...L) labelled[L] {
	cs := make(labelled[L], len(labels))
	for i, l := range labels {
		cs[i] = labelledCounter[L]{l, vec.WithLabelValues(string(l))}
	}
	return cs
}

// inc counts one under label, creating the child for a label New did not
// know (a store's own Origin, say).
func inc[L ~string](known labelled[L], vec *prometheus.CounterVec, label L) {
	for _, c := range known {
		if c.label == label {
			c.counter.Inc()
			return
		}
	}
	vec.WithLabelValues(string(label)).Inc()
}

// Hooks returns the hooks that count requests, validations and
// invalidations. Give them to apikey.New or apikey.NewCache with
// apikey.WithHooks.
func (m *Metrics) Hooks() apikey.Hooks {
	return apikey.Hooks{
		Request: func(e apikey.RequestEvent) {
			if e.Outcome == apikey.OutcomeAuthenticated { // most requests: no search, no shared line
				m.authenticated.Add()
				return
			}
			inc(m.byOutcome, m.requests, e.Outcome)
			if e.Outcome == apikey.OutcomeRateLimited {
				var le *apikey.LimitError
				if errors.As(e.Err, &le) {
					m.limited.WithLabelValues(le.Limit).Inc()
				}
			}
		},
		Validation: func(e apikey.ValidationEvent) {
			inc(m.byResult, m.validations, e.Result)
			m.duration.Observe(e.Duration.Seconds())
		},
		Invalidation: func(inv apikey.Invalidation) {
			origin := inv.Origin
			if origin == "" {
				origin = apikey.OriginLocal
			}
			inc(m.byOrigin, m.invalidations, origin)
		},
	}
}

// ObserveCache adds c's counters and sizes to the apikey_cache_* metrics,
// read from c.Stats at each scrape. A nil c is ignored. Without a cache
// observed, those metrics are not exported, apart from the invalidations,
// which the hooks count.
func (m *Metrics) ObserveCache(c *apikey.Cache) {
	if c == nil {
		return
	}
	m.mu.Lock()
	m.caches = append(m.caches, c)
	m.mu.Unlock()
}

// Describe sends the descriptors of every metric; it is part of
// prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	m.requests.Describe(ch)
	m.limited.Describe(ch)
	m.validations.Describe(ch)
	m.duration.Describe(ch)
	m.invalidations.Describe(ch)
	for _, d := range []*prometheus.Desc{m.hits, m.misses, m.coalesced, m.evictions, m.entries} {
		ch <- d
	}
}

// Collect sends the current value of every metric; it is part of
// prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.requests.Collect(ch)
	ch <- prometheus.MustNewConstMetricWithCreatedTimestamp(m.authenticatedDesc, prometheus.CounterValue,
		float64(m.authenticated.Load()), m.created, string(apikey.OutcomeAuthenticated))
	m.limited.Collect(ch)
	m.validations.Collect(ch)
	m.duration.Collect(ch)
	m.invalidations.Collect(ch)

	m.mu.Lock()
	caches := m.caches
	m.mu.Unlock()
	if len(caches) == 0 {
		return
	}
	var sum apikey.CacheStats
	for _, c := range caches {
		sum = sum.Add(c.Stats())
	}
	counter := prometheus.CounterValue
	ch <- prometheus.MustNewConstMetric(m.hits, counter, float64(sum.Hits), "positive")
	ch <- prometheus.MustNewConstMetric(m.hits, counter, float64(sum.NegativeHits), "negative")
	ch <- prometheus.MustNewConstMetric(m.hits, counter, float64(sum.StaleHits), "stale")
	ch <- prometheus.MustNewConstMetric(m.misses, counter, float64(sum.Misses))
	ch <- prometheus.MustNewConstMetric(m.coalesced, counter, float64(sum.Coalesced))
	ch <- prometheus.MustNewConstMetric(m.evictions, counter, float64(sum.Evictions))
	ch <- prometheus.MustNewConstMetric(m.entries, prometheus.GaugeValue, float64(sum.Size), "positive")
	ch <- prometheus.MustNewConstMetric(m.entries, prometheus.GaugeValue, float64(sum.NegativeSize), "negative")
}
