// Command workos is the quick start wired to WorkOS: the same API as
// examples/chi, but the keys are WorkOS API keys, validated by WorkOS and
// cached, and revoked keys stop working at once through WorkOS's webhooks.
//
//	cd examples/workos && WORKOS_API_KEY=sk_test_... go run .
//	curl -H "Authorization: Bearer $KEY" http://127.0.0.1:8080/me
//
// Environment:
//
//	WORKOS_API_KEY         the WorkOS secret key (required)
//	WORKOS_BASE_URL        the API's base URL, e.g. a local emulator
//	                       (default https://api.workos.com)
//	WORKOS_WEBHOOK_SECRET  the webhook endpoint's secret; enables
//	                       POST /webhooks/workos (api_key.revoked and
//	                       api_key.updated invalidate the cache at once)
//	REDIS_URL              joins the replicas on this Redis, e.g.
//	                       redis://127.0.0.1:6379/0: an invalidation on one
//	                       reaches all, and they share validations
//	REDIS_PREFIX           the fleet's Redis key prefix (default apikey):
//	                       replicas with the same one share invalidations
//	REDIS_FLEET_SECRET     at least 32 bytes every replica shares: signs
//	                       the validations they share in Redis, so that a
//	                       writer to Redis cannot mint keys
//
// POST /keys/{id}/revoke, for a key with the keys:revoke permission,
// deletes a key in WorkOS and answers 204 once every replica refuses it
// (or is bound to), 503 when that cannot be promised yet.
//
// Flags: -addr (default 127.0.0.1:8080); -max-validations, the validator
// calls per second this process may make (default 50, half of what WorkOS
// allows per secret key; 0 for no bound: a flood of random keys could then
// spend the whole quota); -metrics-addr, where GET /metrics
// serves Prometheus's text format without a key (default 127.0.0.1:9090,
// loopback only; empty turns it off); -audit, one JSON line per
// authenticated or refused request on stderr.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/apikeyauth/apikey"
	"github.com/apikeyauth/apikey/examples/internal/demo"
	"github.com/apikeyauth/apikey/redisfleet"
	"github.com/apikeyauth/apikey/workos"
)

// config is what the example reads from its environment.
type config struct {
	apiKey        string    // WORKOS_API_KEY
	baseURL       string    // WORKOS_BASE_URL, optional
	webhookSecret string    // WORKOS_WEBHOOK_SECRET, optional
	redisURL      string    // REDIS_URL, optional
	redisPrefix   string    // REDIS_PREFIX, optional
	fleetSecret   string    // REDIS_FLEET_SECRET, optional
	auditTo       io.Writer // -audit: where audit lines go; nil for none
	// maxValidations is -max-validations: validator calls per second, in
	// bursts of as many; 0 for no bound.
	maxValidations int
}

func configFromEnv(getenv func(string) string) (config, error) {
	cfg := config{
		apiKey:        getenv("WORKOS_API_KEY"),
		baseURL:       getenv("WORKOS_BASE_URL"),
		webhookSecret: getenv("WORKOS_WEBHOOK_SECRET"),
		redisURL:      getenv("REDIS_URL"),
		redisPrefix:   getenv("REDIS_PREFIX"),
		fleetSecret:   getenv("REDIS_FLEET_SECRET"),
	}
	if cfg.apiKey == "" {
		return cfg, errors.New("WORKOS_API_KEY is not set: export your WorkOS secret key (sk_...) " +
			"and, for a local emulator, WORKOS_BASE_URL")
	}
	return cfg, nil
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	metricsAddr := flag.String("metrics-addr", "127.0.0.1:9090", "address of GET /metrics, no key needed: keep it private; empty for none")
	audit := flag.Bool("audit", false, "write an audit line per authenticated or refused request to stderr")
	maxValidations := flag.Int("max-validations", workos.RateLimit/2, "validator calls per second for this process (0: no bound); over it a miss gets 503 at once")
	flag.Parse()

	cfg, err := configFromEnv(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "examples/workos:", err)
		os.Exit(2)
	}
	if *audit {
		cfg.auditTo = os.Stderr
	}
	cfg.maxValidations = *maxValidations
	handler, err := newRouter(cfg, slog.Default())
	if err != nil {
		log.Fatal(err) // never holds a secret: workos.New and joinFleet keep them out of errors
	}
	if *metricsAddr != "" {
		metrics := http.NewServeMux()
		metrics.Handle("GET /metrics", handler.metrics)
		go func() {
			log.Printf("metrics on http://%s/metrics", *metricsAddr)
			// Not fatal: a second replica on the same machine may find the
			// address taken, and still serves its API.
			err := (&http.Server{Addr: *metricsAddr, Handler: metrics, ReadHeaderTimeout: 5 * time.Second}).ListenAndServe()
			log.Printf("no metrics: %v", err)
		}()
	}
	// A deploy stops the process with SIGTERM: finish the requests in flight
	// and close the fleet, which publishes its last invalidations.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		_ = handler.Close()
		log.Fatal(err)
	}
	log.Printf("listening on http://%s", ln.Addr())
	if err := demo.Serve(ctx, &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second}, ln, handler); err != nil {
		log.Fatal(err)
	}
	log.Print("stopped")
}

