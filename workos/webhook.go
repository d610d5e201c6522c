package workos

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/apikeyauth/apikey"
)

// SignatureHeader is the header that carries a webhook's signature.
const SignatureHeader = "WorkOS-Signature"

// DefaultWebhookTolerance is how far a webhook's timestamp may be from now,
// in the past or the future.
const DefaultWebhookTolerance = 3 * time.Minute

// DefaultWebhookMaxBody is the largest webhook body the handler reads.
const DefaultWebhookMaxBody = 1 << 20

// Signature is a parsed WorkOS-Signature header: "t=<unix ms>, v1=<hex>".
type Signature struct {
	// Timestamp is the t field as sent, which the signature covers.
	Timestamp string
	// Time is Timestamp read as Unix milliseconds.
	Time time.Time
	// V1 are the v1 signatures, HMAC-SHA256 digests; at least one.
	V1 [][]byte
}

// ParseSignature parses a WorkOS-Signature header: comma-separated
// key=value fields, with or without spaces after the commas, exactly one t
// (decimal Unix milliseconds) and one or more v1 (64 hex digits). Unknown
// fields are ignored. Errors match ErrInvalidSignature.
func ParseSignature(header string) (Signature, error) {
	var sig Signature
	if len(header) > 4096 {
		return sig, fmt.Errorf("%w: the header is too long", ErrInvalidSignature)
	}
	for field := range strings.SplitSeq(header, ",") {
		field = strings.TrimSpace(field)
		if field == "" {
			continue
		}
		k, v, ok := strings.Cut(field, "=")
		if !ok {
			return Signature{}, fmt.Errorf("%w: a field has no '='", ErrInvalidSignature)
		}
		switch strings.TrimSpace(k) {
		case "t":
			if sig.Timestamp != "" {
				return Signature{}, fmt.Errorf("%w: more than one t", ErrInvalidSignature)
			}
			ms, err := parseMillis(v)
			if err != nil {
				return Signature{}, err
			}
			sig.Timestamp, sig.Time = v, time.UnixMilli(ms)
		case "v1":
			if len(v) != 2*sha256.Size {
				return Signature{}, fmt.Errorf("%w: v1 is not %d hex digits", ErrInvalidSignature, 2*sha256.Size)
			}
			mac, err := hex.DecodeString(v)
			if err != nil {
				return Signature{}, fmt.Errorf("%w: v1 is not hex", ErrInvalidSignature)
			}
			sig.V1 = append(sig.V1, mac)
		}
	}
	switch {
	case sig.Timestamp == "":
		return Signature{}, fmt.Errorf("%w: no t", ErrInvalidSignature)
	case len(sig.V1) == 0:
		return Signature{}, fmt.Errorf("%w: no v1", ErrInvalidSignature)
	}
	return sig, nil
}

func parseMillis(v string) (int64, error) {
	if v == "" || len(v) > 16 || strings.TrimLeft(v, "0123456789") != "" {
		return 0, fmt.Errorf("%w: t is not a Unix time in milliseconds", ErrInvalidSignature)
	}
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: t is not a Unix time in milliseconds", ErrInvalidSignature)
	}
	return ms, nil
}

// String formats the signature as a WorkOS-Signature header.
func (s Signature) String() string {
	var b strings.Builder
	b.WriteString("t=" + s.Timestamp)
	for _, mac := range s.V1 {
		b.WriteString(", v1=" + hex.EncodeToString(mac))
	}
	return b.String()
}

// Sign returns the WorkOS-Signature header for body sent at t, signed with
// secret: "t=<ms>, v1=<hex HMAC-SHA256 of "<ms>.<body>">". For tests and
// for relaying events.
func Sign(body []byte, secret string, t time.Time) string {
	ts := strconv.FormatInt(t.UnixMilli(), 10)
	return Signature{Timestamp: ts, V1: [][]byte{mac(secret, ts, body)}}.String()
}

