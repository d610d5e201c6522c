// Command ownkeys is the quick start's API on keys you issue and keep
// yourself, in SQLite by default or in PostgreSQL, with admin routes to
// create, list and revoke keys. It needs no account and no server:
//
//	go run .                      # prints the first admin key on stderr, once
//	curl -H "Authorization: Bearer $ADMIN" -d '{"name":"reader","permissions":["posts:read"]}' http://127.0.0.1:8080/admin/keys
//	curl -H "Authorization: Bearer $READER" http://127.0.0.1:8080/posts
//
// Keys may carry rate limits and a quota of credits, which every route
// enforces (429 past them), set on creation or later with PATCH, and shown
// with what is left by GET /admin/keys/{id}:
//
//	curl -H "Authorization: Bearer $ADMIN" -d '{"name":"trial","permissions":["posts:read"],
//	  "rate_limit":{"limit":5,"period":"1s"},"quota":{"remaining":100,"refill":{"amount":100,"interval":"24h"}}}' \
//	  http://127.0.0.1:8080/admin/keys
//	curl -X PATCH -H "Authorization: Bearer $ADMIN" -d '{"quota":{"remaining":1000}}' http://127.0.0.1:8080/admin/keys/$ID
//	curl -X PATCH -H "Authorization: Bearer $ADMIN" \
//	  -d '{"quota":{"remaining":1000,"refill":{"amount":1000,"interval":"monthly","day":1}}}' http://127.0.0.1:8080/admin/keys/$ID
//
// With -dsn postgres://… it keeps the keys in PostgreSQL instead, and every
// replica started on the same database refuses a revoked key within
// milliseconds. Credits are counted in the database, exactly, whatever the
// number of replicas; rate limits are counted in each process, unless
// -redis redis://… (or REDIS_URL) counts them in Redis for every replica
// started on it (REDIS_PREFIX sets the prefix of its keys, default
// apikey).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/apikeyauth/apikey"
	"github.com/apikeyauth/apikey/examples/internal/demo"
	"github.com/apikeyauth/apikey/redisfleet"
	"github.com/apikeyauth/apikey/sqlstore"
)

// format is the shape of the example's keys.
var format = apikey.KeyFormat{Prefix: "demo_"}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	db := flag.String("db", "apikeys.db", "SQLite database file")
	dsn := flag.String("dsn", "", "PostgreSQL DSN, postgres://…; replaces -db")
	redisURL := flag.String("redis", os.Getenv("REDIS_URL"), "Redis URL, redis://…, to count rate limits across processes (default $REDIS_URL)")
	flag.Parse()
	cfg := config{dsn: "sqlite:" + *db, redisURL: *redisURL, redisPrefix: os.Getenv("REDIS_PREFIX")}
	if *dsn != "" {
		cfg.dsn = *dsn
	}

	// Docker, Kubernetes and systemd stop a process with SIGTERM: finish
	// the requests in flight, then close the store, which writes the last
	// uses still queued.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := newApp(ctx, cfg, os.Stderr)
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		a.Close()
		log.Fatal(err)
	}
	log.Printf("listening on http://%s", ln.Addr())
	if err := demo.Serve(ctx, &http.Server{Handler: a.handler, ReadHeaderTimeout: 5 * time.Second}, ln, a); err != nil {
		log.Fatal(err)
	}
	log.Print("stopped")
}

// config is where the example keeps its keys and counts its limits.
type config struct {
	dsn         string // the store's DSN
	redisURL    string // optional: rate limits counted in this Redis
	redisPrefix string // optional: the prefix of its keys there
}

// app is the example's store and routes.
type app struct {
	store   *sqlstore.Store
	fleet   *redisfleet.Fleet // nil without a Redis URL
	handler http.Handler
}

