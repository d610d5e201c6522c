package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// TestMain runs the command itself when a test starts this test binary as
// a subprocess; otherwise it runs the tests and fails them if any
// goroutine outlives them.
func TestMain(m *testing.M) {
	if os.Getenv("APIKEYS_TEST_RUN_MAIN") == "1" {
		main()
		return
	}
	goleak.VerifyTestMain(m)
}

// The commands themselves are tested in internal/keyctl; this checks what
// this build adds: WorkOS only, and one line for --store naming the build
// that has it.
func TestMain_storeNeedsTheSQLBuild(t *testing.T) {
	for name, tc := range map[string]struct {
		args []string
		env  string
	}{
		"flag":        {args: []string{"list", "--org", "org_1", "--store", "sqlite:keys.db"}},
		"environment": {args: []string{"list", "--org", "org_1"}, env: "APIKEYS_STORE=postgres://u:hunter2@db/keys"},
	} {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], tc.args...)
			cmd.Env = append(os.Environ(), "APIKEYS_TEST_RUN_MAIN=1", "WORKOS_API_KEY=sk_test_unused", "WORKOS_BASE_URL=http://127.0.0.1:1")
			if tc.env != "" {
				cmd.Env = append(cmd.Env, tc.env)
			}
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var ee *exec.ExitError
			require.True(t, errors.As(err, &ee), "exit status 2 expected, got %v", err)
			assert.Equal(t, 2, ee.ExitCode())
			assert.Empty(t, stdout.String())
			assert.Equal(t, "apikeys list: --store needs the apikeys command built with the SQL store: from a clone of github.com/apikeyauth/apikey, run 'cd sqlstore && go install ./cmd/apikeys'\n", stderr.String())
		})
	}
}

func TestMain_help(t *testing.T) {
	cmd := exec.Command(os.Args[0], "--help")
	cmd.Env = append(os.Environ(), "APIKEYS_TEST_RUN_MAIN=1")
	out, err := cmd.Output()
	require.NoError(t, err)
	assert.Contains(t, string(out), "apikeys runs the life of an API key held by WorkOS.\n")
	assert.Contains(t, string(out), "only in the apikeys built\n                       from the sqlstore module (cd sqlstore && go install ./cmd/apikeys)")
}