func mac(secret, ts string, body []byte) []byte {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(ts))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// VerifySignature checks that header is a valid WorkOS-Signature for body
// under secret (the endpoint's webhook secret, as UTF-8 bytes), made within
// tolerance of now in either direction (tolerance ≤ 0 means
// DefaultWebhookTolerance). The comparison is constant-time. Errors match
// ErrInvalidSignature, and ErrStaleSignature for a timestamp out of range;
// they never contain the secret or the body.
func VerifySignature(header string, body []byte, secret string, now time.Time, tolerance time.Duration) error {
	if secret == "" {
		return fmt.Errorf("%w: the webhook secret is empty", ErrInvalidSignature)
	}
	if tolerance <= 0 {
		tolerance = DefaultWebhookTolerance
	}
	sig, err := ParseSignature(header)
	if err != nil {
		return err
	}
	if d := now.Sub(sig.Time); d > tolerance || d < -tolerance {
		return ErrStaleSignature
	}
	want := mac(secret, sig.Timestamp, body)
	ok := 0
	for _, got := range sig.V1 {
		ok |= subtle.ConstantTimeCompare(got, want) // every v1 is checked
	}
	if ok == 0 {
		return fmt.Errorf("%w: no v1 matches", ErrInvalidSignature)
	}
	return nil
}

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
// are acknowledged and ignored. Handling is idempotent, so WorkOS's
// redeliveries, which repeat the timestamp and signature, are harmless.
type WebhookHandler struct {
	secret    secret
	inv       Invalidator
	now       func() time.Time
	tolerance time.Duration
	maxBody   int64
	logger    *slog.Logger
	onEvent   func(Event)
}

// WebhookOption configures a WebhookHandler.
type WebhookOption func(*WebhookHandler)

// WithWebhookClock sets the clock the tolerance is measured against, for
// tests. Default: time.Now.
func WithWebhookClock(now func() time.Time) WebhookOption {
	return func(h *WebhookHandler) { h.now = now }
}

// WithWebhookTolerance sets how far a timestamp may be from now, either
// way. Default: 3m.
func WithWebhookTolerance(d time.Duration) WebhookOption {
	return func(h *WebhookHandler) { h.tolerance = d }
}

// WithWebhookMaxBody sets the largest body read. Default: 1 MiB.
func WithWebhookMaxBody(n int64) WebhookOption {
	return func(h *WebhookHandler) { h.maxBody = n }
}

// WithWebhookLogger sets where rejected deliveries and invalidations are
// logged, without secrets or bodies. Default: slog.Default().
func WithWebhookLogger(l *slog.Logger) WebhookOption {
	return func(h *WebhookHandler) { h.logger = l }
}

// WithEventHook calls f with every verified event, after any invalidation,
// before the handler answers. f must be quick and safe for concurrent use.
// Default: none.
func WithEventHook(f func(Event)) WebhookOption {
	return func(h *WebhookHandler) { h.onEvent = f }
}

// NewWebhookHandler returns a handler that verifies events with secretKey
// (the webhook endpoint's secret from the WorkOS dashboard) and invalidates
// revoked and updated keys in inv, typically the middleware's Cache. An
// empty secret, a nil inv or an invalid option is an error wrapping
// apikey.ErrMisconfigured and ErrInvalidArgument.
func NewWebhookHandler(secretKey string, inv Invalidator, opts ...WebhookOption) (*WebhookHandler, error) {
	h := &WebhookHandler{
		secret: secret(secretKey), inv: inv, now: time.Now, tolerance: DefaultWebhookTolerance,
		maxBody: DefaultWebhookMaxBody, logger: slog.Default(),
	}
	for _, opt := range opts {
		if opt != nil {
			opt(h)
		}
	}
	var problem string
	switch {
	case secretKey == "":
		problem = "the webhook secret is empty"
	case inv == nil || isNilInterface(inv):
		problem = "the invalidator is nil"
	case h.now == nil, h.logger == nil:
		problem = "the clock or logger is nil"
	case h.tolerance <= 0, h.maxBody <= 0:
		problem = "the tolerance and body limit must be positive"
	}
	if problem != "" {
		return nil, fmt.Errorf("%w: %w: workos.NewWebhookHandler: %s", apikey.ErrMisconfigured, ErrInvalidArgument, problem)
	}
	return h, nil
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
	if err := VerifySignature(r.Header.Get(SignatureHeader), body, string(h.secret), h.now(), h.tolerance); err != nil {
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
		h.inv.InvalidateID(data.ID)
		h.logger.Info("workos: key invalidated by webhook", "event", ev.Event, "event_id", ev.ID, "key_id", data.ID)
	}
	if h.onEvent != nil {
		h.onEvent(ev)
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"received":true}`+"\n")
}
