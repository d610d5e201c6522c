package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apikeyauth/apikey/examples/internal/demo"
	"github.com/apikeyauth/apikey/workos"
)

const (
	secret        = "sk_test_example_secret"
	webhookSecret = "whsec_example"
)

// fakeWorkOS answers POST /api_keys/validations for the demo keys, in the
// documented wire format, and forgets revoked ones.
type fakeWorkOS struct {
	mu          sync.Mutex
	revoked     map[string]bool
	validations int
}

func (f *fakeWorkOS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/api_keys/validations" {
		http.NotFound(w, r)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+secret {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"message":"Unauthorized","code":"unauthorized"}`)
		return
	}
	var req struct{ Value string }
	_ = json.NewDecoder(r.Body).Decode(&req)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.validations++
	k, ok := demo.Keys[req.Value]
	w.Header().Set("Content-Type", "application/json")
	if !ok || f.revoked[k.ID] {
		fmt.Fprint(w, `{"api_key":null}`)
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"api_key": map[string]any{
		"object": "api_key", "id": k.ID, "name": k.Name,
		"owner":            map[string]any{"type": k.Owner.Type, "id": k.Owner.ID},
		"obfuscated_value": "sk_..." + req.Value[len(req.Value)-4:], "last_used_at": nil, "expires_at": nil,
		"permissions": k.Permissions, "created_at": "2026-01-15T12:00:00.000Z", "updated_at": "2026-01-15T12:00:00.000Z",
	}})
}

func TestRoutes(t *testing.T) {
	srv := httptest.NewServer(&fakeWorkOS{})
	defer srv.Close()
	h, err := newRouter(config{apiKey: secret, baseURL: srv.URL}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	demo.CheckRoutes(t, h)

	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/webhooks/workos", strings.NewReader(`{}`)))
	assert.Equal(t, http.StatusNotFound, w.Code, "no webhook route without a secret")
}

func TestWebhookRevokes(t *testing.T) {
	fake := &fakeWorkOS{revoked: map[string]bool{}}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	var logs bytes.Buffer
	h, err := newRouter(config{apiKey: secret, baseURL: srv.URL, webhookSecret: webhookSecret}, slog.New(slog.NewTextHandler(&logs, nil)))
	require.NoError(t, err)
	me := func() int {
		r := httptest.NewRequest(http.MethodGet, "/me", nil)
		r.Header.Set("Authorization", "Bearer sk_demo_reader")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	require.Equal(t, 200, me())
	fake.mu.Lock()
	fake.revoked["key_demo_reader"] = true
	fake.mu.Unlock()
	require.Equal(t, 200, me(), "cached")

	body := `{"id":"evt_1","event":"api_key.revoked","data":{"id":"key_demo_reader"},"created_at":"2026-01-15T12:00:00.000Z"}`
	bad := httptest.NewRequest(http.MethodPost, "/webhooks/workos", strings.NewReader(body))
	bad.Header.Set(workos.SignatureHeader, workos.Sign([]byte(body), "whsec_wrong", time.Now()))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, bad)
	assert.Equal(t, 400, w.Code)
	assert.Equal(t, 200, me(), "a bad signature changes nothing")

	r := httptest.NewRequest(http.MethodPost, "/webhooks/workos", strings.NewReader(body))
	r.Header.Set(workos.SignatureHeader, workos.Sign([]byte(body), webhookSecret, time.Now()))
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	require.Equal(t, 200, w.Code)
	assert.Equal(t, 401, me())
	assert.NotContains(t, logs.String(), secret)
	assert.NotContains(t, logs.String(), webhookSecret)
	assert.NotContains(t, logs.String(), "sk_demo_reader")
}

func TestConfig(t *testing.T) {
	_, err := configFromEnv(func(string) string { return "" })
	assert.ErrorContains(t, err, "WORKOS_API_KEY")

	env := map[string]string{"WORKOS_API_KEY": secret, "WORKOS_BASE_URL": "http://127.0.0.1:4000", "WORKOS_WEBHOOK_SECRET": webhookSecret,
		"REDIS_URL": "redis://127.0.0.1:6379/0", "REDIS_PREFIX": "svc"}
	cfg, err := configFromEnv(func(k string) string { return env[k] })
	require.NoError(t, err)
	assert.Equal(t, config{apiKey: secret, baseURL: "http://127.0.0.1:4000", webhookSecret: webhookSecret,
		redisURL: "redis://127.0.0.1:6379/0", redisPrefix: "svc"}, cfg)

	_, err = newRouter(config{apiKey: secret, baseURL: "not a url"}, slog.New(slog.DiscardHandler))
	assert.Error(t, err)
}

func TestWrongSecretIs500(t *testing.T) {
	srv := httptest.NewServer(&fakeWorkOS{})
	defer srv.Close()
	var logs bytes.Buffer
	h, err := newRouter(config{apiKey: "sk_test_wrong", baseURL: srv.URL}, slog.New(slog.NewTextHandler(&logs, nil)))
	require.NoError(t, err)
	r := httptest.NewRequest(http.MethodGet, "/me", nil)
	r.Header.Set("Authorization", "Bearer sk_demo_reader")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	assert.Equal(t, http.StatusInternalServerError, w.Code)
	assert.Contains(t, logs.String(), "WORKOS_API_KEY")
	assert.NotContains(t, logs.String(), "sk_test_wrong")
}

// -max-validations bounds the calls to WorkOS: a flood of unknown keys gets
// 503 once the budget is spent, and WorkOS is not asked again.
func TestMaxValidations(t *testing.T) {
	fake := &fakeWorkOS{}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	h, err := newRouter(config{apiKey: secret, baseURL: srv.URL, maxValidations: 4}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	defer h.Close()
	var codes []int
	for i := range 6 {
		r := httptest.NewRequest(http.MethodGet, "/me", nil)
		r.Header.Set("Authorization", fmt.Sprintf("Bearer sk_flood_%d", i))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		codes = append(codes, w.Code)
	}
	// Four calls a second in bursts of four: with no key known yet, the
	// reserve for known keys lends its share, so four unknown keys get
	// through and the others are refused unasked.
	assert.Equal(t, []int{401, 401, 401, 401, 503, 503}, codes)
	fake.mu.Lock()
	defer fake.mu.Unlock()
	assert.Equal(t, 4, fake.validations)
}
