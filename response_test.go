package apikey

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A custom error handler that writes its own body keeps every header of the
// default response through SetErrorHeaders: the challenge with the
// middleware's realm, the scope of a guard's refusal, and Retry-After.
func TestSetErrorHeadersKeepsTheDefaultHeaders(t *testing.T) {
	static := testStatic()
	validator := ValidatorFunc(func(ctx context.Context, value string) (*Key, error) {
		switch value {
		case "sk_down":
			return nil, &UnavailableError{RetryAfter: 7 * time.Second}
		case "sk_broken":
			return nil, fmt.Errorf("secret refused: %w", ErrMisconfigured)
		}
		return static.Validate(ctx, value)
	})
	build := func(h ErrorHandler) http.Handler {
		opts := []Option{WithRealm("billing"), WithoutCache()}
		if h != nil {
			opts = append(opts, WithErrorHandler(h))
		}
		m, err := New(validator, opts...)
		require.NoError(t, err)
		return m.Require("posts:write")(http.NotFoundHandler())
	}
	plain := build(nil)
	custom := build(func(w http.ResponseWriter, r *http.Request, err error) {
		SetErrorHeaders(w, r, err)
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(StatusCode(err))
		fmt.Fprint(w, "custom")
	})

	for _, tc := range []struct {
		name, authorization string
		status              int
		challenge           string
	}{
		{"missing", "", 401, `Bearer realm="billing"`},
		{"malformed", "Bearer a b", 400, `Bearer realm="billing", error="invalid_request"`},
		{"invalid", "Bearer sk_unknown", 401, `Bearer realm="billing", error="invalid_token"`},
		{"forbidden", "Bearer " + readerValue, 403, `Bearer realm="billing", error="insufficient_scope", scope="posts:write"`},
		{"unavailable", "Bearer sk_down", 503, ""},
		{"misconfigured", "Bearer sk_broken", 500, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			serve := func(h http.Handler) *httptest.ResponseRecorder {
				r := httptest.NewRequest(http.MethodPost, "/posts", nil)
				if tc.authorization != "" {
					r.Header.Set("Authorization", tc.authorization)
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				return w
			}
			want, got := serve(plain), serve(custom)
			require.Equal(t, tc.status, want.Code, "the default response")
			assert.Equal(t, tc.challenge, want.Header().Get("WWW-Authenticate"), "the default response")
			assert.Equal(t, want.Code, got.Code)
			assert.Equal(t, "custom", got.Body.String())
			for _, h := range []string{"WWW-Authenticate", "Retry-After", "Cache-Control"} {
				assert.Equal(t, want.Header().Values(h), got.Header().Values(h), h)
			}
			if tc.status == 503 {
				assert.Equal(t, "7", got.Header().Get("Retry-After"))
			}
		})
	}
}

// Outside any middleware, and even without a request, SetErrorHeaders and
// WriteError answer with the default realm rather than panic.
func TestErrorResponsesWithoutARequest(t *testing.T) {
	w := httptest.NewRecorder()
	require.NotPanics(t, func() { SetErrorHeaders(w, nil, ErrInvalidKey) })
	assert.Equal(t, `Bearer realm="api", error="invalid_token"`, w.Header().Get("WWW-Authenticate"))
	assert.Empty(t, w.Header().Get("Content-Type"), "SetErrorHeaders leaves the body's type to the handler")

	w = httptest.NewRecorder()
	SetErrorHeaders(w, nil, &LimitError{Limit: "default", RetryAfter: 1500 * time.Millisecond})
	assert.Equal(t, "2", w.Header().Get("Retry-After"), "a 429 keeps its Retry-After, rounded up")
	assert.Empty(t, w.Header().Get("WWW-Authenticate"))

	w = httptest.NewRecorder()
	require.NotPanics(t, func() { WriteError(w, nil, errors.Join(ErrMissingKey)) })
	assert.Equal(t, http.StatusUnauthorized, w.Code)
	assert.Equal(t, `Bearer realm="api"`, w.Header().Get("WWW-Authenticate"))
}
