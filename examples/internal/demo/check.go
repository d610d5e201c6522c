package demo

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// CheckRoutes runs the quick start's contract against h: every route, with
// no key, each demo key and an unknown one. The examples' tests call it, so
// that the README's curl lines stay true.
func CheckRoutes(t *testing.T, h http.Handler) {
	t.Helper()
	tests := []struct {
		name, method, path, key, body string
		status                        int
	}{
		{"health needs no key", "GET", "/healthz", "", "", 200},
		{"me needs a key", "GET", "/me", "", "", 401},
		{"me with an unknown key", "GET", "/me", "sk_demo_unknown", "", 401},
		{"me with the reader", "GET", "/me", "sk_demo_reader", "", 200},
		{"reader lists posts", "GET", "/posts", "sk_demo_reader", "", 200},
		{"reader cannot post", "POST", "/posts", "sk_demo_reader", `{"title":"hi"}`, 403},
		{"writer posts", "POST", "/posts", "sk_demo_writer", `{"title":"hi"}`, 201},
		{"writer posts nonsense", "POST", "/posts", "sk_demo_writer", `{"nope":1}`, 400},
		{"list without a key", "GET", "/posts", "", "", 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
			if tc.key != "" {
				r.Header.Set("Authorization", "Bearer "+tc.key)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.status {
				t.Fatalf("%s %s: status %d, want %d; body %s", tc.method, tc.path, w.Code, tc.status, w.Body)
			}
			if tc.key != "" && strings.Contains(w.Body.String(), tc.key) {
				t.Fatalf("%s %s: the response shows the key value", tc.method, tc.path)
			}
		})
	}
	t.Run("me shows the key, not its value", func(t *testing.T) {
		r := httptest.NewRequest("GET", "/me", nil)
		r.Header.Set("Authorization", "Bearer sk_demo_writer")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		var me struct {
			ID          string `json:"id"`
			Name        string `json:"name"`
			Owner       struct{ Type, ID string }
			Permissions []string `json:"permissions"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &me); err != nil {
			t.Fatalf("GET /me: %v; body %s", err, w.Body)
		}
		if me.ID != "key_demo_writer" || me.Owner.ID != "org_demo" || len(me.Permissions) != 2 {
			t.Fatalf("GET /me = %+v", me)
		}
	})
}
