package workos_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/apikeyauth/apikey"
	"github.com/apikeyauth/apikey/workos"
)

// A stand-in for WorkOS that knows one key.
func exampleServer() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Value string `json:"value"`
		}
		_ = json.NewDecoder(r.Body).Decode(&req)
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("Authorization") != "Bearer sk_test_example" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if req.Value != "sk_live_alice" {
			fmt.Fprint(w, `{"api_key": null}`)
			return
		}
		fmt.Fprint(w, `{"api_key": {"object": "api_key", "id": "api_key_01", "name": "Alice's key",
			"owner": {"type": "organization", "id": "org_01"}, "obfuscated_value": "sk_...lice",
			"last_used_at": null, "expires_at": null, "permissions": ["posts:read"],
			"created_at": "2026-01-15T12:00:00.000Z", "updated_at": "2026-01-15T12:00:00.000Z"}}`)
	}))
}

func Example() {
	srv := exampleServer() // in production: no WithBaseURL, WorkOS itself
	defer srv.Close()

	client, err := workos.New("sk_test_example", workos.WithBaseURL(srv.URL))
	if err != nil {
		panic(err)
	}
	m, err := apikey.New(client)
	if err != nil {
		panic(err)
	}
	client.SetInvalidator(m.Cache()) // deletes and expiries through client revoke at once

	key, err := m.Cache().Validate(context.Background(), "sk_live_alice")
	fmt.Println(key.ID, key.Owner.ID, key.Permissions, err)

	_, err = m.Cache().Validate(context.Background(), "sk_live_mallory")
	fmt.Println(errors.Is(err, apikey.ErrInvalidKey))
	// Output:
	// api_key_01 org_01 [posts:read] <nil>
	// true
}
