package redisfleet

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/apikeyauth/apikey"
)

// arrival is when a replica applied an invalidation received from another.
type arrival struct {
	id string
	at time.Time
}

// BenchmarkPropagation measures how long a revocation on one replica takes
// to be applied by two others on the same Redis, over b.N revocations, and
// reports the median and the 99th percentile. "one at a time" waits for each
// revocation to arrive before the next; "burst" issues them back to back, so
// that its latencies include queueing behind the ones before.
//
//	go test -run '^$' -bench Propagation -benchtime 1000x ./redisfleet
func BenchmarkPropagation(b *testing.B) {
	for _, burst := range []bool{false, true} {
		name := "one at a time"
		if burst {
			name = "burst"
		}
		b.Run(name, func(b *testing.B) {
			opt, prefix := testRedis(b)
			up := newUpstream()
			from := newReplica(b, opt, up, testOptions(prefix)...)
			arrivals := make(chan arrival, 2*b.N)
			for range 2 {
				f, err := New(opt, testOptions(prefix)...)
				require.NoError(b, err)
				b.Cleanup(func() { require.NoError(b, f.Close()) })
				record := apikey.Hooks{Invalidation: func(inv apikey.Invalidation) {
					arrivals <- arrival{id: inv.ID, at: time.Now()}
				}}
				cache, err := apikey.NewCache(up, apikey.WithHooks(f.Hooks()), apikey.WithHooks(record))
				require.NoError(b, err)
				require.NoError(b, f.Attach(cache))
				(&replica{fleet: f}).waitConnected(b)
			}

			sent := make(map[string]time.Time, b.N)
			latencies := make([]time.Duration, 0, 2*b.N)
			receive := func() {
				select {
				case a := <-arrivals:
					latencies = append(latencies, a.at.Sub(sent[a.id]))
				case <-time.After(10 * time.Second):
					b.Fatal("a revocation never arrived")
				}
			}
			b.ResetTimer()
			for i := range b.N {
				id := fmt.Sprintf("key_%d", i)
				sent[id] = time.Now()
				from.cache.InvalidateID(id)
				if !burst {
					receive()
					receive()
				}
			}
			for len(latencies) < 2*b.N {
				receive()
			}
			b.StopTimer()
			slices.Sort(latencies)
			b.ReportMetric(ms(latencies[len(latencies)/2]), "p50-ms")
			b.ReportMetric(ms(latencies[len(latencies)*99/100]), "p99-ms")
			b.ReportMetric(ms(latencies[len(latencies)-1]), "max-ms")
		})
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
