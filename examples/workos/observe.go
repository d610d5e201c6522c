package main

import (
	"io"
	"log/slog"
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/apikeyauth/apikey"
	"github.com/apikeyauth/apikey/promapikey"
)

// observer holds the example's metrics and, with -audit, its audit log.
type observer struct {
	metrics  *promapikey.Metrics
	registry *prometheus.Registry
	audit    *apikey.AuditLog // nil without -audit
}

// newObserver registers apikey's metrics beside the Go runtime's and the
// process's, and writes audit lines as JSON to auditTo, if not nil.
func newObserver(auditTo io.Writer) *observer {
	o := &observer{metrics: promapikey.New(), registry: prometheus.NewRegistry()}
	o.registry.MustRegister(o.metrics, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if auditTo != nil {
		o.audit = apikey.NewAuditLog(slog.New(slog.NewJSONHandler(auditTo, nil)),
			apikey.WithAuditRoute(func(r *http.Request) string { return chi.RouteContext(r.Context()).RoutePattern() }))
	}
	return o
}

// options are the middleware's options that feed the metrics and the audit.
func (o *observer) options() []apikey.Option {
	opts := []apikey.Option{apikey.WithHooks(o.metrics.Hooks())}
	if o.audit != nil {
		opts = append(opts, apikey.WithHooks(o.audit.Hooks()))
	}
	return opts
}

// handler wraps the router so that audit lines carry the status written.
func (o *observer) handler(next http.Handler) http.Handler {
	if o.audit == nil {
		return next
	}
	return o.audit.Handler(next)
}

// metricsHandler serves the metrics in Prometheus's text format.
func (o *observer) metricsHandler() http.Handler {
	return promhttp.HandlerFor(o.registry, promhttp.HandlerOpts{})
}
