package apikey

import "time"

// instant is a point in time as the cache keeps it: how long after the
// cache was built. Reading the real clock this way costs one monotonic
// clock read, where time.Now costs two, and the hit path reads it every
// time.
type instant time.Duration

// cacheClock is the cache's one clock: instants for its entries, and wall
// time for keys' ExpiresAt, both from the real clock unless WithClock set
// one.
type cacheClock struct {
	base     time.Time
	fake     func() time.Time // nil for the real clock
	fakeWall func() time.Time // fake, except in tests of the two clocks parting
}

func newCacheClock(fake func() time.Time) cacheClock {
	if fake != nil {
		return cacheClock{base: fake(), fake: fake, fakeWall: fake}
	}
	return cacheClock{base: time.Now()}
}

func (c cacheClock) now() instant {
	if c.fake == nil {
		return instant(time.Since(c.base))
	}
	return instant(c.fake().Sub(c.base))
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
