package apikey

import "time"

// instant is a point in time as the cache keeps it: how long after the
// cache was built. Reading the real clock this way costs one monotonic
// clock read, where time.Now costs two, and the hit path reads it every
// time.
type instant time.Duration

// cacheClock gives instants, from the real clock unless a test set one.
type cacheClock struct {
	base time.Time
	fake func() time.Time // nil for the real clock
}

func newCacheClock(fake func() time.Time) cacheClock {
	if fake != nil {
		return cacheClock{base: fake(), fake: fake}
	}
	return cacheClock{base: time.Now()}
}

func (c cacheClock) now() instant {
	if c.fake == nil {
		return instant(time.Since(c.base))
	}
	return instant(c.fake().Sub(c.base))
}

// at converts a wall-clock time, such as a key's ExpiresAt.
func (c cacheClock) at(t time.Time) instant { return instant(t.Sub(c.base)) }

func (i instant) add(d time.Duration) instant { return i + instant(d) }
