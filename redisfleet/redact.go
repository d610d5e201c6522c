package redisfleet

import (
	"fmt"
	"io"
	"log/slog"
)

// redacted is what the shared secret prints as.
const redacted = "[redacted]"

// sharedSecret holds WithSharedSecret's bytes. Every way of printing it
// (fmt with any verb, slog, encoders) gives "[redacted]". The bytes are
// behind a func: fmt does not call the methods of unexported fields, and
// for some verbs it prints what a nested pointer points to, but a func
// only ever as an address, so even the settings printed by value do not
// show them.
type sharedSecret struct{ reveal func() []byte }

func newSharedSecret(b []byte) *sharedSecret {
	c := append([]byte{}, b...)
	return &sharedSecret{reveal: func() []byte { return c }}
}

func (sharedSecret) String() string               { return redacted }
func (sharedSecret) GoString() string             { return redacted }
func (sharedSecret) Format(f fmt.State, _ rune)   { _, _ = io.WriteString(f, redacted) }
func (sharedSecret) LogValue() slog.Value         { return slog.StringValue(redacted) }
func (sharedSecret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// String describes the Fleet by its prefix, and whether it signs what it
// shares; the secret is never shown. It reads nothing that changes, so
// printing a live Fleet is safe.
func (f *Fleet) String() string {
	if f == nil {
		return "redisfleet.Fleet(nil)"
	}
	signed := "unsigned"
	if f.s.secret != nil {
		signed = "secret: " + redacted
	}
	return fmt.Sprintf("redisfleet.Fleet{prefix: %q, %s}", f.s.prefix, signed)
}

// GoString is String, for %#v.
func (f *Fleet) GoString() string { return f.String() }

// Format prints String for every verb, so that %+v or %x cannot reach the
// fields.
func (f *Fleet) Format(s fmt.State, _ rune) { _, _ = io.WriteString(s, f.String()) }

// LogValue logs the Fleet's prefix, never its secret.
func (f *Fleet) LogValue() slog.Value {
	if f == nil {
		return slog.StringValue("redisfleet.Fleet(nil)")
	}
	return slog.GroupValue(slog.String("prefix", f.s.prefix), slog.Bool("signed", f.s.secret != nil))
}
