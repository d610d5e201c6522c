package redisfleet

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apikeyauth/apikey"
)

// propagationBound is how long after a revocation is acknowledged every
// connected replica refuses the key, with the children's options: a read
// of 50ms, a timeout of 500ms, and room for a loaded machine.
const propagationBound = 3 * time.Second

// ackChildValues is how many keys the acknowledgement test revokes at once.
const ackChildValues = 40

// TestAcknowledgedRevocation runs three replicas as processes of their own
// on a Redis of the test's own, with long TTLs (a minute, local and shared)
// so that only invalidations can make them refuse a key. A revocation that
// one replica acknowledged is never served by any replica after the
// propagation bound:
//   - when the revoking replica is SIGKILLed right after acknowledging
//     (the replica started again in its place included, which must not
//     find the keys in the shared cache);
//   - and when Redis is stopped, or hangs, at acknowledgement time: then it
//     is not acknowledged, and the retry once Redis is back is.
func TestAcknowledgedRevocation(t *testing.T) {
	srv := startRedisServer(t, "")
	values := make([]string, ackChildValues)
	for i := range values {
		values[i] = fmt.Sprintf("sk_test_ack_%02d", i)
	}
	up := newUpstream(values...)
	upstream := httptest.NewServer(upstreamHandler(up))
	defer upstream.Close()
	env := map[string]string{"APIKEY_TEST_REDIS": "127.0.0.1:" + srv.port, childPrefixEnv: "ack", childUpstreamEnv: upstream.URL}
	replicas := []*server{startServer(t, env), startServer(t, env), startServer(t, env)}
	for _, r := range replicas {
		for _, v := range values {
			require.Equal(t, http.StatusOK, r.check(t, v), "warming")
		}
	}

	// The revoking replica acknowledges every revocation, and is killed the
	// moment the last answer arrives. One it could not acknowledge in time
	// (a loaded machine) is delivered again, as WorkOS would.
	var wg sync.WaitGroup
	for i := range values {
		up.revoke(fmt.Sprintf("key_%d", i))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for try := 0; replicas[0].revoke(t, fmt.Sprintf("key_%d", i)) != http.StatusOK; try++ {
				if !assert.Less(t, try, 20, "never acknowledged") {
					return
				}
			}
		}()
	}
	wg.Wait()
	require.NoError(t, replicas[0].cmd.Process.Kill())
	acked := time.Now()
	replicas[0] = startServer(t, env)
	for _, r := range replicas {
		r.refusesWithin(t, values, acked.Add(propagationBound))
	}

	// Redis stopped: not acknowledged; acknowledged once it is back.
	fresh := make([]string, 4)
	for i := range fresh {
		fresh[i] = fmt.Sprintf("sk_test_ack_fresh_%d", i)
	}
	up.add(fresh...)
	for _, r := range replicas {
		for _, v := range fresh {
			require.Equal(t, http.StatusOK, r.check(t, v), "warming")
		}
	}
	id := func(v string) string { return up.idOf(v) }
	up.revoke(id(fresh[0]))
	srv.stop()
	assert.Equal(t, http.StatusServiceUnavailable, replicas[1].revoke(t, id(fresh[0])), "not acknowledged while Redis is stopped")
	srv = startRedisServer(t, srv.port)
	require.Eventually(t, func() bool { return replicas[1].revoke(t, id(fresh[0])) == http.StatusOK }, 10*time.Second, 50*time.Millisecond,
		"acknowledged once Redis is back, as a redelivery would be")
	acked = time.Now()
	for _, r := range replicas {
		r.refusesWithin(t, fresh[:1], acked.Add(propagationBound))
	}

	// Redis hangs: not acknowledged, within the bound.
	for _, r := range replicas {
		require.Equal(t, http.StatusOK, r.check(t, fresh[1]), "warm again")
	}
	up.revoke(id(fresh[1]))
	require.NoError(t, srv.cmd.Process.Signal(syscall.SIGSTOP))
	start := time.Now()
	assert.Equal(t, http.StatusServiceUnavailable, replicas[2].revoke(t, id(fresh[1])), "not acknowledged while Redis hangs")
	assert.Less(t, time.Since(start), propagationBound, "a bounded wait")
	require.NoError(t, srv.cmd.Process.Signal(syscall.SIGCONT))
	require.Eventually(t, func() bool { return replicas[2].revoke(t, id(fresh[1])) == http.StatusOK }, 10*time.Second, 50*time.Millisecond)
	acked = time.Now()
	for _, r := range replicas {
		r.refusesWithin(t, fresh[1:2], acked.Add(propagationBound))
	}
}

// server is a child replica serving HTTP (runServer): GET /check with the
// key in X-Key answers 200 or 401, POST /revoke?id= answers 200 once the
// revocation is acknowledged, 503 otherwise.
type server struct {
	*child
	url string
}

func startServer(t *testing.T, env map[string]string) *server {
	t.Helper()
	e := map[string]string{childModeEnv: "serve"}
	for k, v := range env {
		e[k] = v
	}
	c := startChild(t, e)
	addr, ok := strings.CutPrefix(c.line(t), "listening ")
	require.True(t, ok, "the child's first line")
	return &server{child: c, url: "http://" + addr}
}

func (s *server) do(t *testing.T, method, path, value string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, s.url+path, nil)
	require.NoError(t, err)
	req.Header.Set("X-Key", value)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err, "the child's stderr: %s", s.stderr.String())
	_ = resp.Body.Close()
	return resp.StatusCode
}

func (s *server) check(t *testing.T, value string) int {
	return s.do(t, http.MethodGet, "/check", value)
}
func (s *server) revoke(t *testing.T, id string) int {
	return s.do(t, http.MethodPost, "/revoke?id="+id, "")
}

// refusesWithin requires that s refuses every one of values by deadline,
// and still does after it.
func (s *server) refusesWithin(t *testing.T, values []string, deadline time.Time) {
	t.Helper()
	for {
		served := 0
		for _, v := range values {
			if s.check(t, v) == http.StatusOK {
				served++
			}
		}
		if served == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d acknowledged revocations still served past the propagation bound", served, len(values))
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, v := range values {
		assert.Equal(t, http.StatusUnauthorized, s.check(t, v))
	}
}

// runServer is a child replica serving HTTP: see server.
func runServer() error {
	f, err := New(&redis.Options{Addr: redisAddr()}, WithPrefix(os.Getenv(childPrefixEnv)), WithBlock(50*time.Millisecond),
		WithTimeout(500*time.Millisecond), WithSharedCache(time.Minute), WithLogger(discard))
	if err != nil {
		return err
	}
	defer f.Close()
	cache, err := apikey.NewCache(f.Validator(childUpstream()), apikey.WithHooks(f.Hooks()), apikey.WithCacheTTL(time.Minute))
	if err != nil {
		return err
	}
	if err := f.Attach(cache); err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /check", func(w http.ResponseWriter, r *http.Request) {
		_, err := cache.Validate(r.Context(), r.Header.Get("X-Key"))
		switch {
		case err == nil:
		case errors.Is(err, apikey.ErrInvalidKey):
			w.WriteHeader(http.StatusUnauthorized)
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	mux.HandleFunc("POST /revoke", func(w http.ResponseWriter, r *http.Request) {
		if err := f.Revoke(r.Context(), apikey.Invalidation{ID: r.URL.Query().Get("id")}); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	ln, err := listenLoopback()
	if err != nil {
		return err
	}
	fmt.Println("listening", ln.Addr())
	return http.Serve(ln, mux)
}
