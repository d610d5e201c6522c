package workostest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/apikeyauth/apikey/workos/workostest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// post sends a request shaped as the workos client sends it.
func post(t *testing.T, url, secret, body string) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/api_keys/validations", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+secret)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "workostest-test")
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	return c.Do(req)
}

func readAll(t *testing.T, resp *http.Response) (int, string, error) {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func TestValidation(t *testing.T) {
	srv := workostest.NewServer(t)
	k := srv.AddKey("sk_live_alice_0123456789", "Alice", "org_1", "posts:read")
	assert.Equal(t, "api_key_0001", k.ID)

	resp, err := post(t, srv.URL, workostest.SecretKey, `{"value":"sk_live_alice_0123456789"}`)
	require.NoError(t, err)
	status, body, err := readAll(t, resp)
	require.NoError(t, err)
	assert.Equal(t, 200, status)
	assert.JSONEq(t, `{"api_key":{"object":"api_key","id":"api_key_0001","owner":{"type":"organization","id":"org_1"},
		"name":"Alice","obfuscated_value":"sk_...6789","last_used_at":null,"expires_at":null,"permissions":["posts:read"],
		"created_at":"2026-01-15T12:00:00.000Z","updated_at":"2026-01-15T12:00:00.000Z"}}`, body)

	require.True(t, srv.Revoke(k.ID))
	resp, err = post(t, srv.URL, workostest.SecretKey, `{"value":"sk_live_alice_0123456789"}`)
	require.NoError(t, err)
	_, body, _ = readAll(t, resp)
	assert.JSONEq(t, `{"api_key":null}`, body)

	resp, err = post(t, srv.URL, "sk_wrong", `{"value":"x"}`)
	require.NoError(t, err)
	status, _, _ = readAll(t, resp)
	assert.Equal(t, 401, status)

	assert.Equal(t, 3, srv.Validations())
	assert.Len(t, srv.Requests(), 3)
	got, ok := srv.Key(k.ID)
	require.True(t, ok)
	assert.True(t, got.Deleted)
}

func TestFaults(t *testing.T) {
	t.Run("queued faults come first, then FailAll, and nil lets one through", func(t *testing.T) {
		srv := workostest.NewServer(t)
		srv.Fail(workostest.Reply(503, `{"message":"down"}`, "Retry-After", "7"), nil)
		srv.FailAll(workostest.Reply(429, ``))
		var got []int
		for range 4 {
			resp, err := post(t, srv.URL, workostest.SecretKey, `{"value":"x"}`)
			require.NoError(t, err)
			status, _, _ := readAll(t, resp)
			got = append(got, status)
		}
		assert.Equal(t, []int{503, 200, 429, 429}, got)
		srv.FailAll(nil)
		resp, err := post(t, srv.URL, workostest.SecretKey, `{"value":"x"}`)
		require.NoError(t, err)
		status, _, _ := readAll(t, resp)
		assert.Equal(t, 200, status)
	})
	t.Run("truncated body", func(t *testing.T) {
		srv := workostest.NewServer(t)
		srv.Fail(workostest.Truncated(200, `{"api_key":null}`))
		resp, err := post(t, srv.URL, workostest.SecretKey, `{"value":"x"}`)
		require.NoError(t, err)
		_, body, err := readAll(t, resp)
		assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
		assert.Equal(t, `{"api_ke`, body)
	})
	t.Run("reset", func(t *testing.T) {
		srv := workostest.NewServer(t)
		srv.Fail(workostest.Reset())
		_, err := post(t, srv.URL, workostest.SecretKey, `{"value":"x"}`)
		require.Error(t, err)
		assert.True(t, errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF), "%v", err)
	})
	t.Run("hang-up", func(t *testing.T) {
		srv := workostest.NewServer(t)
		srv.Fail(workostest.HangUp())
		_, err := post(t, srv.URL, workostest.SecretKey, `{"value":"x"}`)
		assert.Error(t, err)
	})
	t.Run("refused", func(t *testing.T) {
		_, err := post(t, workostest.ClosedURL(), workostest.SecretKey, `{"value":"x"}`)
		assert.ErrorIs(t, err, syscall.ECONNREFUSED)
	})
	t.Run("oversized", func(t *testing.T) {
		srv := workostest.NewServer(t)
		srv.Fail(workostest.Oversized(1 << 20))
		resp, err := post(t, srv.URL, workostest.SecretKey, `{"value":"x"}`)
		require.NoError(t, err)
		_, body, err := readAll(t, resp)
		require.NoError(t, err)
		assert.Greater(t, len(body), 1<<20)
	})
	t.Run("slow body: the headers and half the body at once, the rest later", func(t *testing.T) {
		srv := workostest.NewServer(t)
		srv.Fail(workostest.SlowBody(200, `{"api_key":null}`, time.Minute))
		ctx, cancel := context.WithCancel(context.Background())
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/api_keys/validations", strings.NewReader(`{"value":"x"}`))
		require.NoError(t, err)
		resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
		require.NoError(t, err, "the headers came before the minute")
		half := make([]byte, 8)
		_, err = io.ReadFull(resp.Body, half)
		require.NoError(t, err)
		assert.Equal(t, `{"api_ke`, string(half))
		cancel() // the client gives up; the server stops waiting
		_, err = io.ReadAll(resp.Body)
		assert.Error(t, err)
		resp.Body.Close()
	})
	t.Run("slow, then the normal answer", func(t *testing.T) {
		srv := workostest.NewServer(t)
		srv.Fail(workostest.Slow(20 * time.Millisecond))
		start := time.Now()
		resp, err := post(t, srv.URL, workostest.SecretKey, `{"value":"x"}`)
		require.NoError(t, err)
		_, body, _ := readAll(t, resp)
		assert.GreaterOrEqual(t, time.Since(start), 20*time.Millisecond)
		assert.JSONEq(t, `{"api_key":null}`, body)
	})
}

