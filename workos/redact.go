package workos

import (
	"fmt"
	"io"
	"log/slog"
)

// redacted is what a secret prints as.
const redacted = "[redacted]"

// secret holds a credential: the WorkOS secret key or a webhook secret.
// Every way of printing it (fmt with any verb, slog, String, GoString,
// encoding) gives "[redacted]"; reveal is for where the raw bytes are
// needed: the Authorization header and the HMAC key.
//
// The types that hold one keep a *secret: fmt does not call the methods of
// an unexported field, but prints a nested pointer as an address, so a copy
// of a Client or WebhookHandler printed by value still shows no secret. Both
// also format themselves, to stay readable when printed by pointer.
type secret string

func newSecret(s string) *secret { return (*secret)(&s) }

// reveal returns the credential itself.
func (s *secret) reveal() string { return string(*s) }

// String hides the secret.
func (secret) String() string { return redacted }

// GoString hides the secret from %#v.
func (secret) GoString() string { return redacted }

// Format hides the secret from every fmt verb, %x and %q included.
func (secret) Format(f fmt.State, _ rune) { printAs(f, redacted) }

// LogValue hides the secret from slog.
func (secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText hides the secret from encoders (JSON, text).
func (secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// printAs is the body of the Format methods of the types that hold a
// secret or a key value: it prints s whatever the verb. fmt's default
// formatting of a struct would print its fields, for verbs such as %d or %x
// that skip String, and would not call the methods of unexported fields.
func printAs(f fmt.State, s string) { _, _ = io.WriteString(f, s) }

// String describes the client by its base URL; the secret key is hidden.
func (c *Client) String() string {
	if c == nil {
		return "workos.Client(nil)"
	}
	return "workos.Client{BaseURL: " + c.baseURL + ", secret: " + redacted + "}"
}

// Format prints String for every verb, so that %+v or %x of a Client
// cannot reach the secret key in its fields.
func (c *Client) Format(f fmt.State, _ rune) { printAs(f, c.String()) }

// LogValue logs the base URL only.
func (c *Client) LogValue() slog.Value {
	if c == nil {
		return slog.StringValue("<nil>")
	}
	return slog.GroupValue(slog.String("base_url", c.baseURL), slog.String("secret", redacted))
}

// String describes the handler; the webhook secret is hidden.
func (h *WebhookHandler) String() string {
	if h == nil {
		return "workos.WebhookHandler(nil)"
	}
	return "workos.WebhookHandler{Tolerance: " + h.tolerance.String() + ", secret: " + redacted + "}"
}

// Format prints String for every verb, so that %+v of a handler cannot
// reach the webhook secret in its fields.
func (h *WebhookHandler) Format(f fmt.State, _ rune) { printAs(f, h.String()) }

// LogValue logs the tolerance and body limit only.
func (h *WebhookHandler) LogValue() slog.Value {
	if h == nil {
		return slog.StringValue("<nil>")
	}
	return slog.GroupValue(slog.Duration("tolerance", h.tolerance), slog.Int64("max_body", h.maxBody),
		slog.String("secret", redacted))
}
