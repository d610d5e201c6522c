package apikey

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"
)

// DefaultLogInterval is the shortest time between two log lines of one kind
// of failure, unless WithLogInterval says otherwise.
const DefaultLogInterval = 10 * time.Second

// failureKind is a kind of failure an operator must see, each rate-limited
// on its own so that an outage's lines never hide a panic's.
type failureKind int

const (
	failurePanic         failureKind = iota // the validator panicked: a bug, 500
	failureMisconfigured                    // ErrMisconfigured: 500 until someone fixes it
	failureUnavailable                      // could not decide: 503
	failureKinds
)

// failureLog writes the failures an operator must see, at most one line per
// kind per interval; each line counts the ones suppressed since the last.
// It runs no goroutine: a count suppressed at the end of an outage is
// written with the next line of its kind. Safe for concurrent use; a nil
// *failureLog writes nothing.
type failureLog struct {
	logger   *slog.Logger // nil: slog.Default(), read when a line is written
	every    time.Duration
	now      func() time.Time
	mu       sync.Mutex
	next     [failureKinds]time.Time
	suppress [failureKinds]int
}

// newFailureLog returns the failure log s asks for, or nil when WithLogger
// turned logging off.
func newFailureLog(s *settings) *failureLog {
	if s.loggerSet && s.logger == nil {
		return nil
	}
	now := s.now
	if now == nil {
		now = time.Now
	}
	return &failureLog{logger: s.logger, every: s.logEvery, now: now}
}

// report writes err's line if err is a failure to report and its kind has
// not been written within the interval. fingerprint names the key, if any.
func (l *failureLog) report(err error, d Digest) {
	if l == nil || err == nil {
		return
	}
	var kind failureKind
	var pe *panicError
	switch {
	case errors.As(err, &pe), errors.Is(err, ErrValidatorPanicked):
		kind = failurePanic
	case errors.Is(err, ErrMisconfigured):
		kind = failureMisconfigured
	case OutcomeOf(err) == OutcomeUnavailable:
		kind = failureUnavailable
	default:
		return // a verdict on the key, not a failure
	}
	suppressed, ok := l.allow(kind)
	if !ok {
		return
	}
	logger := l.logger
	if logger == nil {
		logger = slog.Default()
	}
	attrs := make([]slog.Attr, 0, 5)
	if !d.IsZero() {
		attrs = append(attrs, slog.String("fingerprint", d.Fingerprint()))
	}
	if suppressed > 0 {
		attrs = append(attrs, slog.Int("suppressed", suppressed))
	}
	level, msg := slog.LevelError, "apikey: validator panicked"
	switch kind {
	case failurePanic:
		// Never the panic value, which may hold the key: its type, and the
		// stack, which holds function arguments as raw words, never what
		// they point to.
		if pe != nil {
			attrs = append(attrs, slog.String("panic_type", pe.valueType), slog.String("stack", string(pe.stack)))
			if pe.what != "" {
				msg = "apikey: " + pe.what + " panicked"
			}
		}
	case failureMisconfigured:
		msg = "apikey: misconfigured"
		attrs = append(attrs, slog.String("error", err.Error()))
	case failureUnavailable:
		level, msg = slog.LevelWarn, "apikey: validator unavailable"
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	logger.LogAttrs(context.Background(), level, msg, attrs...)
}

// allow reports whether a line of kind may be written now, and how many
// were suppressed since the last one.
func (l *failureLog) allow(kind failureKind) (suppressed int, ok bool) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Before(l.next[kind]) {
		l.suppress[kind]++
		return 0, false
	}
	suppressed, l.suppress[kind] = l.suppress[kind], 0
	l.next[kind] = now.Add(l.every)
	return suppressed, true
}

// panicError is ErrValidatorPanicked with what the log needs to find the
// bug: the stack of the panicking goroutine and the type of the panic
// value. Its text is ErrValidatorPanicked's: neither reaches an error
// handler or a response.
type panicError struct {
	valueType string
	stack     []byte
	what      string // what panicked, for the log line; empty: the validator
}

func newPanicError(value any) *panicError {
	return &panicError{valueType: fmt.Sprintf("%T", value), stack: debug.Stack()}
}

func (e *panicError) Error() string { return ErrValidatorPanicked.Error() }

// Unwrap returns ErrValidatorPanicked.
func (e *panicError) Unwrap() error { return ErrValidatorPanicked }
