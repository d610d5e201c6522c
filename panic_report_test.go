package apikey

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A panic in the next handler (http.ErrAbortHandler, as
// httputil.ReverseProxy panics when a client goes away, or a bug that a
// recovering middleware outside answers 500) leaves the request
// unreported, as Hooks.Request says, unless a guard refused it first: the
// middleware reports after next returns, without a deferred call. Pinned
// so that the docs stay true; the panic goes on unchanged.
func TestPanicInNextIsNotReported(t *testing.T) {
	panics := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) })
	v := withLimitedKey(Key{ID: "key_limited", Permissions: []string{"posts:read"}, Limits: []Limit{{Rate: 100, Period: time.Hour}}})
	cases := []struct {
		name    string
		value   string
		mount   func(m *Middleware) http.Handler
		outcome Outcome // "" for no report
	}{
		{"Handler", readerValue, func(m *Middleware) http.Handler { return m.Handler(panics) }, ""},
		{"Optional, anonymous", "", func(m *Middleware) http.Handler { return m.Optional(panics) }, ""},
		{"Require", writerValue, func(m *Middleware) http.Handler { return m.Require("posts:write")(panics) }, ""},
		{"a limited key", limitedValue, func(m *Middleware) http.Handler { return m.Handler(panics) }, ""},
		{"a limited key, Require", limitedValue, func(m *Middleware) http.Handler { return m.Require("posts:read")(panics) }, ""},
		{"after a guard refused it", readerValue, func(m *Middleware) http.Handler {
			return m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				RequirePermission("posts:write")(okHandler).ServeHTTP(w, r)
				panic(http.ErrAbortHandler)
			}))
		}, OutcomeForbidden},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var rec eventRecorder
			m, err := New(v, WithHooks(rec.hooks()))
			require.NoError(t, err)
			r := keyRequest()
			if tc.value != "" {
				r = keyRequest(tc.value)
			}
			assert.PanicsWithValue(t, http.ErrAbortHandler, func() { tc.mount(m).ServeHTTP(httptest.NewRecorder(), r) })
			requests, _ := rec.take()
			if tc.outcome == "" {
				assert.Empty(t, requests)
				return
			}
			require.Len(t, requests, 1, "reported once")
			assert.Equal(t, tc.outcome, requests[0].Outcome)
		})
	}
}
