package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apikeyauth/apikey/sqlstore/sqlstoretest"
)

// testRedisURL returns a URL for the test Redis and a prefix of the test's
// own, whose keys are deleted at the end. It skips the test when Redis does
// not answer, or fails it when APIKEY_TEST_REQUIRE_SERVICES=1.
func testRedisURL(t *testing.T) (string, string) {
	t.Helper()
	addr := os.Getenv("APIKEY_TEST_REDIS")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	admin := redis.NewClient(&redis.Options{Addr: addr})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := admin.Ping(ctx).Err(); err != nil {
		_ = admin.Close()
		msg := fmt.Sprintf("no Redis answers at %s (set APIKEY_TEST_REDIS): %v", addr, err)
		if os.Getenv(sqlstoretest.EnvRequireServices) == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	prefix := fmt.Sprintf("apikeytest-ownkeys-%d", time.Now().UnixNano())
	t.Cleanup(func() {
		defer admin.Close()
		keys, err := admin.Keys(context.Background(), "{"+prefix+"}:*").Result()
		require.NoError(t, err)
		if len(keys) > 0 {
			require.NoError(t, admin.Del(context.Background(), keys...).Err())
		}
	})
	return "redis://" + addr + "/0", prefix
}

// Two replicas on one database share a key's rate limit through Redis:
// together they let through what one would. Without Redis each counts
// alone, and the two let through twice as much.
func TestRateLimitAcrossReplicas(t *testing.T) {
	redisURL, prefix := testRedisURL(t)
	for _, shared := range []bool{true, false} {
		t.Run(fmt.Sprintf("redis=%v", shared), func(t *testing.T) {
			ctx := context.Background()
			cfg := config{dsn: sqlstoretest.SQLite(t)}
			if shared {
				cfg.redisURL, cfg.redisPrefix = redisURL, prefix
			}
			var stderr bytes.Buffer
			a1, err := newApp(ctx, cfg, &stderr)
			require.NoError(t, err)
			defer a1.Close()
			a2, err := newApp(ctx, cfg, &bytes.Buffer{})
			require.NoError(t, err)
			defer a2.Close()
			admin := keyPattern.FindString(stderr.String())
			require.NotEmpty(t, admin)
			c1, c2 := &client{t: t, h: a1.handler}, &client{t: t, h: a2.handler}
			w := c1.do("POST", "/admin/keys", admin, `{"name":"limited","permissions":["posts:read"],"rate_limit":{"limit":4,"period":"1h"}}`)
			require.Equal(t, 201, w.Code, w.Body.String())
			value := keyPattern.FindString(w.Body.String())
			allowed := 0
			for i := range 10 {
				if (map[bool]*client{true: c1, false: c2})[i%2 == 0].do("GET", "/posts", value, "").Code == 200 {
					allowed++
				}
			}
			if shared {
				assert.Equal(t, 4, allowed, "4 an hour between the two replicas")
			} else {
				assert.Equal(t, 8, allowed, "4 an hour in each replica")
			}
		})
	}
}

// A Redis URL that does not parse is refused at start, without repeating
// it (it may hold a password), and nothing is left open.
func TestBadRedisURL(t *testing.T) {
	a, err := newApp(context.Background(), config{dsn: sqlstoretest.SQLite(t), redisURL: "http://user:hunter2@127.0.0.1"}, &bytes.Buffer{})
	assert.Nil(t, a)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "hunter2")
	assert.Contains(t, err.Error(), "REDIS_URL")
}
