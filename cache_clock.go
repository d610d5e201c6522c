package apikey

import (
	"sync/atomic"
	"time"
)

// instant is a point in time as the cache keeps it: how long after the
// cache was built. Reading the real clock this way costs one monotonic
// clock read, where time.Now costs two.
type instant time.Duration

// cacheClock is the cache's one clock: instants for its entries, and wall
// time for keys' ExpiresAt, both from the real clock unless WithClock set
// one; and, with the real clock, a coarse clock for the hit path.
type cacheClock struct {
	base     time.Time
	fake     func() time.Time // nil for the real clock
	fakeWall func() time.Time // fake, except in tests of the two clocks parting
	coarse   *coarseClock     // nil with a fake clock
}

func newCacheClock(fake func() time.Time) cacheClock {
	if fake != nil {
		return cacheClock{base: fake(), fake: fake, fakeWall: fake}
	}
	c := cacheClock{base: time.Now()}
	c.coarse = newCoarseClock(c.now)
	return c
}

func (c cacheClock) now() instant {
	if c.fake == nil {
		return instant(time.Since(c.base))
	}
	return instant(c.fake().Sub(c.base))
}

// nowBefore returns the time to compare with end, an entry's end: the
// coarse clock's while end is more than coarseSlack ahead of it, else the
// real clock's, so that the answer is exact as long as the coarse clock is
// less than coarseSlack behind.
func (c cacheClock) nowBefore(end instant) instant {
	if c.coarse != nil {
		if t := c.coarse.load(); end-t > coarseSlack {
			return t
		}
	}
	return c.now()
}

// wall returns the wall-clock time, for comparing with keys' ExpiresAt.
func (c cacheClock) wall() time.Time {
	if c.fakeWall == nil {
		return time.Now()
	}
	return c.fakeWall()
}

// at converts a wall-clock time, such as a key's ExpiresAt.
func (c cacheClock) at(t time.Time) instant { return instant(t.Sub(c.base)) }

func (i instant) add(d time.Duration) instant { return i + instant(d) }

// coarseTick is how often the coarse clock is refreshed while hits read
// it, and coarseSlack how close to its end an entry must be for a hit to
// read the real clock instead: the coarse clock is a tick behind, and the
// rest of the second covers a refresh that runs late.
const (
	coarseTick  = 10 * time.Millisecond
	coarseSlack = instant(time.Second)
)

// coarseClock is the real clock, read by a timer every coarseTick instead
// of by every hit (a clock read costs as much as a third of a hit). The
// timer runs only while hits read the clock: the first refresh after which
// none has read it stops it, and the next hit reads the real clock and
// starts it again. So no goroutine waits on it, nothing needs closing, and
// a cache no longer used is collected. It never affects invalidations,
// which remove entries at once.
type coarseClock struct {
	now     atomic.Int64 // an instant at most a tick old (unless the timer runs late), 0 while stopped
	used    atomic.Bool  // read since the last refresh
	running atomic.Bool  // the timer is set, or its refresh running
	read    func() instant
	arm     func() // sets the timer for the next refresh
}

func newCoarseClock(read func() instant) *coarseClock {
	k := &coarseClock{read: read}
	timer := time.AfterFunc(time.Hour, k.refresh)
	timer.Stop()
	k.arm = func() { timer.Reset(coarseTick) }
	return k
}

// load returns the coarse time, or the real time when the clock is
// stopped, which it starts.
func (k *coarseClock) load() instant {
	if t := k.now.Load(); t != 0 {
		if !k.used.Load() { // a write once per tick, not once per hit
			k.used.Store(true)
		}
		return instant(t)
	}
	t := k.read()
	if k.running.CompareAndSwap(false, true) {
		k.now.Store(max(int64(t), 1))
		k.arm()
	}
	return t
}

// refresh is the timer's: it reads the real clock if a hit read the
// coarse one since the last refresh, else it stops.
func (k *coarseClock) refresh() {
	if !k.used.Swap(false) {
		k.now.Store(0)
		k.running.Store(false)
		return
	}
	k.now.Store(max(int64(k.read()), 1))
	k.arm()
}
