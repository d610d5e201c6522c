package apikey

import (
	"context"
	"crypto/sha256"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// discard is a ResponseWriter that keeps nothing, so that the benchmarks
// measure the middleware rather than a recorder.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

var okHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Write([]byte("ok"))
})

func benchRequest(value string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/posts", nil)
	r.Header.Set("Authorization", "Bearer "+value)
	return r
}

func serveLoop(b *testing.B, h http.Handler, r *http.Request) {
	w := &discard{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}

// BenchmarkHandler compares a bare handler with the same handler behind the
// middleware on a cache hit, and behind the middleware and a guard.
func BenchmarkHandler(b *testing.B) {
	m, err := New(testStatic())
	if err != nil {
		b.Fatal(err)
	}
	r := benchRequest(writerValue)
	if _, err := m.Authenticate(r); err != nil { // warm the cache
		b.Fatal(err)
	}
	b.Run("bare", func(b *testing.B) { serveLoop(b, okHandler, r) })
	b.Run("authenticated", func(b *testing.B) { serveLoop(b, m.Handler(okHandler), r) })
	b.Run("authenticated+permission", func(b *testing.B) {
		serveLoop(b, m.Handler(RequirePermission("posts:write")(okHandler)), r)
	})
	b.Run("rejected-missing", func(b *testing.B) {
		serveLoop(b, m.Handler(okHandler), httptest.NewRequest(http.MethodGet, "/", nil))
	})
}

// BenchmarkHandlerParallel is the authenticated hit path under RunParallel;
// run it with -cpu 1,2 to see how it scales.
func BenchmarkHandlerParallel(b *testing.B) {
	m, err := New(testStatic())
	if err != nil {
		b.Fatal(err)
	}
	h := m.Handler(okHandler)
	values := []string{readerValue, writerValue, adminValue}
	for _, v := range values {
		if _, err := m.Authenticate(benchRequest(v)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		w := &discard{h: http.Header{}}
		reqs := []*http.Request{benchRequest(readerValue), benchRequest(writerValue), benchRequest(adminValue)}
		for i := 0; pb.Next(); i++ {
			h.ServeHTTP(w, reqs[i%len(reqs)])
		}
	})
}

// benchKeys returns n distinct key values of about 30 bytes and a
// validator that knows them.
func benchKeys(n int) ([]string, Validator) { return benchKeysOf(n, 0) }

// benchKeysOf is benchKeys with values padded to length bytes.
func benchKeysOf(n, length int) ([]string, Validator) {
	values := make([]string, n)
	keys := make(map[string]*Key, n)
	for i := range values {
		values[i] = "sk_bench_" + strconv.Itoa(i) + "_0123456789abcdef"
		if pad := length - len(values[i]); pad > 0 {
			values[i] += strings.Repeat("x", pad)
		}
		keys[values[i]] = &Key{
			ID:          "api_key_01H5JQDV7R7ATEYZDEG0W5" + strconv.Itoa(i),
			Name:        "Bench key",
			Owner:       Owner{Type: "organization", ID: "org_01H5JQDV7R7ATEYZDEG0W5PRYS"},
			Permissions: []string{"posts:read", "posts:write"},
		}
	}
	return values, ValidatorFunc(func(_ context.Context, value string) (*Key, error) {
		if k, ok := keys[value]; ok {
			return k, nil
		}
		return nil, ErrInvalidKey
	})
}

func warmCache(b *testing.B, c *Cache, values []string) {
	for _, v := range values {
		if _, err := c.Validate(context.Background(), v); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCacheHit is the hit path for keys of two lengths: Go copies a
// string converted to []byte to the heap past 32 bytes, which the Digest
// must not do.
func BenchmarkCacheHit(b *testing.B) {
	for _, length := range []int{30, 64} {
		b.Run("key="+strconv.Itoa(length)+"B", func(b *testing.B) {
			values, v := benchKeysOf(1024, length)
			c, err := NewCache(v)
			if err != nil {
				b.Fatal(err)
			}
			warmCache(b, c, values)
			ctx := context.Background()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := c.Validate(ctx, values[i&1023]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkCacheHitParallel compares the sharded cache with one that has a
// single LRU behind a single mutex. Run it with -cpu 1,2.
func BenchmarkCacheHitParallel(b *testing.B) {
	for _, shards := range []int{1, maxShards} {
		b.Run("shards="+strconv.Itoa(shards), func(b *testing.B) {
			values, v := benchKeys(1024)
			c, err := NewCache(v)
			if err != nil {
				b.Fatal(err)
			}
			c.positive = newPositiveShards(DefaultCacheSize, shards, &c.ids)
			warmCache(b, c, values)
			ctx := context.Background()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for i := 0; pb.Next(); i++ {
					if _, err := c.Validate(ctx, values[i&1023]); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkCacheMiss measures a cold key: the Digest, the coalescing, the
// detached validator call in its goroutine, and the store.
func BenchmarkCacheMiss(b *testing.B) {
	values, v := benchKeys(b.N + 1)
	c, err := NewCache(v, WithCacheSize(b.N+1))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Validate(ctx, values[i]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCacheMissOneID is BenchmarkCacheMiss with every value a key of
// one ID (a customer's keys, say, all cached): adding to the key-ID index
// must not cost more as the ID gathers values.
func BenchmarkCacheMissOneID(b *testing.B) {
	values, v := benchKeys(b.N + 1)
	one := ValidatorFunc(func(ctx context.Context, value string) (*Key, error) {
		k, err := v.Validate(ctx, value)
		if err != nil {
			return nil, err
		}
		shared := *k
		shared.ID = "api_key_shared"
		return &shared, nil
	})
	c, err := NewCache(one, WithCacheSize(b.N+1))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Validate(ctx, values[i]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCacheNegativeHit(b *testing.B) {
	_, v := benchKeys(1)
	c, err := NewCache(v)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.Validate(ctx, "sk_unknown"); err != ErrInvalidKey {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Validate(ctx, "sk_unknown"); err != ErrInvalidKey {
			b.Fatal(err)
		}
	}
}

// BenchmarkCacheMemory reports the heap that 100,000 cached keys take,
// per entry and in all: what the cache adds, not the *Keys, which the
// validator built before the first reading. "default" is the default
// configuration; "known-key-list" has a bound per second, so that the cache
// also remembers the keys it validated in its list of known keys.
func BenchmarkCacheMemory(b *testing.B) {
	const n = 100_000
	for _, bc := range []struct {
		name string
		opts []Option
	}{
		{"default", nil},
		{"known-key-list", []Option{WithValidationRate(1e9, 1e6)}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				values, v := benchKeys(n)
				runtime.GC()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				// Room to spare: shards fill unevenly.
				c, err := NewCache(v, append(bc.opts, WithCacheSize(2*n))...)
				if err != nil {
					b.Fatal(err)
				}
				warmCache(b, c, values)
				runtime.GC()
				runtime.ReadMemStats(&after)
				if got := c.Stats().Size; got != n {
					b.Fatalf("cached %d keys, want %d", got, n)
				}
				bytes := float64(after.HeapAlloc - before.HeapAlloc)
				b.ReportMetric(bytes/n, "heapB/entry")
				b.ReportMetric(bytes/(1<<20), "MiB/100k")
				runtime.KeepAlive(c)
				runtime.KeepAlive(values)
			}
		})
	}
}

// BenchmarkControlParallel is pure CPU work (the SHA-256 every hit makes)
// under RunParallel, with no shared state. On a shared machine the cores are
// not always free: compare how the cache-hit benchmarks scale from -cpu 1
// to -cpu 2 with how this one does in the same run.
func BenchmarkControlParallel(b *testing.B) {
	b.RunParallel(func(pb *testing.PB) {
		var d Digest
		for pb.Next() {
			d = sha256.Sum256([]byte(writerValue))
		}
		_ = d
	})
}

// BenchmarkHitPathLimited compares the authenticated hit path of a key
// without limits with that of a key with one in-process limit (and with
// two, and with a fixed route cost), side by side in one run: the cost of
// the limiter and of the RateLimit fields.
func BenchmarkHitPathLimited(b *testing.B) {
	plain := Key{ID: "key_plain", Owner: Owner{Type: "organization", ID: "org_1"}}
	one, two := plain, plain
	one.ID, one.Limits = "key_one", []Limit{{Rate: 1_000_000_000, Period: time.Second}}
	two.ID, two.Limits = "key_two", []Limit{{Rate: 1_000_000_000, Period: time.Second}, {Name: "org", Rate: 1_000_000_000, Period: time.Second, Scope: ScopeOwner}}
	static, err := NewStatic(map[string]Key{readerValue: plain, writerValue: one, adminValue: two})
	if err != nil {
		b.Fatal(err)
	}
	m, err := New(static)
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name, value string
		h           http.Handler
	}{
		{"no-limit", readerValue, m.Handler(okHandler)},
		{"one-limit", writerValue, m.Handler(okHandler)},
		{"two-limits", adminValue, m.Handler(okHandler)},
		{"one-limit-cost-2", writerValue, m.Cost(2)(okHandler)},
	} {
		r := benchRequest(tc.value)
		if _, err := m.Authenticate(r); err != nil { // warm the cache
			b.Fatal(err)
		}
		b.Run(tc.name, func(b *testing.B) {
			w := &discard{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				tc.h.ServeHTTP(w, r)
			}
		})
	}
}

// BenchmarkHitPathLimitedCost runs the hit path of a key without limits
// and of a key with one in-process limit in alternating chunks, as
// BenchmarkHitPathRatio does, and reports the median of the rounds'
// differences: what one limit adds to a request, the RateLimit fields
// included.
func BenchmarkHitPathLimitedCost(b *testing.B) {
	plain := Key{ID: "key_plain", Owner: Owner{Type: "organization", ID: "org_1"}}
	one := plain
	one.ID, one.Limits = "key_one", []Limit{{Rate: 1_000_000_000, Period: time.Second}}
	static, err := NewStatic(map[string]Key{readerValue: plain, writerValue: one})
	if err != nil {
		b.Fatal(err)
	}
	m, err := New(static)
	if err != nil {
		b.Fatal(err)
	}
	rs := [2]*http.Request{benchRequest(readerValue), benchRequest(writerValue)}
	h := m.Handler(opaque)
	for _, r := range rs {
		if _, err := m.Authenticate(r); err != nil { // warm the cache
			b.Fatal(err)
		}
	}
	plainNs, limitedNs, ratio, added := interleave(b, [2]http.Handler{h, h}, rs)
	b.ReportMetric(plainNs, "no-limit-ns/req")
	b.ReportMetric(limitedNs, "one-limit-ns/req")
	b.ReportMetric(ratio, "ratio")
	b.ReportMetric(added, "added-ns/req")
}

// BenchmarkLimitParts measures the parts of a limited request alone: the
// LocalLimiter's Allow (a clock read, a shard's lock, a map lookup) and
// the formatting of the RateLimit fields into a header.
func BenchmarkLimitParts(b *testing.B) {
	l, err := NewLocalLimiter()
	if err != nil {
		b.Fatal(err)
	}
	key := &Key{ID: "api_key_01H5JQDV7R7ATEYZDEG0W5PRYS", Owner: Owner{Type: "organization", ID: "org_1"}}
	limits := []Limit{{Rate: 1_000_000_000, Period: time.Second}}
	ds := make([]Decision, 1)
	ctx := context.Background()
	b.Run("allow", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = l.Allow(ctx, key, limits, 1, ds)
		}
	})
	b.Run("fields", func(b *testing.B) {
		h := http.Header{}
		var s limitScratch
		b.ReportAllocs()
		for b.Loop() {
			setRateLimitFields(h, limits, ds, nil, &s)
		}
	})
	b.Run("clock", func(b *testing.B) {
		for b.Loop() {
			_ = l.elapsed()
		}
	})
}
