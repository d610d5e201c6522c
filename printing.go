package apikey

import (
	"fmt"
	"io"
	"log/slog"
)

// String describes c by its settings, which never change: printing a live
// Cache field by field would race with the requests it serves (its
// counters, shards and index change under them), and would reach into its
// validator, which may hold a secret.
func (c *Cache) String() string {
	if c == nil {
		return "apikey.Cache(nil)"
	}
	return fmt.Sprintf("apikey.Cache{ttl: %s, negative_ttl: %s, stale_if_error: %s, validation_timeout: %s}",
		c.ttl, c.negTTL, c.staleTTL, c.timeout)
}

// GoString is String, for %#v.
func (c *Cache) GoString() string { return c.String() }

// Format prints String for every verb, so that %+v or %x cannot walk the
// fields.
func (c *Cache) Format(f fmt.State, _ rune) { io.WriteString(f, c.String()) }

// LogValue logs String: the settings, never the state or the validator.
func (c *Cache) LogValue() slog.Value { return slog.StringValue(c.String()) }

// String describes m by its realm and its cache, never its validator,
// which may hold a secret and which printing m field by field would show.
func (m *Middleware) String() string {
	if m == nil {
		return "apikey.Middleware(nil)"
	}
	cache := "none"
	if m.cache != nil {
		cache = m.cache.String()
	}
	return fmt.Sprintf("apikey.Middleware{realm: %s, max_key_length: %d, cache: %s}", m.responder.realm, m.maxLen, cache)
}

// GoString is String, for %#v.
func (m *Middleware) GoString() string { return m.String() }

// Format prints String for every verb.
func (m *Middleware) Format(f fmt.State, _ rune) { io.WriteString(f, m.String()) }

// LogValue logs String.
func (m *Middleware) LogValue() slog.Value { return slog.StringValue(m.String()) }
