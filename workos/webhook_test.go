package workos

import (
	"bytes"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apikeyauth/apikey"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const webhookSecret = "whsec_test_0123456789abcdefABCDEF"

// revokedEvent is an api_key.revoked delivery as the emulator sends it:
// no "object", no "context".
const revokedEvent = `{"id":"evt_01J","event":"api_key.revoked","data":{"object":"api_key","id":"api_key_0001","owner":{"type":"organization","id":"org_1"},"name":"Production","obfuscated_value":"sk_...0001","last_used_at":null,"expires_at":null,"permissions":["posts:read"],"created_at":"2026-01-15T12:00:00.000Z","updated_at":"2026-01-15T12:00:00.000Z"},"created_at":"2026-01-15T12:00:00.000Z"}`

func header(body, secret string, t time.Time, sep string) string {
	ts := strconv.FormatInt(t.UnixMilli(), 10)
	return "t=" + ts + sep + "v1=" + hex.EncodeToString(mac(secret, ts, []byte(body)))
}

func TestVerifySignature(t *testing.T) {
	now := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
	body := revokedEvent
	good := header(body, webhookSecret, now, ", ")
	ts := strconv.FormatInt(now.UnixMilli(), 10)
	tests := []struct {
		name    string
		header  string
		body    string
		wantErr error
	}{
		{"valid, with a space", good, body, nil},
		{"valid, without a space", header(body, webhookSecret, now, ","), body, nil},
		{"valid, made by Sign", Sign([]byte(body), webhookSecret, now), body, nil},
		{"unknown fields tolerated", "t=" + ts + ", v0=abc, v1=" + hex.EncodeToString(mac(webhookSecret, ts, []byte(body))) + ", x=y", body, nil},
		{"upper-case hex", strings.ToUpper(good[:0]) + "t=" + ts + ", v1=" + strings.ToUpper(hex.EncodeToString(mac(webhookSecret, ts, []byte(body)))), body, nil},
		{"second v1 matches", "t=" + ts + ", v1=" + strings.Repeat("00", 32) + ", v1=" + hex.EncodeToString(mac(webhookSecret, ts, []byte(body))), body, nil},
		{"2m59s old", header(body, webhookSecret, now.Add(-179*time.Second), ", "), body, nil},
		{"2m59s ahead", header(body, webhookSecret, now.Add(179*time.Second), ", "), body, nil},
		{"3m01s old", header(body, webhookSecret, now.Add(-181*time.Second), ", "), body, ErrStaleSignature},
		{"3m01s ahead", header(body, webhookSecret, now.Add(181*time.Second), ", "), body, ErrStaleSignature},
		{"t in seconds", "t=" + strconv.FormatInt(now.Unix(), 10) + ", v1=" + hex.EncodeToString(mac(webhookSecret, strconv.FormatInt(now.Unix(), 10), []byte(body))), body, ErrStaleSignature},
		{"wrong secret", header(body, "whsec_other", now, ", "), body, ErrInvalidSignature},
		{"body changed", good, strings.Replace(body, "api_key_0001", "api_key_0002", 1), ErrInvalidSignature},
		{"body with a trailing newline", good, body + "\n", ErrInvalidSignature},
		{"empty header", "", body, ErrInvalidSignature},
		{"no t", "v1=" + hex.EncodeToString(mac(webhookSecret, ts, []byte(body))), body, ErrInvalidSignature},
		{"no v1", "t=" + ts, body, ErrInvalidSignature},
		{"two t", "t=" + ts + ", " + good, body, ErrInvalidSignature},
		{"t not a number", strings.Replace(good, "t="+ts, "t=abc", 1), body, ErrInvalidSignature},
		{"negative t", strings.Replace(good, "t="+ts, "t=-"+ts, 1), body, ErrInvalidSignature},
		{"short v1", "t=" + ts + ", v1=abcd", body, ErrInvalidSignature},
		{"v1 not hex", "t=" + ts + ", v1=" + strings.Repeat("zz", 32), body, ErrInvalidSignature},
		{"field without =", good + ", junk", body, ErrInvalidSignature},
		{"huge header", good + ", x=" + strings.Repeat("a", 5000), body, ErrInvalidSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := VerifySignature(tt.header, []byte(tt.body), webhookSecret, now, 0)
			if tt.wantErr == nil {
				assert.NoError(t, err)
				return
			}
			assert.ErrorIs(t, err, tt.wantErr)
			assert.NotContains(t, err.Error(), webhookSecret)
		})
	}
	t.Run("empty secret never verifies", func(t *testing.T) {
		assert.ErrorIs(t, VerifySignature(header(body, "", now, ", "), []byte(body), "", now, 0), ErrInvalidSignature)
	})
	t.Run("custom tolerance", func(t *testing.T) {
		h := header(body, webhookSecret, now.Add(-10*time.Second), ", ")
		assert.ErrorIs(t, VerifySignature(h, []byte(body), webhookSecret, now, 5*time.Second), ErrStaleSignature)
	})
}

