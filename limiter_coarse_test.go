package apikey

import (
	"context"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// laggingClock is the two clocks of a LocalLimiter on the real clock, set
// by a test: the coarse one its charges read, and the real one behind it.
type laggingClock struct{ real atomic.Int64 }

// newLaggingLimiter returns a LocalLimiter whose coarse clock the test
// sets (its timer never runs) and whose real clock is clock.real.
func newLaggingLimiter(t *testing.T) (*LocalLimiter, *laggingClock) {
	t.Helper()
	l, err := NewLocalLimiter()
	require.NoError(t, err)
	clock := &laggingClock{}
	l.coarse = &coarseClock{read: func() instant { return instant(clock.real.Load()) }}
	return l, clock
}

// set puts the real clock at real and the coarse one lag behind it.
func (c *laggingClock) set(l *LocalLimiter, real, lag time.Duration) {
	c.real.Store(int64(real))
	l.coarse.now.Store(int64(real - lag))
}

// chargeVia charges one request through Allow, or through a plan kept on
// ent.
func chargeVia(t *testing.T, l *LocalLimiter, planned bool, ent *entry, key *Key, lim Limit) Decision {
	t.Helper()
	ds := make([]Decision, 1)
	if planned {
		_, err := l.chargePlanned(ent, key, []Limit{lim}, 1, ds)
		require.NoError(t, err)
	} else {
		require.NoError(t, l.Allow(context.Background(), key, []Limit{lim}, 1, ds))
	}
	return ds[0]
}

// A refusal's Retry-After is exact on the real clock, and a request retried
// when it says is let through, however the coarse clock lags (up to a
// tick) when each of the two is decided; through Allow and through a plan.
func TestLocalLimiterRetryAfterDespiteTheCoarseClock(t *testing.T) {
	lim := Limit{Rate: 1, Period: time.Second}
	for _, planned := range []bool{false, true} {
		for _, tc := range []struct {
			name                 string
			lagRefused, lagRetry time.Duration
		}{
			{"no lag", 0, 0},
			{"lagging at the retry", 0, coarseTick},
			{"lagging at the refusal", coarseTick, 0},
			{"lagging at both", coarseTick / 2, coarseTick},
		} {
			t.Run(map[bool]string{false: "Allow ", true: "plan "}[planned]+tc.name, func(t *testing.T) {
				l, clock := newLaggingLimiter(t)
				key, ent := &Key{ID: "k"}, &entry{}
				start := time.Hour
				clock.set(l, start, 0)
				require.True(t, chargeVia(t, l, planned, ent, key, lim).Allowed)

				clock.set(l, start+300*time.Millisecond, tc.lagRefused)
				d := chargeVia(t, l, planned, ent, key, lim)
				require.False(t, d.Allowed)
				assert.Equal(t, 700*time.Millisecond, d.RetryAfter, "exact on the real clock")

				clock.set(l, start+300*time.Millisecond+d.RetryAfter, tc.lagRetry)
				assert.True(t, chargeVia(t, l, planned, ent, key, lim).Allowed, "retried when Retry-After said")
			})
		}
	}
}

// Over any span, a limit on the coarse clock lets through at most a
// tick's worth of its rate more than GCRA on the real clock would: burst +
// (span + tick) / interval requests, one more than the exact bound for 100
// per second. Requests come at random, the coarse clock reads the last
// tick's time.
func TestLocalLimiterCoarseClockBound(t *testing.T) {
	lim := Limit{Rate: 100, Period: time.Second, Burst: 10}
	interval := lim.Period / time.Duration(lim.Rate)
	l, clock := newLaggingLimiter(t)
	key := &Key{ID: "k"}
	r := rand.New(rand.NewPCG(3, 4))
	var admitted []time.Duration
	now := time.Hour
	for range 20_000 {
		now += time.Duration(r.IntN(int(2 * interval / 3)))
		clock.set(l, now, now%coarseTick)
		if chargeVia(t, l, false, nil, key, lim).Allowed {
			admitted = append(admitted, now)
		}
	}
	require.Greater(t, len(admitted), 1000)
	for _, span := range []time.Duration{50 * time.Millisecond, time.Second, 10 * time.Second} {
		most := lim.Burst + int((span+coarseTick)/interval)
		first := 0
		for last, at := range admitted {
			for admitted[first] < at-span {
				first++
			}
			require.LessOrEqual(t, last-first+1, most, "admitted over the %v up to %v", span, at)
		}
	}
}

// BenchmarkLocalLimiterRefused is a refused charge on the real clock: the
// coarse clock's decision, then the real clock's.
func BenchmarkLocalLimiterRefused(b *testing.B) {
	l, err := NewLocalLimiter()
	require.NoError(b, err)
	key, limits := &Key{ID: "k"}, []Limit{{Rate: 1, Period: time.Hour}}
	ds := make([]Decision, 1)
	require.NoError(b, l.Allow(context.Background(), key, limits, 1, ds))
	b.ReportAllocs()
	for b.Loop() {
		_ = l.Allow(context.Background(), key, limits, 1, ds)
	}
	require.False(b, ds[0].Allowed)
}
