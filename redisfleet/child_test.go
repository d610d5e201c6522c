package redisfleet

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apikeyauth/apikey"
)

// childEnv, set in a child's environment, makes the test binary run as a
// child replica (runChild) instead of running the tests.
const (
	childEnv         = "REDISFLEET_TEST_CHILD"
	childPrefixEnv   = "REDISFLEET_TEST_PREFIX"
	childUpstreamEnv = "REDISFLEET_TEST_UPSTREAM"
	childValueEnv    = "REDISFLEET_TEST_VALUE"
	// childModeEnv "serve" makes the child serve HTTP (runServer).
	childModeEnv = "REDISFLEET_TEST_MODE"
)

// TestSeparateProcesses runs two replicas as processes of their own beside
// this one: a key revoked here is refused there.
func TestSeparateProcesses(t *testing.T) {
	opt, prefix := testRedis(t)
	const value = "sk_test_separate_processes"
	up := newUpstream(value)
	srv := httptest.NewServer(upstreamHandler(up))
	defer srv.Close()
	here := newReplica(t, opt, up, testOptions(prefix)...)
	require.NoError(t, here.validate(value))

	var children []*child
	for range 2 {
		children = append(children, startChild(t, map[string]string{
			"APIKEY_TEST_REDIS": opt.Addr, childPrefixEnv: prefix, childUpstreamEnv: srv.URL, childValueEnv: value,
		}))
	}
	for _, c := range children {
		require.Equal(t, "warm", c.line(t), "the child validated the key")
	}
	callsBefore := up.calls.Load()
	up.revoke("key_0")
	here.cache.InvalidateID("key_0")
	for _, c := range children {
		assert.Equal(t, "refused", c.line(t))
		require.NoError(t, c.wait(), "the child's stderr: %s", c.stderr.String())
	}
	assert.Equal(t, callsBefore+2, up.calls.Load(), "each child asked the upstream once, after the revocation")
}

// upstreamHandler serves up over HTTP to the child replicas: the body is
// the key value, the answer the key in JSON, or 401.
func upstreamHandler(up *upstream) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		value, _ := io.ReadAll(r.Body)
		key, err := up.Validate(r.Context(), string(value))
		if err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_ = json.NewEncoder(w).Encode(key)
	})
}

// child is a child replica: a process running this test binary.
type child struct {
	cmd    *exec.Cmd
	out    *bufio.Scanner
	lines  chan string
	stderr syncBuffer // written by exec while the test reads it
}

func startChild(t *testing.T, env map[string]string) *child {
	t.Helper()
	c := &child{cmd: exec.Command(os.Args[0], "-test.run=^$"), lines: make(chan string)}
	c.cmd.Env = append(os.Environ(), childEnv+"=1")
	for k, v := range env {
		c.cmd.Env = append(c.cmd.Env, k+"="+v)
	}
	c.cmd.Stderr = &c.stderr
	stdout, err := c.cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, c.cmd.Start())
	t.Cleanup(func() { _ = c.cmd.Process.Kill(); _ = c.cmd.Wait() })
	go func() {
		defer close(c.lines)
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			c.lines <- s.Text()
		}
	}()
	return c
}

func (c *child) line(t *testing.T) string {
	t.Helper()
	select {
	case l, ok := <-c.lines:
		if !ok {
			t.Fatalf("the child ended early; its stderr: %s", c.stderr.String())
		}
		return l
	case <-time.After(20 * time.Second):
		t.Fatalf("the child said nothing for 20s; its stderr: %s", c.stderr.String())
	}
	return ""
}

func (c *child) wait() error {
	for range c.lines { // the reader goroutine ends with stdout
	}
	return c.cmd.Wait()
}

// runChild is a child replica: it validates its key through the parent's
// upstream, says "warm", then says "refused" as soon as its cache refuses
// the key, which only an invalidation from the parent can bring about.
func runChild() int {
	run := childMain
	switch os.Getenv(childModeEnv) {
	case "serve":
		run = runServer
	case "limit":
		run = runLimitChild
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	return 0
}

// childUpstream is the parent's upstream, over HTTP (upstreamHandler).
func childUpstream() apikey.Validator {
	return apikey.ValidatorFunc(func(ctx context.Context, value string) (*apikey.Key, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, os.Getenv(childUpstreamEnv), strings.NewReader(value))
		if err != nil {
			return nil, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode == http.StatusUnauthorized {
			return nil, apikey.ErrInvalidKey
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("the upstream answered %s", resp.Status)
		}
		var key apikey.Key
		return &key, json.NewDecoder(resp.Body).Decode(&key)
	})
}

// listenLoopback listens on a free loopback port.
func listenLoopback() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }

func childMain() error {
	up := childUpstream()
	f, err := New(&redis.Options{Addr: redisAddr()}, testOptions(os.Getenv(childPrefixEnv))...)
	if err != nil {
		return err
	}
	defer f.Close()
	cache, err := apikey.NewCache(f.Validator(up), apikey.WithHooks(f.Hooks()))
	if err != nil {
		return err
	}
	if err := f.Attach(cache); err != nil {
		return err
	}
	value := os.Getenv(childValueEnv)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for !f.Stats().Connected && ctx.Err() == nil {
		time.Sleep(time.Millisecond)
	}
	if _, err := cache.Validate(ctx, value); err != nil {
		return fmt.Errorf("warming: %w", err)
	}
	fmt.Println("warm")
	for ctx.Err() == nil {
		_, err := cache.Validate(ctx, value)
		if errors.Is(err, apikey.ErrInvalidKey) {
			fmt.Println("refused")
			return nil
		}
		time.Sleep(time.Millisecond)
	}
	return errors.New("the key was never refused")
}
