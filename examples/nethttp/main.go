// Command nethttp is the quick start on the standard library alone: the same
// API as examples/chi, on an http.ServeMux.
//
//	go run ./examples/nethttp
//	curl -H 'Authorization: Bearer sk_demo_writer' http://127.0.0.1:8080/me
package main

import (
	"flag"
	"log"
	"net/http"
	"time"

	"github.com/apikeyauth/apikey"
	"github.com/apikeyauth/apikey/examples/internal/demo"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	flag.Parse()

	handler, err := newMux()
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Addr: *addr, Handler: handler, ReadHeaderTimeout: 5 * time.Second}
	log.Printf("listening on http://%s (demo keys: sk_demo_reader, sk_demo_writer)", *addr)
	log.Fatal(srv.ListenAndServe())
}

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
	read, write := apikey.RequirePermission("posts:read"), apikey.RequirePermission("posts:write")

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", demo.Healthz)
	mux.Handle("GET /me", auth.Handler(http.HandlerFunc(demo.Me)))
	mux.Handle("GET /posts", auth.Handler(read(http.HandlerFunc(posts.List))))
	mux.Handle("POST /posts", auth.Handler(write(http.HandlerFunc(posts.Create))))
	return mux, nil
}
