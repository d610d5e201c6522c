package workos

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apikeyauth/apikey"
)

type requestMark struct{}

// revoker is a Revoker that fails while down is set, recording what it was
// given through each method.
type revoker struct {
	mu                  sync.Mutex
	down                bool
	invalidated, revoks []apikey.Invalidation
	ctxs                []context.Context
}

func (r *revoker) Invalidate(inv apikey.Invalidation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.invalidated = append(r.invalidated, inv)
}

func (r *revoker) Revoke(ctx context.Context, inv apikey.Invalidation) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.revoks = append(r.revoks, inv)
	r.ctxs = append(r.ctxs, ctx)
	if r.down {
		return errors.New("redis: i/o timeout")
	}
	return nil
}

// TestWebhookWithRevoker: with a Revoker, a key event is answered 200 only
// once Revoke acknowledged it, and 503 otherwise, so that WorkOS delivers
// it again; the redelivery, once the revoker is back, is answered 200. The
// event hook sees only acknowledged events. Other events need no Revoke.
func TestWebhookWithRevoker(t *testing.T) {
	now := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
	rev := &revoker{down: true}
	var logs bytes.Buffer
	var seen []string
	h, err := NewWebhookHandler(webhookSecret, rev, WithWebhookClock(func() time.Time { return now }),
		WithWebhookLogger(slog.New(slog.NewTextHandler(&logs, nil))), WithWebhookEventHook(func(e Event) { seen = append(seen, e.ID) }))
	require.NoError(t, err)
	deliver := func(body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/webhooks/workos", strings.NewReader(body))
		r = r.WithContext(context.WithValue(r.Context(), requestMark{}, body))
		r.Header.Set(SignatureHeader, header(body, webhookSecret, now, ", "))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}

	w := deliver(revokedEvent)
	assert.Equal(t, http.StatusServiceUnavailable, w.Code, "not acknowledged")
	assert.Empty(t, seen, "the event hook waits for an acknowledged event")
	assert.Contains(t, logs.String(), "not acknowledged")

	rev.mu.Lock()
	rev.down = false
	rev.mu.Unlock()
	assert.Equal(t, http.StatusOK, deliver(revokedEvent).Code, "the redelivery")
	assert.Equal(t, []string{"evt_01J"}, seen)

	other := `{"id":"evt_2","event":"user.created","data":{"id":"user_1"},"created_at":"2026-01-15T12:00:00.000Z"}`
	rev.mu.Lock()
	rev.down = true
	rev.mu.Unlock()
	assert.Equal(t, http.StatusOK, deliver(other).Code, "no key, nothing to acknowledge")

	rev.mu.Lock()
	defer rev.mu.Unlock()
	want := apikey.Invalidation{ID: "api_key_0001", Origin: apikey.OriginWebhook}
	assert.Equal(t, []apikey.Invalidation{want, want}, rev.revoks)
	assert.Empty(t, rev.invalidated, "Revoke applies the invalidation itself")
	for _, ctx := range rev.ctxs {
		assert.Equal(t, revokedEvent, ctx.Value(requestMark{}), "Revoke waits within the request's context")
	}
}