// app is the example's handler, and what it holds open.
type app struct {
	http.Handler
	metrics http.Handler      // GET /metrics, served on its own address
	fleet   *redisfleet.Fleet // nil without REDIS_URL
}

// Close stops the fleet's goroutines and connections, if any.
func (a *app) Close() error {
	if a.fleet == nil {
		return nil
	}
	return a.fleet.Close()
}

func newRouter(cfg config, logger *slog.Logger) (_ *app, err error) {
	opts := []workos.Option{workos.WithLogger(logger)}
	if cfg.baseURL != "" {
		opts = append(opts, workos.WithBaseURL(cfg.baseURL))
	}
	client, err := workos.New(cfg.apiKey, opts...)
	if err != nil {
		return nil, err
	}
	a := &app{}
	defer func() {
		if err != nil {
			_ = a.Close()
		}
	}()
	var validator apikey.Validator = client
	obs := newObserver(cfg.auditTo)
	authOpts := append(obs.options(), apikey.WithLogger(logger))
	if cfg.maxValidations > 0 {
		authOpts = append(authOpts, apikey.WithValidationRate(float64(cfg.maxValidations), cfg.maxValidations))
	}
	if cfg.redisURL != "" {
		if a.fleet, err = joinFleet(cfg, logger); err != nil {
			return nil, err
		}
		validator = a.fleet.Validator(client)
		authOpts = append(authOpts, apikey.WithHooks(a.fleet.Hooks()), apikey.WithCacheTTL(fleetCacheTTL))
	}
	auth, err := apikey.New(validator, authOpts...)
	if err != nil {
		return nil, err
	}
	obs.metrics.ObserveCache(auth.Cache())
	if a.fleet != nil {
		if err := a.fleet.Attach(auth.Cache()); err != nil {
			return nil, err
		}
	}
	// Keys deleted or expired through client, or revoked by a webhook, are
	// forgotten at once; with a fleet, a revocation is acknowledged only
	// once every replica is bound to learn it (Fleet.Revoke).
	var invalidator workos.Invalidator = auth.Cache()
	revoke := func(_ context.Context, inv apikey.Invalidation) error { auth.Cache().Invalidate(inv); return nil }
	if a.fleet != nil {
		invalidator, revoke = a.fleet, a.fleet.Revoke
	}
	client.SetInvalidator(invalidator)
	var posts demo.Store

	r := chi.NewRouter()
	r.Get("/healthz", demo.Healthz)
	if cfg.webhookSecret != "" {
		hooks, err := workos.NewWebhookHandler(cfg.webhookSecret, invalidator, workos.WithWebhookLogger(logger))
		if err != nil {
			return nil, err
		}
		r.Method(http.MethodPost, "/webhooks/workos", hooks)
		logger.Info("webhooks enabled at POST /webhooks/workos: revoked keys stop working at once")
	} else {
		logger.Warn("WORKOS_WEBHOOK_SECRET is not set: no webhook route; a key revoked in WorkOS keeps working here for up to " +
			revocationBound.String() + ", the caches' TTLs")
	}
	r.Group(func(r chi.Router) {
		r.Use(auth.Handler)
		r.Get("/me", demo.Me)
		r.With(apikey.RequirePermission("posts:read")).Get("/posts", posts.List)
		r.With(apikey.RequirePermission("posts:write")).Post("/posts", posts.Create)
		r.With(apikey.RequirePermission("keys:revoke")).Post("/keys/{id}/revoke", revokeKey(client, revoke, logger))
	})
	a.Handler, a.metrics = obs.handler(r), obs.metricsHandler()
	return a, nil
}
