package keyctl

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apikeyauth/apikey/workos"
	"github.com/apikeyauth/apikey/workos/workostest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testNow is the clock of the tests: the fake lists every key as created
// at 2026-01-15T12:00:00Z, so keys are 45 days old.
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// harness runs the command in-process against a fake WorkOS, and checks
// when the test ends that no output carried a key value (see scanOutputs).
type harness struct {
	t   *testing.T
	srv *workostest.Server
	now time.Time
	env map[string]string
	// clock, when set, replaces the fixed now.
	clock func() time.Time
	// handed are key values a test's faults hand over, which the fake
	// does not know: the scan treats them as created values.
	handed []string
	runs   []result
}

// result is one run of the command.
type result struct {
	args           []string
	code           int
	stdout, stderr string
}

func newHarness(t *testing.T) *harness {
	h := &harness{t: t, srv: workostest.NewServer(t), now: testNow}
	h.srv.SetClock(func() time.Time { return h.now })
	h.env = map[string]string{"WORKOS_API_KEY": workostest.SecretKey, "WORKOS_BASE_URL": h.srv.URL}
	t.Cleanup(h.scanOutputs)
	return h
}

// run runs the command with args, stdin as its standard input.
func (h *harness) run(stdin io.Reader, args ...string) result {
	return h.runCtx(context.Background(), stdin, args...)
}

func (h *harness) runCtx(ctx context.Context, stdin io.Reader, args ...string) result {
	h.t.Helper()
	var stdout, stderr bytes.Buffer
	now := h.clock
	if now == nil {
		now = func() time.Time { return h.now }
	}
	a := &app{source: "WorkOS",
		stdin: stdin, stdout: &stdout, stderr: &stderr,
		env: func(k string) string { return h.env[k] },
		now: now,
		// Retries without waiting: the fake's Retry-After and the backoff
		// are honoured up to a millisecond.
		clientOptions: []workos.Option{
			workos.WithRetries(3, time.Millisecond, time.Millisecond),
			workos.WithMaxRetryAfter(time.Millisecond),
			workos.WithClock(now),
		},
	}
	code := a.run(ctx, args)
	r := result{args, code, stdout.String(), stderr.String()}
	h.runs = append(h.runs, r)
	return r
}

// in is stdin holding s.
func in(s string) io.Reader { return strings.NewReader(s) }

// keyValues returns every key value the fake knows, created ones included,
// and the WorkOS secret key.
func (h *harness) keyValues() []string {
	values := append([]string{workostest.SecretKey}, h.handed...)
	for i := 1; ; i++ {
		k, ok := h.srv.Key(fmt.Sprintf("api_key_%04d", i))
		if !ok {
			return values
		}
		values = append(values, k.Value)
	}
}

// scanOutputs fails the test if any output holds a key value, except the
// stdout of a successful create or rotate, which must be the new value
// alone on one line.
func (h *harness) scanOutputs() {
	values := h.keyValues()
	for _, r := range h.runs {
		stdout := r.stdout
		handOver := len(r.args) > 0 && (r.args[0] == "create" || r.args[0] == "rotate") &&
			!slices.Contains(r.args, "--help")
		if handOver && stdout != "" {
			line, rest, _ := strings.Cut(stdout, "\n")
			assert.Empty(h.t, rest, "%v: stdout has more than the value's line", r.args)
			assert.Contains(h.t, values, line, "%v: stdout is not a key value the fake created", r.args)
			stdout = ""
		}
		for _, v := range values {
			assert.NotContains(h.t, stdout, v, "%v: stdout holds a key value", r.args)
			assert.NotContains(h.t, r.stderr, v, "%v: stderr holds a key value", r.args)
		}
		// Errors and notes are single lines.
		for _, line := range strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n") {
			if line != "" && !strings.HasPrefix(line, "apikeys") {
				assert.Fail(h.t, "stderr line without the apikeys prefix", "%v: %q", r.args, line)
			}
		}
	}
}

// requireCode checks the exit status, showing the outputs when it differs.
func requireCode(t *testing.T, want int, r result) {
	t.Helper()
	require.Equal(t, want, r.code, "%v\nstdout:\n%s\nstderr:\n%s", r.args, r.stdout, r.stderr)
}

// stderrLines returns stderr split in lines.
func (r result) stderrLines() []string {
	return strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
}
