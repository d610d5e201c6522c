package apikey

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
)

// AuditLog writes one log line per request that a Middleware authenticated
// or refused: time, outcome, status, method, route pattern, key ID and
// owner, the key's fingerprint (never its value) and the request ID. It is
// opt-in, and writes nothing for requests that no Middleware decided.
//
// Give its Hooks to New, and mount its Handler outside the middleware, so
// that the line carries the status the handlers wrote and a permission
// guard's refusal turns the request's line into a "forbidden" one:
//
//	audit := apikey.NewAuditLog(slog.New(slog.NewJSONHandler(os.Stderr, nil)))
//	mw, err := apikey.New(v, apikey.WithHooks(audit.Hooks()))
//	handler := audit.Handler(mw.Handler(routes))
//
// Without its Handler, the line is written when the request is decided,
// with the refusal's default status, or none for an authenticated request.
//
// An AuditLog is safe for concurrent use. Its zero value writes to
// slog.Default() with the default options, as NewAuditLog(nil) does.
type AuditLog struct {
	logger    *slog.Logger
	route     func(*http.Request) string
	requestID func(*http.Request) string
}

// AuditOption configures NewAuditLog.
type AuditOption func(*AuditLog)

// WithAuditRoute sets how the line's route is found, for a router that does
// not set http.Request.Pattern as http.ServeMux does: with chi,
//
//	apikey.WithAuditRoute(func(r *http.Request) string { return chi.RouteContext(r.Context()).RoutePattern() })
//
// It is called once the handlers have run, on the request the Handler
// passed on. Default: r.Pattern.
func WithAuditRoute(f func(*http.Request) string) AuditOption {
	return func(a *AuditLog) { a.route = f }
}

// WithAuditRequestID sets how the line's request ID is found, such as from a
// context value that a request-ID middleware set. Default: the X-Request-ID
// header, cut to 128 bytes.
func WithAuditRequestID(f func(*http.Request) string) AuditOption {
	return func(a *AuditLog) { a.requestID = f }
}

// maxRequestIDLength bounds a request ID taken from a header, which the
// client chose.
const maxRequestIDLength = 128

func requestIDHeader(r *http.Request) string {
	id := r.Header.Get("X-Request-ID")
	if len(id) > maxRequestIDLength {
		id = id[:maxRequestIDLength]
	}
	return id
}

// routeOf and requestIDOf fall back on the defaults for options left nil,
// and for the zero AuditLog.
func (a *AuditLog) routeOf(r *http.Request) string {
	if a.route == nil {
		return r.Pattern
	}
	return a.route(r)
}

func (a *AuditLog) requestIDOf(r *http.Request) string {
	if a.requestID == nil {
		return requestIDHeader(r)
	}
	return a.requestID(r)
}

// NewAuditLog returns an AuditLog that writes to l at level Info, with the
// message "apikey audit". A nil l writes to slog.Default(), read for each
// line.
func NewAuditLog(l *slog.Logger, opts ...AuditOption) *AuditLog {
	a := &AuditLog{logger: l}
	for _, opt := range opts {
		if opt != nil {
			opt(a)
		}
	}
	return a
}

// Hooks returns the hook that hands each decision to the Handler's line,
// or writes it at once when there is no Handler.
func (a *AuditLog) Hooks() Hooks {
	return Hooks{Request: a.request}
}

// auditContextKey finds a request's auditRecord.
type auditContextKey struct{}

// auditRecord is what a Handler learns about its request: the hooks'
// events, and the status the handlers wrote.
type auditRecord struct {
	statusWriter
	event RequestEvent
	seen  bool
}

func (a *AuditLog) request(e RequestEvent) {
	if e.Request != nil {
		if rec, ok := e.Request.Context().Value(auditContextKey{}).(*auditRecord); ok {
			rec.merge(e)
			return
		}
	}
	status := 0
	if e.Err != nil {
		status = StatusCode(e.Err)
	}
	a.write(e, e.Request, status)
}

// merge keeps the last decision, and what an earlier one knew that the
// last does not. Each request is decided once (see Hooks.Request); a
// Handler around two Middlewares sees the inner one's decision last.
func (rec *auditRecord) merge(e RequestEvent) {
	if rec.seen {
		if e.Key == nil {
			e.Key = rec.event.Key
		}
		if e.Digest.IsZero() {
			e.Digest = rec.event.Digest
		}
		if e.Answer == "" {
			e.Answer = rec.event.Answer
		}
	}
	rec.event, rec.seen = e, true
}

// Handler returns next wrapped so that the requests a Middleware inside it
// decides are written with the status the handlers wrote. Mount it outside
// the Middleware (and outside the router, for r.Pattern to be found).
func (a *AuditLog) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &auditRecord{statusWriter: statusWriter{ResponseWriter: w}}
		r = r.WithContext(context.WithValue(r.Context(), auditContextKey{}, rec))
		next.ServeHTTP(&rec.statusWriter, r)
		if !rec.seen {
			return
		}
		status := rec.status
		if status == 0 {
			status = http.StatusOK // what the server sends for a handler that wrote nothing
		}
		a.write(rec.event, r, status)
	})
}

// write writes e's line; r is the request whose route and ID it reads.
// A status of 0 is left out.
func (a *AuditLog) write(e RequestEvent, r *http.Request, status int) {
	attrs := make([]slog.Attr, 0, 12)
	attrs = append(attrs, slog.String("outcome", string(e.Outcome)))
	if status != 0 {
		attrs = append(attrs, slog.Int("status", status))
	}
	if r != nil {
		route := a.routeOf(r)
		if route == "" && e.Request != nil && e.Request != r {
			// The router ran inside the middleware, on the request the
			// event saw.
			route = a.routeOf(e.Request)
		}
		attrs = append(attrs, slog.String("method", r.Method), slog.String("route", route))
		if id := a.requestIDOf(r); id != "" {
			attrs = append(attrs, slog.String("request_id", id))
		}
	}
	if e.Key != nil {
		attrs = append(attrs, slog.String("key_id", e.Key.ID), slog.String("owner_type", e.Key.Owner.Type), slog.String("owner_id", e.Key.Owner.ID))
		if e.Key.Owner.OrganizationID != "" {
			attrs = append(attrs, slog.String("organization_id", e.Key.Owner.OrganizationID))
		}
	}
	if !e.Digest.IsZero() {
		attrs = append(attrs, slog.String("fingerprint", e.Digest.Fingerprint()))
	}
	if e.Answer != "" {
		attrs = append(attrs, slog.String("answer", string(e.Answer)))
	}
	var le *LimitError
	if errors.As(e.Err, &le) {
		attrs = append(attrs, slog.String("limit", le.Limit))
	}
	logger := a.logger
	if logger == nil {
		logger = slog.Default()
	}
	logger.LogAttrs(context.Background(), slog.LevelInfo, "apikey audit", attrs...)
}

// statusWriter remembers the status a handler wrote. Unwrap lets
// http.ResponseController reach the writer's other features (hijacking,
// deadlines); Flush is forwarded because handlers that stream look for
// http.Flusher directly.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 { // 1xx are informational: the final status comes later
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush sends what was written so far, if the underlying writer can.
func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap returns the underlying ResponseWriter, for http.ResponseController.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