func TestWebhookHandler(t *testing.T) {
	now := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
	setup := func(t *testing.T, opts ...WebhookOption) (*WebhookHandler, *recordingInvalidator, *bytes.Buffer) {
		inv := &recordingInvalidator{}
		var logs bytes.Buffer
		opts = append([]WebhookOption{WithWebhookClock(func() time.Time { return now }),
			WithWebhookLogger(slog.New(slog.NewTextHandler(&logs, nil)))}, opts...)
		h, err := NewWebhookHandler(webhookSecret, inv, opts...)
		require.NoError(t, err)
		return h, inv, &logs
	}
	post := func(h http.Handler, body, sig string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/webhooks/workos", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		if sig != "" {
			r.Header.Set(SignatureHeader, sig)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	event := func(typ, id string) string {
		return `{"id":"evt_1","event":"` + typ + `","data":{"id":"` + id + `"},"created_at":"2026-01-15T12:00:00.000Z"}`
	}
	tests := []struct {
		name       string
		body       string
		sig        func(body string) string
		wantStatus int
		wantIDs    []string
	}{
		{"revoked", revokedEvent, func(b string) string { return header(b, webhookSecret, now, ", ") }, 200, []string{"api_key_0001"}},
		{"updated", event("api_key.updated", "api_key_7"), func(b string) string { return header(b, webhookSecret, now, ",") }, 200, []string{"api_key_7"}},
		{"with object and context", `{"object":"event","id":"event_1","event":"api_key.revoked","data":{"id":"api_key_8"},"context":{"x":1},"created_at":"x"}`, func(b string) string { return header(b, webhookSecret, now, ", ") }, 200, []string{"api_key_8"}},
		{"created is ignored", event("api_key.created", "api_key_9"), func(b string) string { return header(b, webhookSecret, now, ", ") }, 200, nil},
		{"other events are ignored", event("user.created", "user_1"), func(b string) string { return header(b, webhookSecret, now, ", ") }, 200, nil},
		{"bad signature changes nothing", revokedEvent, func(b string) string { return header(b, "whsec_wrong", now, ", ") }, 400, nil},
		{"stale signature changes nothing", revokedEvent, func(b string) string { return header(b, webhookSecret, now.Add(-time.Hour), ", ") }, 400, nil},
		{"future signature changes nothing", revokedEvent, func(b string) string { return header(b, webhookSecret, now.Add(time.Hour), ", ") }, 400, nil},
		{"no signature", revokedEvent, func(string) string { return "" }, 400, nil},
		{"signed garbage", `not json`, func(b string) string { return header(b, webhookSecret, now, ", ") }, 400, nil},
		{"signed event without data.ID", `{"event":"api_key.revoked","data":{}}`, func(b string) string { return header(b, webhookSecret, now, ", ") }, 400, nil},
		{"signed event with no type", `{"data":{"id":"api_key_1"}}`, func(b string) string { return header(b, webhookSecret, now, ", ") }, 400, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, inv, logs := setup(t)
			w := post(h, tt.body, tt.sig(tt.body))
			assert.Equal(t, tt.wantStatus, w.Code, w.Body.String())
			assert.Equal(t, tt.wantIDs, inv.all())
			assert.NotContains(t, logs.String(), webhookSecret)
		})
	}
	t.Run("redelivery is idempotent", func(t *testing.T) {
		h, inv, _ := setup(t)
		sig := header(revokedEvent, webhookSecret, now.Add(-7*time.Second), ", ")
		for range 4 {
			assert.Equal(t, 200, post(h, revokedEvent, sig).Code)
		}
		assert.Equal(t, []string{"api_key_0001", "api_key_0001", "api_key_0001", "api_key_0001"}, inv.all())
	})
	t.Run("only POST", func(t *testing.T) {
		h, inv, _ := setup(t)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/webhooks/workos", nil))
		assert.Equal(t, http.StatusMethodNotAllowed, w.Code)
		assert.Empty(t, inv.all())
	})
	t.Run("oversized body", func(t *testing.T) {
		h, inv, _ := setup(t, WithWebhookMaxBody(100))
		body := event("api_key.revoked", strings.Repeat("x", 200))
		assert.Equal(t, http.StatusRequestEntityTooLarge, post(h, body, header(body, webhookSecret, now, ", ")).Code)
		assert.Empty(t, inv.all())
	})
	t.Run("event hook", func(t *testing.T) {
		var seen []string
		h, _, _ := setup(t, WithWebhookEventHook(func(e Event) { seen = append(seen, e.Event) }))
		body := event("user.created", "user_1")
		post(h, body, header(body, webhookSecret, now, ", "))
		assert.Equal(t, []string{"user.created"}, seen)
	})
	t.Run("constructor checks", func(t *testing.T) {
		for _, tt := range []struct {
			secret string
			inv    Invalidator
			opts   []WebhookOption
		}{
			{"", &recordingInvalidator{}, nil},
			{webhookSecret, nil, nil},
			{webhookSecret, (*apikey.Cache)(nil), nil},
			{webhookSecret, &recordingInvalidator{}, []WebhookOption{WithWebhookClock(nil)}},
			{webhookSecret, &recordingInvalidator{}, []WebhookOption{WithWebhookTolerance(0)}},
			{webhookSecret, &recordingInvalidator{}, []WebhookOption{WithWebhookMaxBody(0)}},
			{webhookSecret, &recordingInvalidator{}, []WebhookOption{WithWebhookLogger(nil)}},
			{webhookSecret, &recordingInvalidator{}, []WebhookOption{WithWebhookTolerance(-time.Second), WithWebhookMaxBody(10)}},
		} {
			h, err := NewWebhookHandler(tt.secret, tt.inv, tt.opts...)
			assert.Nil(t, h)
			assert.ErrorIs(t, err, apikey.ErrMisconfigured)
			assert.ErrorIs(t, err, ErrInvalidArgument)
		}
	})
}
