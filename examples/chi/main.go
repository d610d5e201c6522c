// Command chi is the quick start: a small API behind apikey, in a chi
// router. It accepts two demo keys held in memory, so it needs no account:
//
//	go run ./examples/chi
//	curl -H 'Authorization: Bearer sk_demo_reader' http://127.0.0.1:8080/posts
//
// The file stands alone: copy it into a module of yours, then
// go get github.com/apikeyauth/apikey github.com/go-chi/chi/v5.
package main

import (
	"encoding/json"
	"flag"
	"log"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/apikeyauth/apikey"
)

// demoKeys are the keys this server accepts, by value. A real service keeps
// its keys in WorkOS or in its own database (see the README), never in code.
var demoKeys = map[string]apikey.Key{
	"sk_demo_reader": {ID: "key_demo_reader", Name: "Demo reader",
		Owner: apikey.Owner{Type: "organization", ID: "org_demo"}, Permissions: []string{"posts:read"}},
	"sk_demo_writer": {ID: "key_demo_writer", Name: "Demo writer",
		Owner: apikey.Owner{Type: "organization", ID: "org_demo"}, Permissions: []string{"posts:read", "posts:write"}},
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	flag.Parse()
	handler, err := newRouter()
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("listening on http://%s (demo keys: sk_demo_reader, sk_demo_writer)", *addr)
	srv := &http.Server{Addr: *addr, Handler: handler, ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

func newRouter() (http.Handler, error) {
	keys, err := apikey.NewStatic(demoKeys)
	if err != nil {
		return nil, err
	}
	auth, err := apikey.New(keys)
	if err != nil {
		return nil, err
	}
	var posts postList

	r := chi.NewRouter()
	r.Get("/healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	r.Group(func(r chi.Router) {
		r.Use(auth.Handler) // every route below needs a valid key
		r.Get("/me", me)
		r.With(apikey.RequirePermission("posts:read")).Get("/posts", posts.list)
		r.With(apikey.RequirePermission("posts:write")).Post("/posts", posts.create)
	})
	return r, nil
}

// me answers with the key that authenticated the request; the key's value
// is not there to show: the middleware never keeps it.
func me(w http.ResponseWriter, r *http.Request) {
	key, ok := apikey.FromContext(r.Context())
	if !ok { // only when mounted without auth.Handler in front
		http.Error(w, "no API key", http.StatusUnauthorized)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"id": key.ID, "name": key.Name, "owner": key.Owner, "permissions": key.Permissions,
	})
}

// postList is an in-memory list of posts, safe for concurrent use.
type postList struct {
	mu    sync.Mutex
	items []post
}

type post struct {
	ID     int    `json:"id"`
	Title  string `json:"title"`
	Author string `json:"author"` // the ID of the key that wrote it
}

func (p *postList) list(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	writeJSON(w, http.StatusOK, append([]post{}, p.items...))
}

// create adds the post in the body, {"title": "…"}, written by the request's key.
func (p *postList) create(w http.ResponseWriter, r *http.Request) {
	var in struct{ Title string }
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil || strings.TrimSpace(in.Title) == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": `the body must be {"title": "…"}`})
		return
	}
	key, _ := apikey.FromContext(r.Context())
	p.mu.Lock()
	defer p.mu.Unlock()
	p.items = append(p.items, post{ID: len(p.items) + 1, Title: strings.TrimSpace(in.Title), Author: key.ID})
	writeJSON(w, http.StatusCreated, p.items[len(p.items)-1])
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
