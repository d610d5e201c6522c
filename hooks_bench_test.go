package apikey

import (
	"io"
	"log/slog"
	"net/http"
	"testing"
)

// BenchmarkHooks is the authenticated cache-hit path with each observer, in
// one run so that the figures compare: none (the hooks unset), a Request hook
// that does nothing (the cost of building the event), the audit line as JSON
// to io.Discard (its Handler mounted), and the last-used record.
func BenchmarkHooks(b *testing.B) {
	audit := NewAuditLog(slog.New(slog.NewJSONHandler(io.Discard, nil)))
	used, err := NewLastUsed(0)
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		opts []Option
		wrap func(http.Handler) http.Handler
	}{
		{"none", nil, nil},
		{"noop-request-hook", []Option{WithHooks(Hooks{Request: func(RequestEvent) {}})}, nil},
		{"audit", []Option{WithHooks(audit.Hooks())}, audit.Handler},
		{"last-used", []Option{WithHooks(used.Hooks())}, nil},
	} {
		m, err := New(testStatic(), bc.opts...)
		if err != nil {
			b.Fatal(err)
		}
		h := m.Handler(okHandler)
		if bc.wrap != nil {
			h = bc.wrap(h)
		}
		r := benchRequest(writerValue)
		h.ServeHTTP(&discard{h: http.Header{}}, r) // warm the cache
		b.Run(bc.name, func(b *testing.B) { serveLoop(b, h, r) })
	}
}
