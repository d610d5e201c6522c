package sqlstore_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/apikeyauth/apikey"
	"github.com/apikeyauth/apikey/sqlstore"
)

// Generate, store, validate and revoke a key, on SQLite.
func Example() {
	dir, _ := os.MkdirTemp("", "sqlstore-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()

	store, err := sqlstore.Open(ctx, "sqlite:"+filepath.Join(dir, "apikeys.db"),
		sqlstore.WithKeyFormat(apikey.KeyFormat{Prefix: "acme_live_"}))
	if err != nil {
		panic(err)
	}
	defer store.Close()
	if err := store.Migrate(ctx); err != nil {
		panic(err)
	}
	auth, err := apikey.New(store, apikey.WithFormatCheck(store.KeyFormat().Check), apikey.WithHooks(store.Hooks()))
	if err != nil {
		panic(err)
	}
	if err := store.Watch(ctx, auth.Cache()); err != nil {
		panic(err)
	}
	key, value, err := store.Create(ctx, sqlstore.NewKey{Name: "CI",
		Owner: apikey.Owner{ID: "org_1"}, Permissions: []string{"posts:read"}})
	if err != nil {
		panic(err)
	}

	h := auth.Handler(apikey.RequirePermission("posts:read")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k, _ := apikey.FromContext(r.Context())
		fmt.Fprintf(w, "hello, %s", k.Name)
	})))
	get := func(value string) {
		r := httptest.NewRequest("GET", "/posts", nil)
		r.Header.Set("Authorization", "Bearer "+value)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Println(w.Code, w.Body.String())
	}
	get(value)
	if err := store.Revoke(ctx, key.ID); err != nil {
		panic(err)
	}
	get(value)
	// Output:
	// 200 hello, CI
	// 401 {"error":"invalid_token","error_description":"The API key is unknown, revoked or expired."}
}

// A key with a rate limit and a quota of credits, which the store keeps:
// each request spends one, and at zero the answer is 429 until the refill.
func ExampleStore_Spend() {
	dir, _ := os.MkdirTemp("", "sqlstore-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()

	store, err := sqlstore.Open(ctx, "sqlite:"+filepath.Join(dir, "apikeys.db"))
	if err != nil {
		panic(err)
	}
	defer store.Close()
	if err := store.Migrate(ctx); err != nil {
		panic(err)
	}
	auth, err := apikey.New(store, apikey.WithFormatCheck(store.KeyFormat().Check), apikey.WithQuotas(store))
	if err != nil {
		panic(err)
	}
	if err := store.Watch(ctx, auth.Cache()); err != nil {
		panic(err)
	}
	_, value, err := store.Create(ctx, sqlstore.NewKey{Name: "trial", Owner: apikey.Owner{ID: "org_1"},
		Limits: []apikey.Limit{{Rate: 100, Period: time.Hour}},
		Quota:  &apikey.Quota{Remaining: 2, Refill: &apikey.Refill{Amount: 2, Interval: 24 * time.Hour}}})
	if err != nil {
		panic(err)
	}

	h := auth.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	for range 3 {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", "Bearer "+value)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Println(w.Code, w.Header().Get("RateLimit"))
	}
	// Output:
	// 200 "default";r=99;t=36, "quota";r=1;t=86400
	// 200 "default";r=98;t=72, "quota";r=0;t=86400
	// 429 "default";r=97;t=108, "quota";r=0;t=86400
}
