package apikey

import (
	"context"
	"net/http"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// bytesPerRun is testing.AllocsPerRun for bytes: the heap bytes f
// allocates on average, rounded down.
func bytesPerRun(runs int, f func()) uint64 {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	f() // warm up
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / uint64(runs)
}

// servedHit returns h serving a request with a key it has cached.
func servedHit(t *testing.T, h http.Handler) func() {
	t.Helper()
	r := keyRequest(writerValue)
	w := &discard{h: http.Header{}}
	h.ServeHTTP(w, r) // warm the cache
	return func() { h.ServeHTTP(w, r) }
}

// The hit path allocates what the floor does (the request's copy and its
// context), and no more bytes; a Request hook adds no allocation and no
// byte: its context is the size of the bare one.
func TestAllocsHitPath(t *testing.T) {
	m, err := New(testStatic())
	require.NoError(t, err)
	key, err := m.Authenticate(keyRequest(writerValue))
	require.NoError(t, err)
	hooked, err := New(testStatic(), WithHooks(Hooks{Request: func(RequestEvent) {}}))
	require.NoError(t, err)

	floor := servedHit(t, floorHandler(okHandler, map[Digest]*Key{DigestOf(writerValue): key}))
	hit := servedHit(t, m.Handler(okHandler))
	hookedHit := servedHit(t, hooked.Handler(okHandler))

	floorAllocs := testing.AllocsPerRun(500, floor)
	assert.Equal(t, floorAllocs, testing.AllocsPerRun(500, hit), "the hit path allocates what the floor does")
	assert.Equal(t, floorAllocs, testing.AllocsPerRun(500, hookedHit), "a Request hook adds no allocation")

	floorBytes, hitBytes, hookedBytes := bytesPerRun(1000, floor), bytesPerRun(1000, hit), bytesPerRun(1000, hookedHit)
	t.Logf("bytes per request: floor %d, hit %d, with a Request hook %d", floorBytes, hitBytes, hookedBytes)
	assert.LessOrEqual(t, hitBytes, floorBytes)
	assert.LessOrEqual(t, hookedBytes, hitBytes, "a Request hook adds no byte")

	c, err := NewCache(testStatic())
	require.NoError(t, err)
	ctx := context.Background()
	_, err = c.Validate(ctx, writerValue)
	require.NoError(t, err)
	assert.Zero(t, testing.AllocsPerRun(500, func() { c.Validate(ctx, writerValue) }), "a cache hit allocates nothing")
}

// A miss allocates 8 times (the bound is 12): the flight and its
// two channels, the call's timer and its function, the detached values,
// the goroutine's function and the entry. Pinned at what it is, so that one more
// shows, rather than at the bound, which four more would pass.
func TestAllocsMissPath(t *testing.T) {
	const runs = 500
	values, v := benchKeys(runs + 1)
	c, err := NewCache(v, WithCacheSize(2*runs))
	require.NoError(t, err)
	ctx := context.Background()
	i := 0
	allocs := testing.AllocsPerRun(runs, func() {
		if _, err := c.Validate(ctx, values[i]); err != nil {
			t.Fatal(err)
		}
		i++
	})
	t.Logf("allocations per miss: %v", allocs)
	assert.Equal(t, 8.0, allocs)
}

// A miss runs the validator on one goroutine, which is also where the
// answer is stored: no other goroutine waits on the call. (That it ends is
// goleak's to check, in TestMain.) Counted are the new goroutines that run
// a Cache's code: not a coarse clock's refresh, which the hit-path test's
// cache may still run a tick later (it made a count of every goroutine of
// the package fail about once in 40 runs).
func TestMissStartsOneGoroutine(t *testing.T) {
	called, release := make(chan struct{}), make(chan struct{})
	c, _ := newTestCache(t, ValidatorFunc(func(context.Context, string) (*Key, error) {
		close(called)
		<-release
		return &Key{ID: "key_1"}, nil
	}))
	before := goroutineStacks()
	done := make(chan error)
	go func() { // the request: one goroutine
		_, err := c.Validate(context.Background(), "sk_1")
		done <- err
	}()
	<-called
	during := goroutineStacks()
	close(release)
	require.NoError(t, <-done)
	assert.Equal(t, 2, newGoroutines(before, during, "apikey.(*Cache)."), "the request and the call")
}
