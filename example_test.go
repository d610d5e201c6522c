package apikey_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/apikeyauth/apikey"
)

// The whole flow: a static validator, the middleware, a permission guard.
func Example() {
	keys, err := apikey.NewStatic(map[string]apikey.Key{
		"sk_example_reader": {ID: "key_reader", Name: "Reader", Permissions: []string{"posts:read"}},
	})
	if err != nil {
		panic(err)
	}
	auth, err := apikey.New(keys)
	if err != nil {
		panic(err)
	}
	handler := auth.Handler(apikey.RequirePermission("posts:read")(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			key, _ := apikey.FromContext(r.Context())
			fmt.Fprintf(w, "hello, %s", key.Name)
		})))

	for _, header := range []string{"Bearer sk_example_reader", "", "Bearer sk_example_unknown"} {
		r := httptest.NewRequest("GET", "/posts", nil)
		if header != "" {
			r.Header.Set("Authorization", header)
		}
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		fmt.Println(w.Code, w.Header().Get("WWW-Authenticate"), w.Body.String())
	}
	// Output:
	// 200  hello, Reader
	// 401 Bearer realm="api" {"error":"missing_key","error_description":"The request carries no API key. Send it as: Authorization: Bearer <key>."}
	//
	// 401 Bearer realm="api", error="invalid_token" {"error":"invalid_token","error_description":"The API key is unknown, revoked or expired."}
}

// A guard answers 403 naming the permission the key lacks.
func ExampleRequirePermission() {
	guard := apikey.RequirePermission("posts:write")
	handler := guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "created")
	}))

	for _, perms := range [][]string{{"posts:read"}, {"posts:*"}} {
		r := httptest.NewRequest("POST", "/posts", nil)
		// In a handler test, NewContext stands in for the middleware.
		r = r.WithContext(apikey.NewContext(r.Context(), &apikey.Key{ID: "key_1", Permissions: perms}))
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		fmt.Println(w.Code, w.Header().Get("WWW-Authenticate"))
	}
	// Output:
	// 403 Bearer realm="api", error="insufficient_scope", scope="posts:write"
	// 200
}

// A store of your own plugs in as a ValidatorFunc. Returning ErrInvalidKey
// means "no such key"; any other error means "could not decide" (503).
func ExampleValidatorFunc() {
	lookup := apikey.ValidatorFunc(func(ctx context.Context, value string) (*apikey.Key, error) {
		if value == "sk_from_my_store" {
			return &apikey.Key{ID: "key_42", Permissions: []string{"*"}}, nil
		}
		return nil, apikey.ErrInvalidKey
	})
	auth, err := apikey.New(lookup)
	if err != nil {
		panic(err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer sk_from_my_store")
	key, err := auth.Authenticate(r)
	fmt.Println(key.ID, err)
	// Output: key_42 <nil>
}

// The cache forgets a revoked key at once, by the ID the validator gave it.
func ExampleCache_InvalidateID() {
	revoked := false
	v := apikey.ValidatorFunc(func(ctx context.Context, value string) (*apikey.Key, error) {
		if revoked {
			return nil, apikey.ErrInvalidKey
		}
		return &apikey.Key{ID: "key_1"}, nil
	})
	cache, err := apikey.NewCache(v)
	if err != nil {
		panic(err)
	}
	ctx := context.Background()

	_, err = cache.Validate(ctx, "sk_live_1")
	fmt.Println("before:", err)
	revoked = true // say, a webhook reports the key deleted
	cache.InvalidateID("key_1")
	_, err = cache.Validate(ctx, "sk_live_1")
	fmt.Println("after:", errors.Is(err, apikey.ErrInvalidKey))
	// Output:
	// before: <nil>
	// after: true
}

// An error handler can keep the default headers and statuses and change only
// the body: SetErrorHeaders keeps the WWW-Authenticate challenge that tells
// clients how to authenticate, and the Retry-After of a 503.
func ExampleWithErrorHandler() {
	keys, _ := apikey.NewStatic(map[string]apikey.Key{"sk_a": {ID: "key_a"}})
	auth, err := apikey.New(keys, apikey.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
		apikey.SetErrorHeaders(w, r, err)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(apikey.StatusCode(err))
		switch {
		case errors.Is(err, apikey.ErrMissingKey):
			fmt.Fprint(w, "please log in")
		default:
			fmt.Fprint(w, "nope")
		}
	}))
	if err != nil {
		panic(err)
	}
	w := httptest.NewRecorder()
	auth.Handler(http.NotFoundHandler()).ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	fmt.Println(w.Code, w.Header().Get("WWW-Authenticate"), w.Body.String())
	// Output: 401 Bearer realm="api" please log in
}

// A custom error handler that logs each refusal and then answers as usual.
// The guards behind the middleware use it too, with the middleware's realm.
func ExampleWriteError() {
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{} // a stable output for the example
			}
			return a
		},
	}))
	keys, _ := apikey.NewStatic(map[string]apikey.Key{"sk_reader": {ID: "key_reader", Permissions: []string{"posts:read"}}})
	auth, err := apikey.New(keys, apikey.WithRealm("example"), apikey.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
		logger.Warn("refused", "path", r.URL.Path, "outcome", apikey.OutcomeOf(err))
		apikey.WriteError(w, r, err)
	}))
	if err != nil {
		panic(err)
	}
	handler := auth.Require("posts:write")(http.NotFoundHandler())

	for _, header := range []string{"", "Bearer sk_reader"} {
		r := httptest.NewRequest("POST", "/posts", nil)
		if header != "" {
			r.Header.Set("Authorization", header)
		}
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		fmt.Println(w.Code, w.Header().Get("WWW-Authenticate"))
	}
	// Output:
	// level=WARN msg=refused path=/posts outcome=missing
	// 401 Bearer realm="example"
	// level=WARN msg=refused path=/posts outcome=forbidden
	// 403 Bearer realm="example", error="insufficient_scope", scope="posts:write"
}

// Optional serves everyone, and tells handlers who holds a key.
func ExampleMiddleware_Optional() {
	keys, _ := apikey.NewStatic(map[string]apikey.Key{"sk_a": {ID: "key_a", Name: "Alice's key"}})
	auth, err := apikey.New(keys)
	if err != nil {
		panic(err)
	}
	handler := auth.Optional(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if key, ok := apikey.FromContext(r.Context()); ok {
			fmt.Fprint(w, "hello, ", key.Name)
			return
		}
		fmt.Fprint(w, "hello, stranger")
	}))
	for _, header := range []string{"", "Bearer sk_a", "Bearer sk_nope"} {
		r := httptest.NewRequest("GET", "/", nil)
		if header != "" {
			r.Header.Set("Authorization", header)
		}
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		fmt.Println(w.Code, w.Body.String())
	}
	// Output:
	// 200 hello, stranger
	// 200 hello, Alice's key
	// 401 {"error":"invalid_token","error_description":"The API key is unknown, revoked or expired."}
}
