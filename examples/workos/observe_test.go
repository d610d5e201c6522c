package main

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMetricsAndAudit sends requests to the example and scrapes its metrics
// endpoint over HTTP; with -audit, each decided request is one JSON line.
func TestMetricsAndAudit(t *testing.T) {
	srv := httptest.NewServer(&fakeWorkOS{})
	defer srv.Close()
	var audit bytes.Buffer
	h, err := newRouter(config{apiKey: secret, baseURL: srv.URL, auditTo: &audit}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	defer h.Close()

	send := func(method, path, value string) int {
		r := httptest.NewRequest(method, path, strings.NewReader(`{"title":"t"}`))
		if value != "" {
			r.Header.Set("Authorization", "Bearer "+value)
		}
		r.Header.Set("X-Request-ID", "req-"+method)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	require.Equal(t, 200, send("GET", "/me", "sk_demo_reader"))
	require.Equal(t, 200, send("GET", "/me", "sk_demo_reader"))
	require.Equal(t, 403, send("POST", "/posts", "sk_demo_reader"))
	require.Equal(t, 401, send("GET", "/me", "sk_demo_unknown_0000"))
	require.Equal(t, 401, send("GET", "/me", ""))
	require.Equal(t, 200, send("GET", "/healthz", ""))

	metrics := httptest.NewServer(h.metrics)
	defer metrics.Close()
	resp, err := http.Get(metrics.URL + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	text := string(body)
	for _, want := range []string{
		`apikey_requests_total{outcome="authenticated"} 2`, // the third was refused by a guard: counted as forbidden only
		`apikey_requests_total{outcome="forbidden"} 1`,
		`apikey_requests_total{outcome="invalid"} 1`,
		`apikey_requests_total{outcome="missing"} 1`,
		`apikey_validations_total{result="valid"} 1`,
		`apikey_validations_total{result="invalid"} 1`,
		`apikey_validation_duration_seconds_count 2`,
		`apikey_cache_hits_total{cache="positive"} 2`,
		`apikey_cache_misses_total 2`,
		`apikey_cache_entries{cache="positive"} 1`,
		`apikey_cache_entries{cache="negative"} 1`,
		`go_goroutines`,
	} {
		assert.Contains(t, text, want)
	}

	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(audit.String()), "\n") {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m), l)
		lines = append(lines, m)
	}
	require.Len(t, lines, 5, "none for /healthz")
	assert.Equal(t, "forbidden", lines[2]["outcome"])
	assert.EqualValues(t, 403, lines[2]["status"])
	assert.Equal(t, "/posts", lines[2]["route"])
	assert.Equal(t, "key_demo_reader", lines[2]["key_id"])
	assert.Equal(t, "req-POST", lines[2]["request_id"])
	assert.Equal(t, "invalid", lines[3]["outcome"])
	assert.NotContains(t, audit.String(), "sk_demo_", "no key value in the audit")
}
