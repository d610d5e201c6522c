package main

import (
	"bufio"
	"database/sql"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// envRunMain makes the test binary run the example's main (see TestMain),
// with the arguments in envRunMain_ARGS.
const envRunMain = "OWNKEYS_RUN_MAIN"

// TestSIGTERM runs the example as a process, as a deploy does: a request
// queues its key's last use, and SIGTERM (what Docker, Kubernetes and
// systemd send) ends the process cleanly, having written that use.
func TestSIGTERM(t *testing.T) {
	path := filepath.Join(t.TempDir(), "apikeys.db")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envRunMain+"=1", envRunMain+"_ARGS=-addr 127.0.0.1:0 -db "+path)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	lines := bufio.NewScanner(stderr)
	var admin, addr string
	listening := regexp.MustCompile(`listening on http://(\S+)`)
	for addr == "" && lines.Scan() {
		if k := keyPattern.FindString(lines.Text()); k != "" {
			admin = k
		}
		if m := listening.FindStringSubmatch(lines.Text()); m != nil {
			addr = m[1]
		}
	}
	require.NotEmpty(t, admin, "the first start prints an admin key")
	require.NotEmpty(t, addr, "the example says where it listens")
	go io.Copy(io.Discard, stderr)

	req, err := http.NewRequest("GET", "http://"+addr+"/me", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+admin)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		assert.NoError(t, err, "a clean exit, not death by signal")
	case <-time.After(20 * time.Second):
		t.Fatal("the example did not stop on SIGTERM")
	}

	db, err := sql.Open("sqlite", "file:"+path)
	require.NoError(t, err)
	defer db.Close()
	var lastUsed int64
	require.NoError(t, db.QueryRow("SELECT last_used_at FROM apikey_keys WHERE name = 'admin'").Scan(&lastUsed))
	assert.NotZero(t, lastUsed, "the queued last use was written on the way out")
}
