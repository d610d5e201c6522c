package apikey_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/apikeyauth/apikey"
)

// One audit line per request that the middleware decided, with the status
// the handlers wrote; a guard's refusal makes the line "forbidden".
func ExampleNewAuditLog() {
	noTime := func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{} // dropped, for a stable Output
		}
		return a
	}
	audit := apikey.NewAuditLog(slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: noTime})))
	keys, err := apikey.NewStatic(map[string]apikey.Key{
		"sk_example_reader": {ID: "key_reader", Owner: apikey.Owner{Type: "organization", ID: "org_1"}, Permissions: []string{"posts:read"}},
	})
	if err != nil {
		panic(err)
	}
	auth, err := apikey.New(keys, apikey.WithHooks(audit.Hooks()))
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("DELETE /posts/{id}", auth.Require("posts:write")(http.NotFoundHandler()))
	handler := audit.Handler(mux)

	r := httptest.NewRequest("DELETE", "/posts/1", nil)
	r.Header.Set("Authorization", "Bearer sk_example_reader")
	r.Header.Set("X-Request-ID", "req-1")
	handler.ServeHTTP(httptest.NewRecorder(), r)
	// Output:
	// level=INFO msg="apikey audit" outcome=forbidden status=403 method=DELETE route="DELETE /posts/{id}" request_id=req-1 key_id=key_reader owner_type=organization owner_id=org_1 fingerprint=b154b338512d6fe5 answer=miss
}

// The last use of each key, recorded on every authenticated request,
// including those the cache answers without asking the store.
func ExampleLastUsed() {
	used, err := apikey.NewLastUsed(10_000)
	if err != nil {
		panic(err)
	}
	keys, err := apikey.NewStatic(map[string]apikey.Key{"sk_example_reader": {ID: "key_reader"}})
	if err != nil {
		panic(err)
	}
	auth, err := apikey.New(keys, apikey.WithHooks(used.Hooks()))
	if err != nil {
		panic(err)
	}
	handler := auth.Handler(http.NotFoundHandler())
	for range 3 {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", "Bearer sk_example_reader")
		handler.ServeHTTP(httptest.NewRecorder(), r)
	}
	for id, at := range used.All() {
		fmt.Println(id, !at.IsZero())
	}
	// Output:
	// key_reader true
}
