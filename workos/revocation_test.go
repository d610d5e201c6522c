package workos

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apikeyauth/apikey"
	"github.com/apikeyauth/apikey/workos/workostest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// TestWebhookRevocationBeatsTheCache: a key revoked in WorkOS keeps working
// from the cache until its TTL, but a signed api_key.revoked webhook makes
// the very next request fail.
func TestWebhookRevocationBeatsTheCache(t *testing.T) {
	clock := &fakeClock{t: time.Now()}
	f := workostest.NewServer(t)
	const value = "sk_live_revoke_me_000000000001"
	key := f.AddKey(value, "Production", "org_1", "posts:read")

	client := newClient(t, f)
	m, err := apikey.New(client, apikey.WithClock(clock.now), apikey.WithCacheTTL(time.Hour))
	require.NoError(t, err)
	client.SetInvalidator(m.Cache())
	hooks, err := NewWebhookHandler(webhookSecret, m.Cache(), WithWebhookClock(clock.now))
	require.NoError(t, err)

	mux := http.NewServeMux()
	mux.Handle("POST /webhooks/workos", hooks)
	mux.Handle("GET /me", m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k, _ := apikey.FromContext(r.Context())
		_, _ = w.Write([]byte(k.ID))
	})))
	me := func() int {
		r := httptest.NewRequest(http.MethodGet, "/me", nil)
		r.Header.Set("Authorization", "Bearer "+value)
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		return w.Code
	}

	assert.Equal(t, 200, me())
	assert.Equal(t, 200, me())
	assert.EqualValues(t, 1, f.Validations(), "the second request was a cache hit")

	f.Revoke(key.ID) // WorkOS now answers null for it
	assert.Equal(t, 200, me(), "still cached, within its TTL")
	assert.EqualValues(t, 1, f.Validations())

	body := strings.ReplaceAll(revokedEvent, "api_key_0001", key.ID)
	r := httptest.NewRequest(http.MethodPost, "/webhooks/workos", strings.NewReader(body))
	r.Header.Set(SignatureHeader, Sign([]byte(body), webhookSecret, clock.now()))
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	require.Equal(t, 200, w.Code)

	assert.Equal(t, http.StatusUnauthorized, me(), "revoked on the very next request")
	assert.EqualValues(t, 2, f.Validations(), "the cache asked WorkOS again")
}

// TestDeleteThroughClientRevokesAtOnce: deleting through the client
// invalidates the connected cache.
func TestDeleteThroughClientRevokesAtOnce(t *testing.T) {
	f := workostest.NewServer(t)
	const value = "sk_live_delete_me_000000000001"
	key := f.AddKey(value, "Production", "org_1")
	client := newClient(t, f)
	m, err := apikey.New(client, apikey.WithCacheTTL(time.Hour))
	require.NoError(t, err)
	client.SetInvalidator(m.Cache())

	_, err = m.Cache().Validate(context.Background(), value)
	require.NoError(t, err)
	_, err = m.Cache().Validate(context.Background(), value)
	require.NoError(t, err)
	assert.EqualValues(t, 1, f.Validations())

	require.NoError(t, client.DeleteKey(context.Background(), key.ID))
	_, err = m.Cache().Validate(context.Background(), value)
	assert.ErrorIs(t, err, apikey.ErrInvalidKey)
	assert.EqualValues(t, 2, f.Validations())
}

// TestMiddlewareOutcomes: WorkOS's answers become the right statuses.
func TestMiddlewareOutcomes(t *testing.T) {
	tests := []struct {
		name   string
		fault  workostest.Fault
		status int
	}{
		{"valid", nil, 200},
		{"null", workostest.Reply(200, fixtureValidateNull), 401},
		{"secret rejected", workostest.Reply(401, `{"message":"Unauthorized"}`), 500},
		{"rate limited", workostest.Reply(429, ``, "Retry-After", "9"), 503},
		{"down", workostest.Reply(503, ``), 200}, // retried once, then valid
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := workostest.NewServer(t)
			f.AddKey("sk_live_outcomes_0000000000001", "k", "org_1")
			if tt.fault != nil {
				f.Fail(tt.fault)
			}
			m, err := apikey.New(newClient(t, f))
			require.NoError(t, err)
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("Authorization", "Bearer sk_live_outcomes_0000000000001")
			w := httptest.NewRecorder()
			m.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})).ServeHTTP(w, r)
			assert.Equal(t, tt.status, w.Code)
			if tt.status == 503 {
				assert.Equal(t, "9", w.Header().Get("Retry-After"))
			}
		})
	}
}

func (c *fakeClock) advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }
