package sqlstore_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

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
