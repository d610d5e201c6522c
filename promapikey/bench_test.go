package promapikey_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

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
