// Package demo is the tiny application behind examples/workos,
// examples/ownkeys and the load-test server: a health check, a "who am I"
// endpoint, an in-memory list of posts, and the demo keys. It knows nothing
// of authentication beyond reading the key from the request context; the
// examples' main packages show the wiring. examples/chi and examples/nethttp
// carry their own copy of the application, so that each main.go stands
// alone; CheckRoutes holds every example to the same contract.
package demo

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"

	"github.com/apikeyauth/apikey"
)

// Healthz answers 200 "ok", for load balancers: it needs no key.
func Healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok\n"))
}

// Me answers with the authenticated key's ID, name, owner and permissions.
// It never shows the key's value: the middleware does not keep it.
func Me(w http.ResponseWriter, r *http.Request) {
	key, ok := apikey.FromContext(r.Context())
	if !ok {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "missing_key"})
		return
	}
	writeJSON(w, http.StatusOK, struct {
		ID          string       `json:"id"`
		Name        string       `json:"name"`
		Owner       apikey.Owner `json:"owner"`
		Permissions []string     `json:"permissions"`
	}{key.ID, key.Name, key.Owner, key.Permissions})
}

// Post is one post.
type Post struct {
	ID     int    `json:"id"`
	Title  string `json:"title"`
	Author string `json:"author"` // the ID of the key that wrote it
}

// Store is an in-memory list of posts, safe for concurrent use. The zero
// value is an empty store.
type Store struct {
	mu    sync.Mutex
	posts []Post
}

// List answers with every post.
func (s *Store) List(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	posts := append([]Post{}, s.posts...)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, posts)
}

// maxPostBytes bounds a new post's request body.
const maxPostBytes = 4 << 10

// Create adds the post in the JSON body ({"title": "…"}) and answers 201
// with it.
func (s *Store) Create(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Title string `json:"title"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxPostBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": "body too large"})
			return
		}
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": `the body must be {"title": "…"}`})
		return
	}
	in.Title = strings.TrimSpace(in.Title)
	if in.Title == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "the title is empty"})
		return
	}
	var author string
	if key, ok := apikey.FromContext(r.Context()); ok {
		author = key.ID
	}
	s.mu.Lock()
	p := Post{ID: len(s.posts) + 1, Title: in.Title, Author: author}
	s.posts = append(s.posts, p)
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, p)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
