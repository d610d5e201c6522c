package apikey

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGrants(t *testing.T) {
	tests := []struct {
		granted, required string
		want              bool
	}{
		{"posts:read", "posts:read", true},
		{"posts:read", "posts:write", false},
		{"posts:*", "posts:read", true},
		{"posts:*", "posts:read:own", true},
		{"posts:*", "posts:*", true},
		{"posts:*", "posts:", false},
		{"posts:*", "posts", false},
		{"posts:*", "postsx:read", false},
		{"posts:*", "comments:read", false},
		{"*", "anything:at:all", true},
		{"*", "*", true},
		{"posts:read", "posts:*", false},
		{"posts", "posts:read", false},
		{"", "posts:read", false},
		{"Posts:read", "posts:read", false},
		// A * anywhere but alone or as the whole last segment is a character.
		{"posts:*:read", "posts:x:read", false},
		{"posts:*:read", "posts:*:read", true},
		{"posts:re*", "posts:read", false},
		{"post*", "posts:read", false},
	}
	for _, tc := range tests {
		t.Run(tc.granted+" grants "+tc.required, func(t *testing.T) {
			assert.Equal(t, tc.want, grants(tc.granted, tc.required))
		})
	}
}

func TestRequirePermission(t *testing.T) {
	wildcard := Key{ID: "key_wild", Permissions: []string{"posts:*"}}
	none := Key{ID: "key_none"}
	tests := []struct {
		name      string
		guard     func(http.Handler) http.Handler
		key       *Key
		status    int
		challenge string
	}{
		{"all: has it", RequirePermission("posts:read"), &readerKey, 200, ""},
		{"all: has both", RequirePermission("posts:read", "posts:write"), &writerKey, 200, ""},
		{"all: misses one", RequirePermission("posts:read", "posts:write"), &readerKey, 403, `Bearer realm="api", error="insufficient_scope", scope="posts:write"`},
		{"all: misses both", RequirePermission("posts:read", "posts:write"), &none, 403, `Bearer realm="api", error="insufficient_scope", scope="posts:read posts:write"`},
		{"all: wildcard", RequirePermission("posts:read", "posts:write"), &wildcard, 200, ""},
		{"all: star", RequirePermission("billing:admin"), &adminKey, 200, ""},
		{"any: has one", RequireAnyPermission("posts:write", "posts:read"), &readerKey, 200, ""},
		{"any: has none", RequireAnyPermission("posts:write", "posts:delete"), &readerKey, 403, `Bearer realm="api", error="insufficient_scope", scope="posts:write posts:delete"`},
		{"no key in context", RequirePermission("posts:read"), nil, 401, `Bearer realm="api"`},
		{"scope drops unsafe names", RequirePermission(`bad"name`, "posts:write"), &none, 403, `Bearer realm="api", error="insufficient_scope", scope="posts:write"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			if tc.key != nil {
				r = r.WithContext(NewContext(r.Context(), tc.key))
			}
			w := httptest.NewRecorder()
			tc.guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})).ServeHTTP(w, r)
			assert.Equal(t, tc.status, w.Code)
			assert.Equal(t, tc.challenge, w.Header().Get("WWW-Authenticate"))
		})
	}
}

func TestHasPermissionNilKey(t *testing.T) {
	var key *Key
	assert.False(t, key.HasPermission("posts:read"))
}

// A guard that requires nothing would let every key through (or none): it
// is refused when the route is built, not when a request comes.
func TestGuardsRequireSomething(t *testing.T) {
	tests := map[string]func(){
		"RequirePermission()":        func() { RequirePermission() },
		"RequireAnyPermission()":     func() { RequireAnyPermission() },
		"RequirePermission(\"\")":    func() { RequirePermission("posts:read", "") },
		"RequireAnyPermission(\"\")": func() { RequireAnyPermission("") },
		"Middleware.Require()":       func() { (&Middleware{}).Require() },
	}
	for name, build := range tests {
		t.Run(name, func(t *testing.T) {
			defer func() {
				assert.Contains(t, recover(), "needs at least one permission, and no empty one")
			}()
			build()
			t.Error("no panic")
		})
	}
}

func TestGuardCopiesItsArguments(t *testing.T) {
	perms := []string{"posts:read"}
	guard := RequirePermission(perms...)
	perms[0] = "posts:write"
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r = r.WithContext(NewContext(r.Context(), &readerKey))
	w := httptest.NewRecorder()
	guard(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})).ServeHTTP(w, r)
	assert.Equal(t, 200, w.Code)
}

// The error handler may keep or change the error it gets: changing its
// Missing must not change what the guard requires.
func TestGuardErrorIsTheHandlersOwn(t *testing.T) {
	m, err := New(testStatic(), WithErrorHandler(func(w http.ResponseWriter, _ *http.Request, err error) {
		var pe *PermissionError
		if errors.As(err, &pe) && len(pe.Missing) > 0 {
			pe.Missing[0] = "posts:read"
		}
		w.WriteHeader(StatusCode(err))
	}))
	require.NoError(t, err)
	guard := m.Handler(RequireAnyPermission("posts:write", "posts:delete")(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
	for range 2 {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", "Bearer "+readerValue)
		w := httptest.NewRecorder()
		guard.ServeHTTP(w, r)
		assert.Equal(t, http.StatusForbidden, w.Code)
	}
}
