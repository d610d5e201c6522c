package promapikey_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/apikeyauth/apikey"
	"github.com/apikeyauth/apikey/promapikey"
	"github.com/prometheus/client_golang/prometheus"
)

type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

// BenchmarkHitPath is the authenticated cache-hit path without hooks and
// with the Prometheus metrics, in one run.
func BenchmarkHitPath(b *testing.B) {
	static, err := apikey.NewStatic(map[string]apikey.Key{writerValue: {ID: "key_writer"}})
	if err != nil {
		b.Fatal(err)
	}
	metrics := promapikey.New()
	prometheus.NewRegistry().MustRegister(metrics)
	for _, bc := range []struct {
		name string
		opts []apikey.Option
	}{
		{"none", nil},
		{"prometheus", []apikey.Option{apikey.WithHooks(metrics.Hooks())}},
	} {
		mw, err := apikey.New(static, bc.opts...)
		if err != nil {
			b.Fatal(err)
		}
		metrics.ObserveCache(mw.Cache())
		h := mw.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
		r := httptest.NewRequest(http.MethodGet, "/posts", nil)
		r.Header.Set("Authorization", "Bearer "+writerValue)
		w := &discard{h: http.Header{}}
		h.ServeHTTP(w, r)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(w, r)
			}
		})
	}
}

// BenchmarkHitPathRatio runs the hit path without hooks and with the
// Prometheus metrics in alternating chunks, b.N rounds, and reports each
// side's median time per request and the median of the rounds' ratios
// (instrumented over bare): two chunks of one round run a fraction of a
// millisecond apart, so that a busy machine slows both alike.
func BenchmarkHitPathRatio(b *testing.B) {
	static, err := apikey.NewStatic(map[string]apikey.Key{writerValue: {ID: "key_writer"}})
	if err != nil {
		b.Fatal(err)
	}
	metrics := promapikey.New()
	prometheus.NewRegistry().MustRegister(metrics)
	r := httptest.NewRequest(http.MethodGet, "/posts", nil)
	r.Header.Set("Authorization", "Bearer "+writerValue)
	w := &discard{h: http.Header{}}
	var sides [2]http.Handler
	for i, opts := range [][]apikey.Option{nil, {apikey.WithHooks(metrics.Hooks())}} {
		mw, err := apikey.New(static, opts...)
		if err != nil {
			b.Fatal(err)
		}
		sides[i] = mw.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
		sides[i].ServeHTTP(w, r)
	}
	const chunk = 250
	run := func(h http.Handler) float64 {
		start := time.Now()
		for range chunk {
			h.ServeHTTP(w, r)
		}
		return float64(time.Since(start)) / chunk
	}
	var bare, instrumented, ratios []float64
	for i := 0; b.Loop(); i++ {
		var t [2]float64
		first := i & 1
		t[first] = run(sides[first])
		t[1-first] = run(sides[1-first])
		bare, instrumented, ratios = append(bare, t[0]), append(instrumented, t[1]), append(ratios, t[1]/t[0])
	}
	median := func(xs []float64) float64 { slices.Sort(xs); return xs[len(xs)/2] }
	b.ReportMetric(median(bare), "bare-ns/req")
	b.ReportMetric(median(instrumented), "prometheus-ns/req")
	b.ReportMetric(median(ratios), "ratio")
}

// The Prometheus hooks add no allocation to the hit path.
func TestHitPathAllocations(t *testing.T) {
	static, err := apikey.NewStatic(map[string]apikey.Key{writerValue: {ID: "key_writer"}})
	if err != nil {
		t.Fatal(err)
	}
	metrics := promapikey.New()
	allocs := func(opts ...apikey.Option) float64 {
		mw, err := apikey.New(static, opts...)
		if err != nil {
			t.Fatal(err)
		}
		h := mw.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
		r := httptest.NewRequest(http.MethodGet, "/posts", nil)
		r.Header.Set("Authorization", "Bearer "+writerValue)
		w := &discard{h: http.Header{}}
		h.ServeHTTP(w, r)
		return testing.AllocsPerRun(500, func() { h.ServeHTTP(w, r) })
	}
	if bare, instrumented := allocs(), allocs(apikey.WithHooks(metrics.Hooks())); bare != instrumented {
		t.Errorf("allocations per request: %v bare, %v with the Prometheus hooks", bare, instrumented)
	}
}
