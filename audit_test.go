package apikey

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAuditLog(t *testing.T) {
	logger, buf := testLogger()
	audit := NewAuditLog(logger)
	m, err := New(testStatic(), WithHooks(audit.Hooks()))
	require.NoError(t, err)

	mux := http.NewServeMux()
	mux.Handle("GET /posts/{id}", m.Handler(okHandler))
	mux.Handle("DELETE /posts/{id}", m.Require("posts:write")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {})
	h := audit.Handler(mux)

	send := func(method, path string, header ...string) {
		r := httptest.NewRequest(method, path, nil)
		for i := 0; i < len(header); i += 2 {
			r.Header.Add(header[i], header[i+1])
		}
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	send("GET", "/posts/1", "Authorization", "Bearer "+readerValue, "X-Request-ID", "req-1")
	send("DELETE", "/posts/1", "Authorization", "Bearer "+writerValue)
	send("DELETE", "/posts/2", "Authorization", "Bearer "+readerValue)
	send("GET", "/posts/3", "Authorization", "Bearer "+unknownValue, "X-Request-ID", strings.Repeat("r", 1000))
	send("GET", "/posts/4")
	send("GET", "/healthz")

	lines := logLines(t, buf)
	require.Len(t, lines, 5, "one line per request a middleware decided; none for /healthz")
	for _, l := range lines {
		assert.Equal(t, "apikey audit", l["msg"])
		assert.Equal(t, "INFO", l["level"])
		assert.NotEmpty(t, l["time"])
	}
	reader := DigestOf(readerValue).Fingerprint()
	assertFields(t, lines[0], map[string]any{
		"outcome": "authenticated", "status": 200.0, "method": "GET", "route": "GET /posts/{id}",
		"key_id": readerKey.ID, "owner_type": "organization", "owner_id": "org_1",
		"fingerprint": reader, "request_id": "req-1", "answer": "miss",
	})
	assertFields(t, lines[1], map[string]any{
		"outcome": "authenticated", "status": 204.0, "method": "DELETE", "route": "DELETE /posts/{id}",
		"key_id": writerKey.ID, "fingerprint": DigestOf(writerValue).Fingerprint(),
	})
	assertFields(t, lines[2], map[string]any{
		"outcome": "forbidden", "status": 403.0, "route": "DELETE /posts/{id}",
		"key_id": readerKey.ID, "fingerprint": reader, "answer": "hit",
	})
	assertFields(t, lines[3], map[string]any{
		"outcome": "invalid", "status": 401.0, "fingerprint": DigestOf(unknownValue).Fingerprint(),
		"request_id": strings.Repeat("r", maxRequestIDLength),
	})
	assert.NotContains(t, lines[3], "key_id")
	assertFields(t, lines[4], map[string]any{"outcome": "missing", "status": 401.0})
	assert.NotContains(t, lines[4], "fingerprint")
	assert.NoError(t, keyValueIn(buf.String()))
}

func assertFields(t *testing.T, line map[string]any, want map[string]any) {
	t.Helper()
	for k, v := range want {
		assert.Equal(t, v, line[k], k)
	}
}

func TestAuditLogWithChi(t *testing.T) {
	logger, buf := testLogger()
	audit := NewAuditLog(logger,
		WithAuditRoute(func(r *http.Request) string { return chi.RouteContext(r.Context()).RoutePattern() }),
		WithAuditRequestID(func(r *http.Request) string { return "from-func" }))
	m, err := New(testStatic(), WithHooks(audit.Hooks()))
	require.NoError(t, err)
	r := chi.NewRouter()
	r.Use(audit.Handler, m.Handler)
	r.With(RequirePermission("posts:write")).Post("/posts/{id}/publish", okHandler)

	for _, v := range []string{writerValue, readerValue} {
		req := httptest.NewRequest("POST", "/posts/7/publish", nil)
		req.Header.Set("Authorization", "Bearer "+v)
		r.ServeHTTP(httptest.NewRecorder(), req)
	}
	lines := logLines(t, buf)
	require.Len(t, lines, 2)
	assertFields(t, lines[0], map[string]any{"outcome": "authenticated", "status": 200.0, "route": "/posts/{id}/publish", "request_id": "from-func"})
	assertFields(t, lines[1], map[string]any{"outcome": "forbidden", "status": 403.0, "route": "/posts/{id}/publish", "key_id": readerKey.ID})
}

// TestAuditLogWithoutHandler: the line is written when the middleware
// decides, with the refusal's status.
func TestAuditLogWithoutHandler(t *testing.T) {
	logger, buf := testLogger()
	audit := NewAuditLog(logger)
	m, err := New(testStatic(), WithHooks(audit.Hooks()))
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("GET /posts", m.Handler(okHandler))
	mux.ServeHTTP(httptest.NewRecorder(), keyRequest(writerValue))
	mux.ServeHTTP(httptest.NewRecorder(), keyRequest(unknownValue))

	lines := logLines(t, buf)
	require.Len(t, lines, 2)
	assertFields(t, lines[0], map[string]any{"outcome": "authenticated", "route": "GET /posts", "key_id": writerKey.ID})
	assert.NotContains(t, lines[0], "status", "unknown until the handler writes it")
	assertFields(t, lines[1], map[string]any{"outcome": "invalid", "status": 401.0})
}

// TestAuditStatusWriterKeepsFlusher: a streaming handler behind the audit
// still finds http.Flusher and reaches the writer underneath.
func TestAuditStatusWriterKeepsFlusher(t *testing.T) {
	audit := NewAuditLog(slogDiscard())
	var flushed bool
	h := audit.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := w.(http.Flusher)
		require.True(t, ok)
		f.Flush()
		flushed = true
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	assert.True(t, flushed)
	assert.True(t, rec.Flushed)
}

func TestAuditLogRateLimited(t *testing.T) {
	logger, buf := testLogger()
	audit := NewAuditLog(logger)
	m, err := New(withLimits(Limit{Name: "search", Rate: 1, Period: time.Hour}), WithHooks(audit.Hooks()))
	require.NoError(t, err)
	h := audit.Handler(m.Handler(okHandler))
	for range 2 {
		r := httptest.NewRequest("GET", "/search", nil)
		r.Header.Set("Authorization", "Bearer "+writerValue)
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	lines := logLines(t, buf)
	require.Len(t, lines, 2)
	assertFields(t, lines[0], map[string]any{"outcome": "authenticated", "status": 200.0})
	assert.NotContains(t, lines[0], "limit")
	assertFields(t, lines[1], map[string]any{"outcome": "rate_limited", "status": 429.0, "limit": "search", "key_id": writerKey.ID})
	assert.NoError(t, keyValueIn(buf.String()))
}
