package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apikeyauth/apikey/workos"
	"github.com/apikeyauth/apikey/workos/workostest"
)

// TestRevokeRoute: POST /keys/{id}/revoke deletes the key in WorkOS and
// answers 204 once every replica is bound to refuse it: alone, or in a
// fleet, where both replicas then refuse it. Without keys:revoke it is
// forbidden; an unknown key is 404.
func TestRevokeRoute(t *testing.T) {
	for _, fleet := range []bool{false, true} {
		t.Run(fmt.Sprintf("fleet=%v", fleet), func(t *testing.T) {
			srv := workostest.NewServer(t)
			admin := srv.AddKey("sk_test_revoke_admin", "admin", "org_1", "keys:revoke")
			victim := srv.AddKey("sk_test_revoke_victim", "victim", "org_1", "posts:read")
			cfg := config{apiKey: workostest.SecretKey, baseURL: srv.URL}
			n := 1
			if fleet {
				cfg.redisURL, cfg.redisPrefix = testRedisURL(t)
				n = 2
			}
			var replicas []*app
			for range n {
				a, err := newRouter(cfg, slog.New(slog.DiscardHandler))
				require.NoError(t, err)
				t.Cleanup(func() { require.NoError(t, a.Close()) })
				replicas = append(replicas, a)
			}
			for _, a := range replicas {
				require.Equal(t, http.StatusOK, call(a, http.MethodGet, "/me", victim.Value))
			}
			assert.Equal(t, http.StatusForbidden, call(replicas[0], http.MethodPost, "/keys/"+admin.ID+"/revoke", victim.Value))
			assert.Equal(t, http.StatusNoContent, call(replicas[0], http.MethodPost, "/keys/"+victim.ID+"/revoke", admin.Value))
			k, _ := srv.Key(victim.ID)
			assert.True(t, k.Deleted, "deleted in WorkOS")
			for i, a := range replicas {
				assert.Eventually(t, func() bool { return call(a, http.MethodGet, "/me", victim.Value) == http.StatusUnauthorized },
					5*time.Second, time.Millisecond, "replica %d", i)
			}
			assert.Equal(t, http.StatusNotFound, call(replicas[0], http.MethodPost, "/keys/key_unknown/revoke", admin.Value))
		})
	}
}

// TestRevocationNotAcknowledged: with a fleet whose Redis is stopped, a
// revocation is not acknowledged, by the webhook (503, so that WorkOS
// delivers it again) nor by the revoke route (503); the replica that got
// it refuses the key all the same.
func TestRevocationNotAcknowledged(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	stopped := ln.Addr().String()
	require.NoError(t, ln.Close())
	srv := workostest.NewServer(t)
	admin := srv.AddKey("sk_test_unacked_admin", "admin", "org_1", "keys:revoke")
	victim := srv.AddKey("sk_test_unacked_victim", "victim", "org_1", "posts:read")
	other := srv.AddKey("sk_test_unacked_other", "other", "org_1", "posts:read")
	a, err := newRouter(config{apiKey: workostest.SecretKey, baseURL: srv.URL, webhookSecret: webhookSecret,
		redisURL: "redis://" + stopped + "/0", fleetSecret: strings.Repeat("f", 32)}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	defer func() { require.NoError(t, a.Close()) }()
	for _, k := range []workostest.Key{victim, other} {
		require.Equal(t, http.StatusOK, call(a, http.MethodGet, "/me", k.Value))
	}

	require.True(t, srv.Revoke(victim.ID))
	body := fmt.Sprintf(`{"id":"evt_1","event":"api_key.revoked","data":{"id":%q},"created_at":"2026-01-15T12:00:00.000Z"}`, victim.ID)
	r := httptest.NewRequest(http.MethodPost, "/webhooks/workos", strings.NewReader(body))
	r.Header.Set(workos.SignatureHeader, workos.Sign([]byte(body), webhookSecret, time.Now()))
	w := httptest.NewRecorder()
	a.ServeHTTP(w, r)
	assert.Equal(t, http.StatusServiceUnavailable, w.Code, "WorkOS delivers it again")
	assert.Equal(t, http.StatusUnauthorized, call(a, http.MethodGet, "/me", victim.Value), "refused here all the same")

	assert.Equal(t, http.StatusServiceUnavailable, call(a, http.MethodPost, "/keys/"+other.ID+"/revoke", admin.Value))
	assert.Equal(t, http.StatusUnauthorized, call(a, http.MethodGet, "/me", other.Value), "refused here all the same")
}

// call sends a request with key to a and returns the status.
func call(a *app, method, path, key string) int {
	r := httptest.NewRequest(method, path, nil)
	r.Header.Set("Authorization", "Bearer "+key)
	w := httptest.NewRecorder()
	a.ServeHTTP(w, r)
	return w.Code
}
