// Command consumer is what a user outside the repository writes: it uses
// every public module as installed from a module proxy, with no replace, and
// checks each answer. .ci/release-check copies it into a fresh module; it is
// not part of any of the repository's modules (the go command skips folders
// whose name starts with a dot).
//
// It needs no service: the SQL store runs on SQLite in a temporary folder,
// and the fleet is only built. With APIKEY_TEST_REDIS set it also attaches
// the fleet to that Redis, under a prefix of its own.
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/apikeyauth/apikey"
	"github.com/apikeyauth/apikey/otelapikey"
	"github.com/apikeyauth/apikey/promapikey"
	"github.com/apikeyauth/apikey/redisfleet"
	"github.com/apikeyauth/apikey/sqlstore"
	"github.com/apikeyauth/apikey/workos"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "consumer:", err)
		os.Exit(1)
	}
	fmt.Println("consumer: every module answered as expected")
}

func run() error {
	ctx := context.Background()

	// The root module: a static key through a middleware and a guard.
	static, err := apikey.NewStatic(map[string]apikey.Key{
		"static-key-value": {ID: "key_static", Permissions: []string{"posts:read"}},
	})
	if err != nil {
		return err
	}
	mw, err := apikey.New(static)
	if err != nil {
		return err
	}
	h := mw.Handler(apikey.RequirePermission("posts:read")(whoami()))
	if err := expect(h, "static-key-value", http.StatusOK, "key_static"); err != nil {
		return fmt.Errorf("root: %w", err)
	}
	if err := expect(h, "", http.StatusUnauthorized, ""); err != nil {
		return fmt.Errorf("root: %w", err)
	}
	fmt.Println("root: a static key let through, a request without one refused")

	// workos: a webhook signature made and checked offline.
	if _, err := workos.New("sk_test_consumer"); err != nil {
		return fmt.Errorf("workos: %w", err)
	}
	body := []byte(`{"event":"api_key.revoked"}`)
	now := time.Now()
	if err := workos.VerifySignature(workos.Sign(body, "whsec", now), body, "whsec", now, 0); err != nil {
		return fmt.Errorf("workos: a signature it made does not verify: %w", err)
	}
	if err := workos.VerifySignature(workos.Sign(body, "other", now), body, "whsec", now, 0); !errors.Is(err, workos.ErrInvalidSignature) {
		return fmt.Errorf("workos: a signature under another secret gave %v", err)
	}
	fmt.Println("workos: webhook signatures checked")

	// sqlstore on SQLite, behind a redisfleet, observed by promapikey and
	// otelapikey.
	dir, err := os.MkdirTemp("", "apikey-consumer-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	store, err := sqlstore.Open(ctx, "sqlite:"+filepath.Join(dir, "keys.db"))
	if err != nil {
		return fmt.Errorf("sqlstore: %w", err)
	}
	defer store.Close()
	if err := store.Migrate(ctx); err != nil {
		return fmt.Errorf("sqlstore: %w", err)
	}
	key, value, err := store.Create(ctx, sqlstore.NewKey{
		Name:        "consumer",
		Owner:       apikey.Owner{ID: "org_consumer"},
		Permissions: []string{"posts:read"},
	})
	if err != nil {
		return fmt.Errorf("sqlstore: %w", err)
	}

	redisAddr := os.Getenv("APIKEY_TEST_REDIS")
	fleetAddr := redisAddr
	if fleetAddr == "" {
		fleetAddr = "127.0.0.1:1" // never contacted: the fleet is not attached
	}
	prefix := fmt.Sprintf("apikey-consumer-%d", time.Now().UnixNano())
	fleet, err := redisfleet.New(&redis.Options{Addr: fleetAddr}, redisfleet.WithPrefix(prefix))
	if err != nil {
		return fmt.Errorf("redisfleet: %w", err)
	}
	defer fleet.Close()
	if redisAddr != "" {
		defer removeKeys(redisAddr, prefix)
	}

	metrics := promapikey.New()
	registry := prometheus.NewRegistry()
	if err := registry.Register(metrics); err != nil {
		return fmt.Errorf("promapikey: %w", err)
	}
	tel, err := otelapikey.New()
	if err != nil {
		return fmt.Errorf("otelapikey: %w", err)
	}
	defer tel.Close()

	own, err := apikey.New(fleet.Validator(store),
		apikey.WithHooks(fleet.Hooks()),
		apikey.WithHooks(metrics.Hooks()),
		apikey.WithHooks(tel.Hooks()))
	if err != nil {
		return err
	}
	tel.ObserveCache(own.Cache())
	if redisAddr != "" {
		if err := fleet.Attach(own.Cache()); err != nil {
			return fmt.Errorf("redisfleet: %w", err)
		}
	}
	h = own.Handler(apikey.RequirePermission("posts:read")(whoami()))
	if err := expect(h, value, http.StatusOK, key.ID); err != nil {
		return fmt.Errorf("sqlstore: %w", err)
	}
	if err := store.Revoke(ctx, key.ID); err != nil {
		return fmt.Errorf("sqlstore: %w", err)
	}
	own.Cache().InvalidateID(key.ID)
	if err := expect(h, value, http.StatusUnauthorized, ""); err != nil {
		return fmt.Errorf("sqlstore, after the key was revoked: %w", err)
	}
	fmt.Println("sqlstore: a created key let through, then refused once revoked")

	requests, err := counted(registry, "apikey_requests_total")
	if err != nil {
		return fmt.Errorf("promapikey: %w", err)
	}
	if requests != 2 {
		return fmt.Errorf("promapikey: apikey_requests_total is %v, want 2", requests)
	}
	fmt.Println("promapikey: both requests counted")
	if redisAddr != "" {
		fmt.Printf("redisfleet: attached to %s: %+v\n", redisAddr, fleet.Stats())
	} else {
		fmt.Println("redisfleet: built, not attached (no APIKEY_TEST_REDIS)")
	}
	return nil
}

// whoami answers with the ID of the key the middleware let through.
func whoami() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, _ := apikey.FromContext(r.Context())
		fmt.Fprint(w, key.ID)
	})
}

func expect(h http.Handler, value string, status int, body string) error {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	if value != "" {
		req.Header.Set("Authorization", "Bearer "+value)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != status || (body != "" && strings.TrimSpace(rec.Body.String()) != body) {
		return fmt.Errorf("got %d %q, want %d %q", rec.Code, rec.Body.String(), status, body)
	}
	return nil
}

// counted sums every sample of the counter family name.
func counted(g prometheus.Gatherer, name string) (float64, error) {
	families, err := g.Gather()
	if err != nil {
		return 0, err
	}
	for _, f := range families {
		if f.GetName() == name {
			sum := 0.0
			for _, m := range f.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
			return sum, nil
		}
	}
	return 0, fmt.Errorf("no %s metric", name)
}

// removeKeys deletes what the fleet left in a Redis other programs share.
func removeKeys(addr, prefix string) {
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	ctx := context.Background()
	iter := rdb.Scan(ctx, 0, prefix+"*", 100).Iterator()
	for iter.Next(ctx) {
		rdb.Del(ctx, iter.Val())
	}
}
