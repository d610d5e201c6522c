package apikey

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// useDefaultLogger makes slog.Default write to a buffer of its own (and to
// capturedLogs) for the test's duration.
func useDefaultLogger(t *testing.T) *syncBuffer {
	logger, buf := testLogger()
	prev := slog.Default()
	slog.SetDefault(logger)
	t.Cleanup(func() { slog.SetDefault(prev) })
	return buf
}

// logLines decodes the JSON lines of buf.
func logLines(t *testing.T, buf *syncBuffer) []map[string]any {
	var lines []map[string]any
	for _, l := range buf.lines() {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m), l)
		lines = append(lines, m)
	}
	return lines
}

// panicking is a validator whose panic value holds the key, as a careless
// one's might.
var panicking = ValidatorFunc(func(_ context.Context, value string) (*Key, error) {
	panic("cannot parse " + value)
})

func TestValidatorPanicReachesTheDefaultLoggerOnce(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []Option
	}{
		{"cached", nil},
		{"uncached", []Option{WithoutCache()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			buf := useDefaultLogger(t)
			m, err := New(panicking, tc.opts...)
			require.NoError(t, err)
			w := httptest.NewRecorder()
			m.Handler(okHandler).ServeHTTP(w, keyRequest(writerValue))
			require.Equal(t, http.StatusInternalServerError, w.Code)

			lines := logLines(t, buf)
			require.Len(t, lines, 1)
			line := lines[0]
			assert.Equal(t, "ERROR", line["level"])
			assert.Equal(t, "apikey: validator panicked", line["msg"])
			assert.Equal(t, "string", line["panic_type"])
			assert.Equal(t, DigestOf(writerValue).Fingerprint(), line["fingerprint"])
			assert.Contains(t, line["stack"], "runtime/debug.Stack", "the stack of the panic")
			assert.Contains(t, line["stack"], "logging_test.go", "down to the validator's own frame")
			assert.NoError(t, keyValueIn(buf.String()))
			assert.NotContains(t, buf.String(), "cannot parse", "the panic value stays out")
		})
	}
}

func TestFailuresAreRateLimited(t *testing.T) {
	buf := useDefaultLogger(t)
	clock := newFakeClock()
	down := &UnavailableError{Err: errors.New("upstream 503")}
	m, err := New(unavailable(down), WithClock(clock.Now), WithLogInterval(time.Minute))
	require.NoError(t, err)
	h := m.Handler(okHandler)
	serve := func(n int) {
		for range n {
			h.ServeHTTP(httptest.NewRecorder(), keyRequest(writerValue))
		}
	}

	serve(5)
	lines := logLines(t, buf)
	require.Len(t, lines, 1, "one line for five failures within the interval")
	assert.Equal(t, "WARN", lines[0]["level"])
	assert.Equal(t, "apikey: validator unavailable", lines[0]["msg"])
	assert.Equal(t, down.Error(), lines[0]["error"])
	assert.NotContains(t, lines[0], "suppressed")

	clock.Advance(time.Minute)
	serve(1)
	lines = logLines(t, buf)
	require.Len(t, lines, 2)
	assert.EqualValues(t, 4, lines[1]["suppressed"], "the four held back since the last line")
}

func TestFailureKindsAreLimitedApart(t *testing.T) {
	buf := useDefaultLogger(t)
	var fail error
	v := ValidatorFunc(func(context.Context, string) (*Key, error) {
		if fail == nil {
			panic("boom")
		}
		return nil, fail
	})
	m, err := New(v, WithoutCache(), WithLogInterval(time.Hour))
	require.NoError(t, err)
	h := m.Handler(okHandler)
	for _, f := range []error{errors.New("down"), fmt.Errorf("vendor says: %w", ErrMisconfigured), nil, errors.New("down again"), ErrInvalidKey} {
		fail = f
		h.ServeHTTP(httptest.NewRecorder(), keyRequest(writerValue))
	}
	var msgs []any
	for _, l := range logLines(t, buf) {
		msgs = append(msgs, l["msg"])
	}
	assert.Equal(t, []any{"apikey: validator unavailable", "apikey: misconfigured", "apikey: validator panicked"}, msgs,
		"one line per kind, and none for a verdict on the key")
}

func TestWithLoggerTurnsLoggingOffOrElsewhere(t *testing.T) {
	def := useDefaultLogger(t)
	discarded := slog.New(slog.DiscardHandler)
	own, ownBuf := testLogger()
	for _, tc := range []struct {
		name  string
		opt   Option
		lines int // in ownBuf
	}{
		{"nil", WithLogger(nil), 0},
		{"discard handler", WithLogger(discarded), 0},
		{"own logger", WithLogger(own), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := New(panicking, tc.opt)
			require.NoError(t, err)
			m.Handler(okHandler).ServeHTTP(httptest.NewRecorder(), keyRequest(writerValue))
			assert.Len(t, ownBuf.lines(), tc.lines)
		})
	}
	assert.Empty(t, def.lines(), "nothing reached the default logger")
}

func TestWithLogIntervalRejectsNegative(t *testing.T) {
	_, err := New(testStatic(), WithLogInterval(-time.Second))
	assert.ErrorIs(t, err, ErrMisconfigured)
	_, err = NewCache(testStatic(), WithLogInterval(-time.Second))
	assert.ErrorIs(t, err, ErrMisconfigured)
}

// TestOverBudgetIsLogged: a miss refused by the upstream budget is a 503
// like an outage, and is logged as one.
func TestOverBudgetIsLogged(t *testing.T) {
	buf := useDefaultLogger(t)
	clock := newFakeClock()
	m, err := New(testStatic(), WithClock(clock.Now), WithValidationRate(1, 1), WithKnownKeyReserve(0))
	require.NoError(t, err)
	h := m.Handler(okHandler)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, keyRequest(writerValue))
	require.Equal(t, http.StatusOK, w.Code, "the one token")
	w = httptest.NewRecorder()
	h.ServeHTTP(w, keyRequest(readerValue))
	require.Equal(t, http.StatusServiceUnavailable, w.Code, "none left")

	lines := logLines(t, buf)
	require.Len(t, lines, 1)
	assert.Equal(t, "apikey: validator unavailable", lines[0]["msg"])
	assert.Contains(t, lines[0]["error"], "budget")
	assert.Equal(t, DigestOf(readerValue).Fingerprint(), lines[0]["fingerprint"])
}
