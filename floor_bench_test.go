package apikey

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// floorKey is the floor's context key.
type floorKey struct{}

// floorHandler is the least any API-key middleware with a cache does on a
// hit: read the bearer value, hash it, look the digest up in a map under a
// read lock, and pass the request on with the key in its context. It keeps
// no LRU, no expiry, no counters and no hooks.
func floorHandler(next http.Handler, keys map[Digest]*Key) http.Handler {
	var mu sync.RWMutex
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		value, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		d := DigestOf(value)
		mu.RLock()
		key := keys[d]
		mu.RUnlock()
		if key == nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), floorKey{}, key)))
	})
}

// opaque is the next handler of both sides of BenchmarkHitPath, behind an
// interface the compiler cannot see through.
var opaque http.Handler = okHandler

// BenchmarkHitPath is the middleware's cache hit beside the floor, in one
// binary, one sub-benchmark after the other on every round of -count, so
// that their figures share the machine's moods: compare them as a ratio.
func BenchmarkHitPath(b *testing.B) {
	m, err := New(testStatic())
	if err != nil {
		b.Fatal(err)
	}
	r := benchRequest(writerValue)
	key, err := m.Authenticate(r) // warm the cache
	if err != nil {
		b.Fatal(err)
	}
	b.Run("floor", func(b *testing.B) {
		serveLoop(b, floorHandler(opaque, map[Digest]*Key{DigestOf(writerValue): key}), r)
	})
	b.Run("apikey", func(b *testing.B) { serveLoop(b, m.Handler(opaque), r) })
}

// BenchmarkHitPathRatio runs the floor and the middleware's hit in
// alternating chunks of hitPathChunk requests, each b.N rounds, and
// reports the median of each side's time per request and the median of
// the rounds' ratios: two chunks of one round run a millisecond apart, so
// that a busy machine slows both alike.
func BenchmarkHitPathRatio(b *testing.B) {
	m, err := New(testStatic())
	if err != nil {
		b.Fatal(err)
	}
	r := benchRequest(writerValue)
	key, err := m.Authenticate(r)
	if err != nil {
		b.Fatal(err)
	}
	sides := [2]http.Handler{floorHandler(opaque, map[Digest]*Key{DigestOf(writerValue): key}), m.Handler(opaque)}
	floor, project, ratio, _ := interleave(b, sides, [2]*http.Request{r, r})
	b.ReportMetric(floor, "floor-ns/req")
	b.ReportMetric(project, "apikey-ns/req")
	b.ReportMetric(ratio, "ratio")
}

// interleave serves rs[0] with sides[0] and rs[1] with sides[1] in
// alternating chunks of hitPathChunk requests, b.N rounds, and returns the
// median of each side's time per request, and the medians of the rounds'
// ratios (the second side over the first) and differences, in ns: two
// chunks of one round run a millisecond apart, so that a busy machine
// slows both alike.
func interleave(b *testing.B, sides [2]http.Handler, rs [2]*http.Request) (first, second, ratio, diff float64) {
	w := &discard{h: http.Header{}}
	chunk := func(h http.Handler, r *http.Request) float64 {
		start := time.Now()
		for range hitPathChunk {
			clear(w.h)
			h.ServeHTTP(w, r)
		}
		return float64(time.Since(start)) / hitPathChunk
	}
	var ts [2][]float64
	var ratios, diffs []float64
	for i := 0; b.Loop(); i++ {
		var t [2]float64
		a := i & 1 // alternate which side runs first
		t[a] = chunk(sides[a], rs[a])
		t[1-a] = chunk(sides[1-a], rs[1-a])
		ts[0], ts[1] = append(ts[0], t[0]), append(ts[1], t[1])
		ratios, diffs = append(ratios, t[1]/t[0]), append(diffs, t[1]-t[0])
	}
	return median(ts[0]), median(ts[1]), median(ratios), median(diffs)
}

const hitPathChunk = 250

func median(xs []float64) float64 {
	slices.Sort(xs)
	return xs[len(xs)/2]
}