// recordingTB is a testing.TB that records the failures reported to it.
type recordingTB struct {
	testing.TB
	mu     sync.Mutex
	errors []string
}

func (r *recordingTB) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recordingTB) failures() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.errors)
}

// TestRequestShapeChecks: a request shaped unlike the client's fails the
// test that runs the server, and gets WorkOS's answer to it.
func TestRequestShapeChecks(t *testing.T) {
	tests := []struct {
		name   string
		method string
		path   string
		body   string
		header map[string]string
		status int
		fails  string
	}{
		{"no Accept", "POST", "/api_keys/validations", `{"value":"x"}`, map[string]string{"Accept": ""}, 200, "Accept"},
		{"no User-Agent", "POST", "/api_keys/validations", `{"value":"x"}`, map[string]string{"User-Agent": ""}, 200, "User-Agent"},
		{"unknown field", "POST", "/api_keys/validations", `{"value":"x","extra":1}`, nil, 400, "bad request body"},
		{"a GET with a body", "GET", "/organizations/org_1/api_keys", `{}`, nil, 200, "has a body"},
		{"a list limit over 100", "GET", "/organizations/org_1/api_keys?limit=500", ``, nil, 422, "limit"},
		{"text POST", "POST", "/api_keys/validations", `{"value":"x"}`, map[string]string{"Content-Type": "text/plain"}, 200, "Content-Type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recordingTB{TB: t}
			srv := workostest.NewServer(rec)
			srv.AddKey("sk_live_x_0123456789", "x", "org_1")
			req, err := http.NewRequest(tt.method, srv.URL+tt.path, strings.NewReader(tt.body))
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer "+workostest.SecretKey)
			req.Header.Set("Accept", "application/json")
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("User-Agent", "workostest-test")
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
			resp, err := c.Do(req)
			require.NoError(t, err)
			status, _, _ := readAll(t, resp)
			assert.Equal(t, tt.status, status)
			require.Len(t, rec.failures(), 1)
			assert.Contains(t, rec.failures()[0], tt.fails)
		})
	}
}

func TestUpdateKeyTimestamps(t *testing.T) {
	srv := workostest.NewServer(t)
	k := srv.AddKey("sk_live_bob_0123456789", "Bob", "org_1")
	used := time.Date(2026, 3, 1, 8, 30, 0, 123456789, time.UTC)
	require.True(t, srv.UpdateKey(k.ID, func(k *workostest.Key) {
		k.LastUsedAt = used
		k.CreatedAt = used.Add(-time.Hour)
		k.ID = "changed"
	}))
	assert.False(t, srv.UpdateKey("api_key_9999", func(*workostest.Key) { t.Error("called for an unknown key") }))
	resp, err := post(t, srv.URL, workostest.SecretKey, `{"value":"sk_live_bob_0123456789"}`)
	require.NoError(t, err)
	_, body, err := readAll(t, resp)
	require.NoError(t, err)
	var got struct {
		APIKey map[string]any `json:"api_key"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &got))
	assert.Equal(t, k.ID, got.APIKey["id"], "the ID stays")
	assert.Equal(t, "2026-03-01T08:30:00.123Z", got.APIKey["last_used_at"])
	assert.Equal(t, "2026-03-01T07:30:00.123Z", got.APIKey["created_at"])
	assert.Equal(t, "2026-01-15T12:00:00.000Z", got.APIKey["updated_at"])
}

// TestNotFoundBodies pins the two 404s a client must tell apart: an
// object WorkOS does not know, whose message names it, and a path that is
// no endpoint, answered with a bare "Not Found" as WorkOS's emulator does.
func TestNotFoundBodies(t *testing.T) {
	s := workostest.NewServer(t)
	for _, tt := range []struct {
		method, path, want string
	}{
		{http.MethodDelete, "/api_keys/api_key_nope", `{"message":"ApiKey not found","code":"not_found"}`},
		{http.MethodPost, "/api_keys/api_key_nope/expire", `{"message":"API Key not found: 'api_key_nope'."}`},
		{http.MethodGet, "/organizations/org_nope/api_keys", `{"message":"Organization not found: 'org_nope'."}`},
		{http.MethodPost, "/organizations/org_nope/api_keys", `{"message":"Organization not found: 'org_nope'."}`},
		{http.MethodDelete, "/v1/api_keys/api_key_nope", `{"message":"Not Found","code":"not_found"}`},
		{http.MethodGet, "/v1/organizations/org_nope/api_keys", `{"message":"Not Found","code":"not_found"}`},
		{http.MethodGet, "/api_keys/api_key_nope", `{"message":"Not Found","code":"not_found"}`},
	} {
		var body io.Reader
		if tt.method == http.MethodPost {
			body = strings.NewReader(`{"name":"n"}`)
			if strings.HasSuffix(tt.path, "/expire") {
				body = strings.NewReader(`{}`)
			}
		}
		req, err := http.NewRequest(tt.method, s.URL+tt.path, body)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+workostest.SecretKey)
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", "workostest-test")
		c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := c.Do(req)
		require.NoError(t, err)
		status, got, err := readAll(t, resp)
		require.NoError(t, err)
		assert.Equal(t, http.StatusNotFound, status, tt.path)
		assert.JSONEq(t, tt.want, got, "%s %s", tt.method, tt.path)
	}
}
