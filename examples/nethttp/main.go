// Command nethttp is the quick start on the standard library alone: the same
// API as examples/chi, on an http.ServeMux.
//
//	go run ./examples/nethttp
//	curl -H 'Authorization: Bearer sk_demo_writer' http://127.0.0.1:8080/me
package main

import (
	"net/http"

	"github.com/apikeyauth/apikey"
	"github.com/apikeyauth/apikey/examples/internal/demo"
)

func main() { demo.Main(newMux) }

func newMux() (http.Handler, error) {
	keys, err := apikey.NewStatic(demo.Keys)
	if err != nil {
		return nil, err
	}
	auth, err := apikey.New(keys)
	if err != nil {
		return nil, err
	}
	var posts demo.Store

	// Handler needs a key; Require needs a key with these permissions.
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", demo.Healthz)
	mux.Handle("GET /me", auth.Handler(http.HandlerFunc(demo.Me)))
	mux.Handle("GET /posts", auth.Require("posts:read")(http.HandlerFunc(posts.List)))
	mux.Handle("POST /posts", auth.Require("posts:write")(http.HandlerFunc(posts.Create)))
	return mux, nil
}