// newApp opens the store, brings its tables up to date, and, when it holds
// no key yet, creates an admin key and writes its value to out, once.
func newApp(ctx context.Context, cfg config, out io.Writer) (*app, error) {
	a := &app{}
	if cfg.redisURL != "" {
		opt, err := redis.ParseURL(cfg.redisURL)
		if err != nil {
			// The URL may hold a password: the error does not repeat it.
			return nil, errors.New("-redis (or REDIS_URL) is not a Redis URL such as redis://127.0.0.1:6379/0")
		}
		var opts []redisfleet.Option
		if cfg.redisPrefix != "" {
			opts = append(opts, redisfleet.WithPrefix(cfg.redisPrefix))
		}
		if a.fleet, err = redisfleet.New(opt, opts...); err != nil {
			return nil, err
		}
	}
	store, err := sqlstore.Open(ctx, cfg.dsn, sqlstore.WithKeyFormat(format))
	if err != nil {
		a.closeFleet()
		return nil, err
	}
	a.store = store
	if err := a.start(ctx, out); err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

func (a *app) start(ctx context.Context, out io.Writer) error {
	if err := a.store.Migrate(ctx); err != nil {
		return err
	}
	if err := a.firstAdminKey(ctx, out); err != nil {
		return err
	}
	// The format check refuses mistyped and made-up keys before the cache
	// and the database; the store's hook records every key's last use.
	// Every route charges the key's rate limits, and its quota, whose
	// credits the store keeps.
	opts := []apikey.Option{apikey.WithFormatCheck(a.store.KeyFormat().Check), apikey.WithHooks(a.store.Hooks()),
		apikey.WithQuotas(a.store)}
	if a.fleet != nil {
		// Rate limits counted in Redis hold across every process on it;
		// while Redis does not answer, each counts its share alone.
		limiter, err := a.fleet.Limiter()
		if err != nil {
			return err
		}
		opts = append(opts, apikey.WithLimiter(limiter))
	}
	auth, err := apikey.New(a.store, opts...)
	if err != nil {
		return err
	}
	if err := a.store.Watch(ctx, auth.Cache()); err != nil {
		return err
	}
	var posts demo.Store
	// Require checks the permissions before it charges the key's limits
	// and quota: a request refused 403 spends no credit.
	admin := auth.Require("keys:admin")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", demo.Healthz)
	mux.Handle("GET /me", auth.Handler(http.HandlerFunc(demo.Me)))
	mux.Handle("GET /posts", auth.Require("posts:read")(http.HandlerFunc(posts.List)))
	mux.Handle("POST /posts", auth.Require("posts:write")(http.HandlerFunc(posts.Create)))
	mux.Handle("POST /admin/keys", admin(http.HandlerFunc(a.createKey)))
	mux.Handle("GET /admin/keys", admin(http.HandlerFunc(a.listKeys)))
	mux.Handle("GET /admin/keys/{id}", admin(http.HandlerFunc(a.getKey)))
	mux.Handle("PATCH /admin/keys/{id}", admin(http.HandlerFunc(a.updateKey)))
	mux.Handle("DELETE /admin/keys/{id}", admin(http.HandlerFunc(a.revokeKey)))
	a.handler = mux
	return nil
}

// adminOwner owns the example's keys.
var adminOwner = apikey.Owner{Type: "organization", ID: "org_demo"}

func (a *app) firstAdminKey(ctx context.Context, out io.Writer) error {
	page, err := a.store.List(ctx, "", "", 1)
	if err != nil || len(page.Keys) > 0 {
		return err
	}
	_, value, err := a.store.Create(ctx, sqlstore.NewKey{
		Name: "admin", Owner: adminOwner, Permissions: []string{"keys:admin", "posts:read", "posts:write"},
	})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "The database held no key: here is an admin key. It is shown this once:\n\n    %s\n\n", value)
	return err
}

// Close stops the store and the fleet.
func (a *app) Close() error { return errors.Join(a.store.Close(), a.closeFleet()) }

func (a *app) closeFleet() error {
	if a.fleet == nil {
		return nil
	}
	return a.fleet.Close()
}
