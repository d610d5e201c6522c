package sqlstore

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/apikeyauth/apikey"
)

// benchStore is a store holding n keys, and their values.
func benchStore(b *testing.B, dsn string, n int) (*Store, []string) {
	s := openStore(b, dsn)
	values := make([]string, n)
	for i := range values {
		_, v, err := s.Create(context.Background(), NewKey{Name: "bench", Owner: apikey.Owner{ID: "org_1"}})
		require.NoError(b, err)
		values[i] = v
	}
	return s, values
}

// The store's own cost, behind any cache: a lookup by digest that finds a
// key (hit) or none (miss, a well-formed value never issued).
func BenchmarkValidate(b *testing.B) {
	for _, be := range backends {
		s, values := benchStore(b, be.dsn(b), 1000)
		unknown := make([]string, 1000)
		for i := range unknown {
			unknown[i] = seededValue(b)
		}
		ctx := context.Background()
		b.Run(be.name+"/miss", func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := s.Validate(ctx, unknown[i%len(unknown)]); err != apikey.ErrInvalidKey {
					b.Fatal(err)
				}
				i++
			}
		})
		b.Run(be.name+"/hit", func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := s.Validate(ctx, values[i%len(values)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// A flood of random values that look like keys (the prefix, the length,
// base62) through the middleware, with the format check off and on:
// lookups/op is how many reach the store.
func BenchmarkFlood(b *testing.B) {
	s, _ := benchStore(b, sqliteTestDSN(b), 100)
	var lookups atomic.Int64
	counted := apikey.ValidatorFunc(func(ctx context.Context, value string) (*apikey.Key, error) {
		lookups.Add(1)
		return s.Validate(ctx, value)
	})
	// Every request brings a value never seen, so the negative cache
	// cannot help.
	random := rand.NewChaCha8([32]byte{'f', 'l', 'o', 'o', 'd'})
	value := []byte(testFormat.Prefix + "000000000000000000000000000000000000000000")
	next := func() string {
		for j := len(testFormat.Prefix); j < len(value); j++ {
			value[j] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"[random.Uint64()%62]
		}
		return string(value)
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	for _, bc := range []struct {
		name string
		opts []apikey.Option
	}{
		{"format-check-off", nil},
		{"format-check-on", []apikey.Option{apikey.WithFormatCheck(s.KeyFormat().Check)}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			auth, err := apikey.New(counted, bc.opts...)
			require.NoError(b, err)
			h := auth.Handler(ok)
			r := httptest.NewRequest("GET", "/", nil)
			lookups.Store(0)
			b.ReportAllocs()
			for b.Loop() {
				r.Header.Set("Authorization", "Bearer "+next())
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != http.StatusUnauthorized && w.Code != http.StatusServiceUnavailable {
					b.Fatalf("status %d", w.Code)
				}
			}
			b.ReportMetric(float64(lookups.Load())/float64(b.N), "lookups/op")
		})
	}
}

// A spend of one credit (Spend's conditional UPDATE, a committed write),
// beside the lookup of BenchmarkValidate: what a key with a quota adds to
// a request, on a cache hit or a miss alike.
func BenchmarkSpend(b *testing.B) { benchSpend(b, nil) }

// BenchmarkSpendMonthly is BenchmarkSpend for a key refilled monthly: the
// statement computes the period's start in SQL, on every spend.
func BenchmarkSpendMonthly(b *testing.B) {
	benchSpend(b, &apikey.Refill{Amount: 1 << 40, Day: 31})
}

func benchSpend(b *testing.B, refill *apikey.Refill) {
	for _, be := range backends {
		s, _ := benchStore(b, be.dsn(b), 1)
		ctx := context.Background()
		k, _, err := s.Create(ctx, NewKey{Name: "metered", Owner: apikey.Owner{ID: "org_1"},
			Quota: &apikey.Quota{Remaining: 1 << 40, Refill: refill}})
		require.NoError(b, err)
		b.Run(be.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if d, err := s.Spend(ctx, k, 1); err != nil || !d.Allowed {
					b.Fatal(d, err)
				}
			}
		})
	}
}
