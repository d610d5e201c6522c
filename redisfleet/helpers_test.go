package redisfleet

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/apikeyauth/apikey"
)

// redisAddr is the Redis the tests use.
func redisAddr() string {
	if a := os.Getenv("APIKEY_TEST_REDIS"); a != "" {
		return a
	}
	return "127.0.0.1:6379"
}

// testRedis returns options for the test Redis and a key prefix of the
// test's own, deleted at the end. It skips the test when Redis does not
// answer, or fails it when APIKEY_TEST_REQUIRE_SERVICES=1.
func testRedis(t testing.TB) (*redis.Options, string) {
	t.Helper()
	opt := &redis.Options{Addr: redisAddr()}
	admin := redis.NewClient(opt)
	t.Cleanup(func() { _ = admin.Close() })
	if err := pingRedis(admin); err != nil {
		requireService(t, fmt.Sprintf("no Redis answers at %s (set APIKEY_TEST_REDIS): %v", opt.Addr, err))
	}
	prefix := fmt.Sprintf("apikeytest-%s-%s", strings.ReplaceAll(t.Name(), "/", "-"), randomToken()[:8])
	t.Cleanup(func() { deletePrefix(t, admin, prefix) })
	return opt, prefix
}

// pingRedis pings the test Redis once per run: when it does not answer,
// every test that needs it skips at once rather than after its own timeout.
var pingRedis = func() func(*redis.Client) error {
	var once sync.Once
	var err error
	return func(c *redis.Client) error {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			err = c.Ping(ctx).Err()
		})
		return err
	}
}()

// deletePrefix deletes every key of a fleet's prefix, as a flush would.
func deletePrefix(t testing.TB, c *redis.Client, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	iter := c.Scan(ctx, 0, "{"+prefix+"}:*", 1000).Iterator()
	for iter.Next(ctx) {
		require.NoError(t, c.Del(ctx, iter.Val()).Err())
	}
	require.NoError(t, iter.Err())
}

// upstream is a key store standing for WorkOS: it counts its calls and can
// revoke keys. Its zero value holds no key.
type upstream struct {
	mu      sync.Mutex
	keys    map[string]*apikey.Key // by value
	revoked map[string]bool        // by ID
	calls   atomic.Int64
	delay   time.Duration
	gate    chan struct{} // when set, each call waits for a receive from it
}

func newUpstream(values ...string) *upstream {
	u := &upstream{keys: map[string]*apikey.Key{}, revoked: map[string]bool{}}
	for i, v := range values {
		u.keys[v] = &apikey.Key{ID: fmt.Sprintf("key_%d", i), Name: "test key", Permissions: []string{"posts:read"}}
	}
	return u
}

func (u *upstream) Validate(ctx context.Context, value string) (*apikey.Key, error) {
	u.calls.Add(1)
	if u.gate != nil {
		select {
		case <-u.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if u.delay > 0 {
		time.Sleep(u.delay)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	k, ok := u.keys[value]
	if !ok || u.revoked[k.ID] {
		return nil, apikey.ErrInvalidKey
	}
	return k, nil
}

// add adds keys for values, with IDs after the others'.
func (u *upstream) add(values ...string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, v := range values {
		u.keys[v] = &apikey.Key{ID: fmt.Sprintf("key_%d", len(u.keys)), Name: "test key", Permissions: []string{"posts:read"}}
	}
}

// idOf returns the ID of value's key.
func (u *upstream) idOf(value string) string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.keys[value].ID
}

func (u *upstream) revoke(id string) {
	u.mu.Lock()
	u.revoked[id] = true
	u.mu.Unlock()
}

// replica is one process's share of a fleet: a cache in front of the
// upstream, and the Fleet that connects it to the others.
type replica struct {
	fleet *Fleet
	cache *apikey.Cache
}

// testOptions are the options every test fleet gets: a short block time,
// so that a flush is noticed quickly, quiet logs, and a timeout long enough
// that a loaded machine does not make a call to a Redis that works time out
// (a replica whose first call fails purges its cache when it gets through,
// as it should). The tests of a Redis that does not answer set their own.
func testOptions(prefix string) []Option {
	return []Option{WithPrefix(prefix), WithBlock(50 * time.Millisecond), WithTimeout(2 * time.Second), WithLogger(discard)}
}

// newReplica starts a replica on opt, closed at the end of the test.
func newReplica(t testing.TB, opt *redis.Options, up apikey.Validator, opts ...Option) *replica {
	t.Helper()
	f, err := New(opt, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, f.Close()) })
	cache, err := apikey.NewCache(f.Validator(up), apikey.WithHooks(f.Hooks()))
	require.NoError(t, err)
	require.NoError(t, f.Attach(cache))
	r := &replica{fleet: f, cache: cache}
	r.waitConnected(t)
	return r
}

func (r *replica) waitConnected(t testing.TB) {
	t.Helper()
	require.Eventually(t, func() bool { return r.fleet.Stats().Connected }, 5*time.Second, time.Millisecond,
		"the reader never reached Redis")
}

func (r *replica) validate(value string) error {
	_, err := r.cache.Validate(context.Background(), value)
	return err
}

var discard = slog.New(slog.DiscardHandler)

// slogTo returns a logger that writes text lines to b.
func slogTo(b *syncBuffer) *slog.Logger { return slog.New(slog.NewTextHandler(b, nil)) }

// syncBuffer is a bytes.Buffer safe for concurrent writers: a Fleet logs
// from its own goroutines.
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

func requireServices() bool { return os.Getenv("APIKEY_TEST_REQUIRE_SERVICES") == "1" }
