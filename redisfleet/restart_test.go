package redisfleet

import (
	"context"
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apikeyauth/apikey"
)

// redisServer is a redis-server of the test's own, on a loopback port,
// without persistence unless args say otherwise, that the test can stop
// and start again.
type redisServer struct {
	port string
	cmd  *exec.Cmd
}

func startRedisServer(t *testing.T, port string, args ...string) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		requireService(t, "redis-server is not installed, so Redis cannot be restarted: "+err.Error())
	}
	if port == "" {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		port = strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
		require.NoError(t, ln.Close())
	}
	s := &redisServer{port: port, cmd: exec.Command(bin, append([]string{"--bind", "127.0.0.1", "--port", port,
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"}, args...)...)}
	require.NoError(t, s.cmd.Start())
	t.Cleanup(s.stop)
	c := redis.NewClient(s.options())
	defer c.Close()
	require.Eventually(t, func() bool { return c.Ping(context.Background()).Err() == nil }, 10*time.Second, 10*time.Millisecond,
		"redis-server on port %s never answered", port)
	return s
}

func (s *redisServer) options() *redis.Options { return &redis.Options{Addr: "127.0.0.1:" + s.port} }

func (s *redisServer) stop() {
	if s.cmd.ProcessState == nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
	}
}

// TestRedisRestarts stops the fleet's Redis and starts it again, empty:
// meanwhile the replicas answer alone; once it is back they reconnect by
// themselves and purge, since they cannot know what was lost with it.
func TestRedisRestarts(t *testing.T) {
	srv := startRedisServer(t, "")
	const value = "sk_test_restart"
	up := newUpstream(value)
	opts := append(testOptions("restart"), WithSharedCache(10*time.Second))
	rs := []*replica{newReplica(t, srv.options(), up, opts...), newReplica(t, srv.options(), up, opts...)}
	for _, r := range rs {
		require.NoError(t, r.validate(value))
	}

	srv.stop()
	for _, r := range rs {
		require.Eventually(t, func() bool { return !r.fleet.Stats().Connected }, 5*time.Second, time.Millisecond)
		assert.NoError(t, r.validate(value), "served from the local cache while Redis is away")
	}
	startRedisServer(t, srv.port)

	for i, r := range rs {
		require.Eventually(t, func() bool { return r.fleet.Stats().Purges == 1 }, 10*time.Second, time.Millisecond, "replica %d", i)
		assert.True(t, r.fleet.Stats().Connected)
		assert.Zero(t, r.cache.Stats().Size)
	}
	up.revoke("key_0")
	assert.ErrorIs(t, rs[0].validate(value), apikey.ErrInvalidKey, "validated again, not from a stale entry")
}

// requireService skips the test with msg, or fails it when the CI asks for
// every service (APIKEY_TEST_REQUIRE_SERVICES=1).
func requireService(t testing.TB, msg string) {
	t.Helper()
	if requireServices() {
		t.Fatal(msg)
	}
	t.Skip(msg)
}
