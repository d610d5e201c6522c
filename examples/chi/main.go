// Command chi is the quick start: a small API behind apikey, mounted in a chi
// router, validating two demo keys with the in-memory validator. It needs no
// account:
//
//	go run ./examples/chi
//	curl -H 'Authorization: Bearer sk_demo_reader' http://127.0.0.1:8080/posts
package main

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/apikeyauth/apikey"
	"github.com/apikeyauth/apikey/examples/internal/demo"
)

func main() { demo.Main(newRouter) }

func newRouter() (http.Handler, error) {
	keys, err := apikey.NewStatic(demo.Keys)
	if err != nil {
		return nil, err
	}
	auth, err := apikey.New(keys)
	if err != nil {
		return nil, err
	}
	var posts demo.Store

	r := chi.NewRouter()
	r.Get("/healthz", demo.Healthz)
	r.Group(func(r chi.Router) {
		r.Use(auth.Handler)
		r.Get("/me", demo.Me)
		r.With(apikey.RequirePermission("posts:read")).Get("/posts", posts.List)
		r.With(apikey.RequirePermission("posts:write")).Post("/posts", posts.Create)
	})
	return r, nil
}
