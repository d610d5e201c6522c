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
	w := &discard{h: http.Header{}}
	chunk := func(h http.Handler) float64 {
		start := time.Now()
		for range hitPathChunk {
			h.ServeHTTP(w, r)
		}
		return float64(time.Since(start)) / hitPathChunk
	}
	var floor, project, ratios []float64
	for i := 0; b.Loop(); i++ {
		var t [2]float64
		first := i & 1 // alternate which side runs first
		t[first] = chunk(sides[first])
		t[1-first] = chunk(sides[1-first])
		floor, project, ratios = append(floor, t[0]), append(project, t[1]), append(ratios, t[1]/t[0])
	}
	b.ReportMetric(median(floor), "floor-ns/req")
	b.ReportMetric(median(project), "apikey-ns/req")
	b.ReportMetric(median(ratios), "ratio")
}

const hitPathChunk = 250

func median(xs []float64) float64 {
	slices.Sort(xs)
	return xs[len(xs)/2]
}
