package apikey

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testCoarseClock returns a coarse clock over read whose timer is the
// test's: arms counts how often it was set, and the test refreshes it.
func testCoarseClock(read func() instant) (*coarseClock, *int) {
	arms := 0
	return &coarseClock{read: read, arm: func() { arms++ }}, &arms
}

// The coarse clock reads the real one only to start and on each refresh,
// and stops after a refresh with no read since the last one, so that no
// timer is left set once hits stop.
func TestCoarseClock(t *testing.T) {
	real, reads := instant(time.Hour), 0
	k, arms := testCoarseClock(func() instant { reads++; return real })

	assert.Equal(t, real, k.load(), "stopped: the real clock")
	assert.Equal(t, 1, reads)
	assert.Equal(t, 1, *arms, "started")
	real = real.add(time.Millisecond)
	assert.Equal(t, instant(time.Hour), k.load(), "running: the last reading")
	assert.Equal(t, 1, reads, "without a clock read")

	k.refresh() // read since the start: reads, and sets the timer again
	assert.Equal(t, real, k.load())
	assert.Equal(t, 2, reads)
	assert.Equal(t, 2, *arms)

	k.refresh() // read since
	k.refresh() // not read since: stops
	assert.Equal(t, 3, *arms, "not set again once stopped")
	assert.False(t, k.running.Load())
	assert.Zero(t, k.now.Load())

	real = real.add(time.Second)
	assert.Equal(t, real, k.load(), "stopped: the real clock, and started again")
	assert.Equal(t, 4, *arms)
}

// A real-clock cache builds a coarse clock and the hit path reads it; a
// cache on a fake clock has none, so that its tests move time exactly.
func TestCoarseClockOnlyForTheRealClock(t *testing.T) {
	c, err := NewCache(testStatic())
	require.NoError(t, err)
	require.NotNil(t, c.clock.coarse)
	// The test's timer, not the real one: a real one stops itself after a
	// tick without a hit, which a busy machine may let pass before the
	// check.
	coarse, arms := testCoarseClock(c.clock.now)
	c.clock.coarse = coarse
	_, err = c.Validate(context.Background(), writerValue)
	require.NoError(t, err)
	assert.Zero(t, *arms, "a miss reads the real clock")
	_, err = c.Validate(context.Background(), writerValue)
	require.NoError(t, err)
	assert.Equal(t, 1, *arms, "a hit started it")
	assert.True(t, coarse.running.Load())

	fake, _ := newTestCache(t, testStatic())
	assert.Nil(t, fake.clock.coarse)
}

// Hits read the coarse clock while their entry's end is more than
// coarseSlack ahead of it, and the real clock closer to the end: an entry
// is served up to, never at, its end even though the coarse clock is
// behind.
func TestCoarseClockKeepsExpiryExact(t *testing.T) {
	var fail error
	c, clock, v := partedCache(t, 10*time.Second, &fail)
	reads := 0
	coarse, _ := testCoarseClock(func() instant { reads++; return c.clock.now() })
	c.clock.coarse = coarse
	ctx := context.Background()
	hit := func() {
		t.Helper()
		_, err := c.Validate(ctx, writerValue)
		require.NoError(t, err)
	}
	hit() // the miss
	hit() // starts the coarse clock
	require.Equal(t, 1, reads)

	clock.Advance(5 * time.Second) // no refresh: the coarse clock is 5 s behind
	hit()
	assert.Equal(t, 1, reads, "the end is far: the coarse clock")
	coarse.refresh() // 5 s
	clock.Advance(4 * time.Second)
	coarse.refresh() // 9 s
	reads = 0
	clock.Advance(time.Second - time.Nanosecond) // the coarse clock a second behind
	hit()
	assert.Equal(t, 1, reads, "within a second of the end: the real clock")
	assert.EqualValues(t, 1, v.calls.Load(), "served a nanosecond before the end")
	clock.Advance(time.Nanosecond)
	hit()
	assert.EqualValues(t, 2, v.calls.Load(), "not at the end, whatever the coarse clock says")
}

// A cache whose hits set the coarse clock's timer is collected once
// unreachable, while that timer is still set: the timer holds the clock,
// never the cache. And the timer stops on its own a tick or two after the
// last hit, so that an idle cache has nothing set.
func TestCoarseClockTimerHoldsNoCache(t *testing.T) {
	collected := make(chan struct{})
	coarse := func() *coarseClock {
		c, err := NewCache(testStatic())
		require.NoError(t, err)
		// Hits until the timer is seen set (a busy machine may let it
		// stop between two).
		for i := 0; !c.clock.coarse.running.Load(); i++ {
			require.Less(t, i, 1000, "the hits never set the timer")
			_, err = c.Validate(context.Background(), writerValue)
			require.NoError(t, err)
		}
		runtime.AddCleanup(c, func(done chan struct{}) { close(done) }, collected)
		return c.clock.coarse
	}()
	require.Eventually(t, func() bool {
		runtime.GC()
		select {
		case <-collected:
			return true
		default:
			return false
		}
	}, 5*time.Second, time.Millisecond, "the cache was not collected")
	require.Eventually(t, func() bool { return !coarse.running.Load() }, 5*time.Second, time.Millisecond,
		"the timer stops once no hit reads the clock")
	assert.Zero(t, coarse.now.Load())
}
