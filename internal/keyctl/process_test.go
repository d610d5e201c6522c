//go:build linux || darwin

package keyctl

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/apikeyauth/apikey/workos/workostest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// subprocess returns the command line args run by this test binary as the
// apikeys command itself (see TestMain), against srv.
func subprocess(t *testing.T, srv *workostest.Server, args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "APIKEYS_TEST_RUN_MAIN=1",
		"WORKOS_API_KEY="+workostest.SecretKey, "WORKOS_BASE_URL="+srv.URL)
	return cmd
}

// exitCode returns the exit status of a finished command.
func exitCode(t *testing.T, err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	require.NoError(t, err)
	return 0
}

// waitFor polls cond for up to 10s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestProcess(t *testing.T) {
	t.Run("Ctrl-C stops a listing cleanly with exit status 2", func(t *testing.T) {
		srv := workostest.NewServer(t)
		srv.AddKey(aliceValue, "Alice", "org_1")
		srv.FailAll(workostest.Slow(time.Minute))
		cmd := subprocess(t, srv, "list", "--org", "org_1")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		require.NoError(t, cmd.Start())
		waitFor(t, "the listing's request", func() bool { return len(srv.Requests()) > 0 })
		start := time.Now()
		require.NoError(t, cmd.Process.Signal(os.Interrupt))
		code := exitCode(t, cmd.Wait())
		assert.Less(t, time.Since(start), 5*time.Second)
		assert.Equal(t, exitUndecided, code)
		assert.Empty(t, stdout.String())
		assert.Equal(t, "apikeys list: interrupted\n", stderr.String())
	})

	t.Run("validate reads a pipe: 0 valid, 1 invalid", func(t *testing.T) {
		srv := workostest.NewServer(t)
		k := srv.AddKey(aliceValue, "Alice", "org_1")
		for value, want := range map[string]int{aliceValue: exitOK, "sk_live_unknown_value": exitNo} {
			cmd := subprocess(t, srv, "validate")
			cmd.Stdin = strings.NewReader(value + "\n")
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			assert.Equal(t, want, exitCode(t, cmd.Run()), stderr.String())
			assert.NotContains(t, stdout.String()+stderr.String(), value)
			if want == exitOK {
				assert.Contains(t, stdout.String(), k.ID)
			}
		}
	})
}
