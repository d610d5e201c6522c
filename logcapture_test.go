package apikey

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
)

// capturedLogs holds every line the tests logged, through slog.Default (set
// by TestMain) or a logger from testLogger: TestMain scans it for key values
// once every test has run.
var capturedLogs syncBuffer

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// lines returns the buffer's non-empty lines.
func (s *syncBuffer) lines() []string {
	return strings.FieldsFunc(s.String(), func(r rune) bool { return r == '\n' })
}

// testLogger returns a JSON logger writing to its own buffer and to
// capturedLogs.
func testLogger() (*slog.Logger, *syncBuffer) {
	own := &syncBuffer{}
	return slog.New(slog.NewJSONHandler(io.MultiWriter(own, &capturedLogs), nil)), own
}

// keyValues are the key values the tests use, which no log may hold.
var keyValues = []string{readerValue, writerValue, adminValue, unknownValue}

// unknownValue is a well-formed key that no validator knows.
const unknownValue = "sk_test_unknown_9876543210"

// keyValueIn returns an error naming the first key value found in logs.
func keyValueIn(logs string) error {
	for _, v := range keyValues {
		if strings.Contains(logs, v) {
			return errors.New("a key value is in the logs: " + DigestOf(v).Fingerprint())
		}
	}
	return nil
}

func TestKeyValueInFindsAKey(t *testing.T) {
	assert.Error(t, keyValueIn(`{"msg":"x","v":"`+writerValue+`"}`))
	assert.NoError(t, keyValueIn(`{"msg":"x","fingerprint":"`+DigestOf(writerValue).Fingerprint()+`"}`))
}

func slogDiscard() *slog.Logger { return slog.New(slog.DiscardHandler) }
