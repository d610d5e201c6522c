package workos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/apikeyauth/apikey"
	"github.com/apikeyauth/apikey/internal/nilcheck"
)

// Event is a WorkOS webhook event. Only event and data are relied on;
// object and context are not required.
type Event struct {
	ID        string          `json:"id"`
	Event     string          `json:"event"`
	Data      json.RawMessage `json:"data"`
	CreatedAt string          `json:"created_at"`
}

// WebhookHandler receives WorkOS webhooks: it verifies their signature and
// invalidates the key of every api_key.revoked and api_key.updated event.
// Build one with NewWebhookHandler; it is safe for concurrent use.
//
// It answers 405 to anything but POST, 413 to a body over the limit, 400 to
// a missing, malformed, wrong or stale signature (changing nothing) and to
// a signed body that is not an event, and 200 otherwise: other event types
// are acknowledged and ignored. When the invalidator is also a Revoker
// (such as *redisfleet.Fleet), a key event is acknowledged only once
// Revoke is: when it fails, the handler answers 503 and WorkOS delivers
// the event again later. Handling is idempotent, so WorkOS's
// redeliveries, which repeat the timestamp and signature, are harmless.
// The zero value is not usable. Printing or logging a handler, by value or
// by pointer, never shows the webhook secret.
type WebhookHandler struct {
	webhookSettings
	// secret is behind a pointer so that printing a copy of the handler
	// shows an address, not the secret.
	secret *secret
	inv    Invalidator
	rev    Revoker // inv, when it is one
}

// Revoker is an Invalidator that can tell when an invalidation is
// acknowledged: Revoke applies inv, like Invalidate, and returns nil only
// once every process that serves keys is bound to learn it (for
// *redisfleet.Fleet: once Redis holds it), within a bounded wait, or an
// error otherwise. It must be safe for concurrent use.
type Revoker interface {
	Invalidator
	Revoke(ctx context.Context, inv apikey.Invalidation) error
}

// webhookSettings are what WebhookOptions fill; NewWebhookHandler checks
// them all.
type webhookSettings struct {
	now       func() time.Time
	tolerance time.Duration
	maxBody   int64
	logger    *slog.Logger
	onEvent   func(Event)
}

// A WebhookOption configures NewWebhookHandler. Options only record a
// setting, the last one given for each counting; NewWebhookHandler then
// checks them all and reports the first problem.
type WebhookOption func(*webhookSettings)

// WithWebhookClock sets the clock the tolerance is measured against, not
// nil: for tests of a webhook route. Default: time.Now.
func WithWebhookClock(now func() time.Time) WebhookOption {
	return func(s *webhookSettings) { s.now = now }
}

// WithWebhookTolerance sets how far a timestamp may be from now, either
// way; it must be positive. Default: 3m (DefaultWebhookTolerance).
func WithWebhookTolerance(d time.Duration) WebhookOption {
	return func(s *webhookSettings) { s.tolerance = d }
}

// WithWebhookMaxBody sets the largest body read, in bytes; it must be
// positive. Default: 1 MiB (DefaultWebhookMaxBody).
func WithWebhookMaxBody(n int64) WebhookOption {
	return func(s *webhookSettings) { s.maxBody = n }
}

// WithWebhookLogger sets where rejected deliveries and invalidations are
// logged, without secrets or bodies; not nil. Default: slog.Default().
func WithWebhookLogger(l *slog.Logger) WebhookOption {
	return func(s *webhookSettings) { s.logger = l }
}

// WithWebhookEventHook calls f with every verified event, after any invalidation,
// before the handler answers. f must be quick and safe for concurrent use.
// Default: none.
func WithWebhookEventHook(f func(Event)) WebhookOption {
	return func(s *webhookSettings) { s.onEvent = f }
}

// NewWebhookHandler returns a handler that verifies events with secretKey
// (the webhook endpoint's secret from the WorkOS dashboard) and invalidates
// revoked and updated keys in inv: the middleware's Cache for one process,
// or, for replicas that share invalidations, what shares them, such as a
// *redisfleet.Fleet, which is a Revoker (see WebhookHandler). An
// empty secret, a nil inv or an invalid option is an error wrapping
// apikey.ErrMisconfigured and ErrInvalidArgument, naming the first problem.
func NewWebhookHandler(secretKey string, inv Invalidator, opts ...WebhookOption) (*WebhookHandler, error) {
	s := webhookSettings{now: time.Now, tolerance: DefaultWebhookTolerance, maxBody: DefaultWebhookMaxBody, logger: slog.Default()}
	for _, opt := range opts {
		if opt != nil {
			opt(&s)
		}
	}
	var problem string
	switch {
	case secretKey == "":
		problem = "the webhook secret is empty"
	case nilcheck.Is(inv):
		problem = "the invalidator is nil"
	case s.now == nil:
		problem = "the clock is nil"
	case s.logger == nil:
		problem = "the logger is nil"
	case s.tolerance <= 0:
		problem = fmt.Sprintf("the tolerance must be positive, not %v", s.tolerance)
	case s.maxBody <= 0:
		problem = fmt.Sprintf("the body limit must be positive, not %d", s.maxBody)
	}
	if problem != "" {
		return nil, &configError{"NewWebhookHandler", problem}
	}
	rev, _ := inv.(Revoker)
	return &WebhookHandler{webhookSettings: s, secret: newSecret(secretKey), inv: inv, rev: rev}, nil
}

// ServeHTTP handles one delivery.
func (h *WebhookHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			h.logger.Warn("workos: webhook rejected: body too large", "limit", h.maxBody)
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "cannot read body", http.StatusBadRequest)
		return
	}
	if err := VerifySignature(r.Header.Get(SignatureHeader), body, h.secret.reveal(), h.now(), h.tolerance); err != nil {
		h.logger.Warn("workos: webhook rejected", "reason", err.Error())
		http.Error(w, "invalid signature", http.StatusBadRequest)
		return
	}
	var ev Event
	if err := json.Unmarshal(body, &ev); err != nil || ev.Event == "" {
		h.logger.Warn("workos: webhook rejected: signed body is not an event")
		http.Error(w, "not an event", http.StatusBadRequest)
		return
	}
	switch ev.Event {
	case "api_key.revoked", "api_key.updated":
		var data struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(ev.Data, &data); err != nil || data.ID == "" {
			h.logger.Warn("workos: webhook rejected: key event without data.id", "event", ev.Event, "event_id", ev.ID)
			http.Error(w, "event data has no id", http.StatusBadRequest)
			return
		}
		inv := apikey.Invalidation{ID: data.ID, Origin: apikey.OriginWebhook}
		if h.rev == nil {
			h.inv.Invalidate(inv)
		} else if err := h.rev.Revoke(r.Context(), inv); err != nil {
			// Not acknowledged: WorkOS delivers the event again, and the
			// invalidation is idempotent.
			h.logger.Warn("workos: webhook not acknowledged: the invalidation did not reach every replica",
				"event", ev.Event, "event_id", ev.ID, "key_id", data.ID, "error", err.Error())
			http.Error(w, "invalidation not acknowledged, deliver again", http.StatusServiceUnavailable)
			return
		}
		h.logger.Info("workos: key invalidated by webhook", "event", ev.Event, "event_id", ev.ID, "key_id", data.ID)
	}
	if h.onEvent != nil {
		h.onEvent(ev)
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"received":true}`+"\n")
}
