package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apikeyauth/apikey/workos"
	"github.com/apikeyauth/apikey/workos/workostest"
)

// testRedisURL returns a REDIS_URL for the test Redis and a prefix of the
// test's own, whose keys are deleted at the end. It skips the test when
// Redis does not answer, or fails it when APIKEY_TEST_REQUIRE_SERVICES=1.
func testRedisURL(t *testing.T) (string, string) {
	t.Helper()
	addr := os.Getenv("APIKEY_TEST_REDIS")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	admin := redis.NewClient(&redis.Options{Addr: addr})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := admin.Ping(ctx).Err(); err != nil {
		_ = admin.Close()
		msg := fmt.Sprintf("no Redis answers at %s (set APIKEY_TEST_REDIS): %v", addr, err)
		if os.Getenv("APIKEY_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	prefix := fmt.Sprintf("apikeytest-example-%d", time.Now().UnixNano())
	t.Cleanup(func() {
		defer admin.Close()
		keys, err := admin.Keys(context.Background(), "{"+prefix+"}:*").Result()
		require.NoError(t, err)
		if len(keys) > 0 {
			require.NoError(t, admin.Del(context.Background(), keys...).Err())
		}
	})
	return "redis://" + addr + "/0", prefix
}

// TestFleet runs two replicas on one Redis: they share one validation, and
// a webhook to one of them revokes the key on both.
func TestFleet(t *testing.T) {
	redisURL, prefix := testRedisURL(t)
	srv := workostest.NewServer(t)
	key := srv.AddKey("sk_test_fleet_reader", "reader", "org_1", "posts:read")
	var logs syncBuffer // the fleet logs from its own goroutines
	cfg := config{apiKey: workostest.SecretKey, baseURL: srv.URL, webhookSecret: webhookSecret,
		redisURL: redisURL, redisPrefix: prefix, fleetSecret: strings.Repeat("f", 32)}
	var replicas []*app
	for range 2 {
		a, err := newRouter(cfg, slog.New(slog.NewTextHandler(&logs, nil)))
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, a.Close()) })
		replicas = append(replicas, a)
	}
	me := func(a *app) int {
		r := httptest.NewRequest(http.MethodGet, "/me", nil)
		r.Header.Set("Authorization", "Bearer "+key.Value)
		w := httptest.NewRecorder()
		a.ServeHTTP(w, r)
		return w.Code
	}
	for _, a := range replicas {
		require.Equal(t, http.StatusOK, me(a))
	}
	assert.Equal(t, 1, srv.Validations(), "the second replica found the key in the shared cache")
	// A replica keeps what it read from Redis for its local TTL: together
	// they bound how long a key revoked without a webhook is served.
	admin := redis.NewClient(&redis.Options{Addr: strings.TrimSuffix(strings.TrimPrefix(redisURL, "redis://"), "/0")})
	defer admin.Close()
	entries, err := admin.Keys(t.Context(), "{"+prefix+"}:key:*").Result()
	require.NoError(t, err)
	require.Len(t, entries, 1)
	ttl, err := admin.PTTL(t.Context(), entries[0]).Result()
	require.NoError(t, err)
	assert.LessOrEqual(t, ttl+fleetCacheTTL, revocationBound, "shared TTL + local TTL within the bound")
	assert.NotContains(t, logs.String(), "REDIS_FLEET_SECRET is not set")

	require.True(t, srv.Revoke(key.ID))
	body := fmt.Sprintf(`{"id":"evt_1","event":"api_key.revoked","data":{"id":%q},"created_at":"2026-01-15T12:00:00.000Z"}`, key.ID)
	r := httptest.NewRequest(http.MethodPost, "/webhooks/workos", strings.NewReader(body))
	r.Header.Set(workos.SignatureHeader, workos.Sign([]byte(body), webhookSecret, time.Now()))
	w := httptest.NewRecorder()
	replicas[0].ServeHTTP(w, r)
	require.Equal(t, http.StatusOK, w.Code)

	assert.Equal(t, http.StatusUnauthorized, me(replicas[0]), "refused where the webhook landed")
	assert.Eventually(t, func() bool { return me(replicas[1]) == http.StatusUnauthorized }, 5*time.Second, time.Millisecond,
		"refused by the other replica")
	assert.NotContains(t, logs.String(), key.Value)
	assert.NotContains(t, logs.String(), workostest.SecretKey)
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestFleetShortSecret refuses a REDIS_FLEET_SECRET too short to sign
// with, without quoting it.
func TestFleetShortSecret(t *testing.T) {
	redisURL, prefix := testRedisURL(t)
	_, err := newRouter(config{apiKey: secret, redisURL: redisURL, redisPrefix: prefix, fleetSecret: "tooshort"},
		slog.New(slog.DiscardHandler))
	require.Error(t, err)
	assert.ErrorContains(t, err, "at least 32 bytes")
	assert.NotContains(t, err.Error(), "tooshort")
}

func TestFleetBadURL(t *testing.T) {
	_, err := newRouter(config{apiKey: secret, redisURL: "redis://user:hunter2@[::1"}, slog.New(slog.DiscardHandler))
	require.Error(t, err)
	assert.ErrorContains(t, err, "REDIS_URL")
	assert.NotContains(t, err.Error(), "hunter2")
}
