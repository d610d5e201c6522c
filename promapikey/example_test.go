package promapikey_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/apikeyauth/apikey"
	"github.com/apikeyauth/apikey/promapikey"
	"github.com/prometheus/client_golang/prometheus"
)

func ExampleNew() {
	metrics := promapikey.New()
	registry := prometheus.NewRegistry()
	registry.MustRegister(metrics)

	keys, err := apikey.NewStatic(map[string]apikey.Key{"sk_example_reader": {ID: "key_reader"}})
	if err != nil {
		panic(err)
	}
	auth, err := apikey.New(keys, apikey.WithHooks(metrics.Hooks()))
	if err != nil {
		panic(err)
	}
	metrics.ObserveCache(auth.Cache())
	handler := auth.Handler(http.NotFoundHandler())
	for _, key := range []string{"sk_example_reader", "sk_example_reader", "sk_example_unknown"} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", "Bearer "+key)
		handler.ServeHTTP(httptest.NewRecorder(), r)
	}

	families, err := registry.Gather()
	if err != nil {
		panic(err)
	}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			if v := m.GetCounter().GetValue(); v > 0 {
				labels := ""
				for _, l := range m.GetLabel() {
					labels += "{" + l.GetName() + "=" + l.GetValue() + "}"
				}
				fmt.Println(f.GetName()+labels, v)
			}
		}
	}
	// Output:
	// apikey_cache_hits_total{cache=positive} 1
	// apikey_cache_misses_total 2
	// apikey_requests_total{outcome=authenticated} 2
	// apikey_requests_total{outcome=invalid} 1
	// apikey_validations_total{result=invalid} 1
	// apikey_validations_total{result=valid} 1
}
