package apikey

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// Cache is a revocation-aware Validator decorator: it remembers what its
// validator answered, so that a hit costs a SHA-256 and one LRU lookup
// instead of a network call.
//
// Cache keeps entries by the SHA-256 digest of the key value, never the
// value. Valid keys live for a TTL (default 30 s, less up to 10 % jitter) and
// never past their own ExpiresAt; definitive "invalid" answers live in a
// separate, smaller-TTL LRU, so a flood of random keys cannot evict valid
// ones. Other validator errors are never remembered. Concurrent misses for
// one key make one validator call, on a context detached from the requests
// and bounded by the validation timeout, while each request waits only as
// long as its own context allows.
//
// Invalidation (InvalidateValue, InvalidateID, Purge) takes effect at once
// and wins against validations already in flight: their results are
// returned to the requests that were waiting, but never stored.
//
// Build one with NewCache; New builds one by default. A Cache is safe for
// concurrent use, runs no background goroutine, and needs no Close: a
// validation outlives its requests only until the validation timeout (or,
// for a validator that ignores its context, until it returns).
type Cache struct {
	validator Validator
	ttl       time.Duration
	negTTL    time.Duration
	staleTTL  time.Duration
	timeout   time.Duration
	now       func() time.Time // wall clock, for keys' ExpiresAt
	clock     cacheClock       // for entries

	positive []positiveShard
	negative []negativeShard
	ids      idIndex

	// invalidating and epoch make invalidation win over in-flight
	// validations: a validation stores its result only if no invalidation
	// happened since it started, checked and stored under invalidating's
	// read lock; an invalidation bumps epoch under its write lock.
	invalidating sync.RWMutex
	epoch        atomic.Uint64

	flights   flightGroup
	misses    atomic.Uint64
	coalesced atomic.Uint64
}

// The defaults of NewCache's options.
const (
	DefaultCacheSize         = 10_000
	DefaultCacheTTL          = 30 * time.Second
	DefaultNegativeSize      = 10_000
	DefaultNegativeTTL       = 5 * time.Second
	DefaultValidationTimeout = 5 * time.Second
)

// ttlJitter is the largest fraction taken off a positive TTL, so that keys
// validated together do not all expire in the same instant.
const ttlJitter = 0.1

// CacheOption configures a Cache in NewCache.
type CacheOption func(*cacheSettings)

type cacheSettings struct {
	size, negSize                  int
	ttl, negTTL, staleTTL, timeout time.Duration
	now                            func() time.Time
	fakeClock                      bool
}

// WithCacheSize bounds the number of valid keys kept; the least recently
// used go first. The bound is kept per shard, so it holds approximately.
// Default: 10,000.
func WithCacheSize(n int) CacheOption { return func(s *cacheSettings) { s.size = n } }

// WithCacheTTL sets how long a valid key is served from the cache before it
// is validated again: the longest a revocation that the cache is not told
// about can go unnoticed. Default: 30s.
func WithCacheTTL(d time.Duration) CacheOption { return func(s *cacheSettings) { s.ttl = d } }

// WithNegativeSize bounds the number of invalid keys remembered.
// Default: 10,000.
func WithNegativeSize(n int) CacheOption { return func(s *cacheSettings) { s.negSize = n } }

// WithNegativeTTL sets how long an invalid key is remembered as invalid;
// zero turns negative caching off. Default: 5s.
func WithNegativeTTL(d time.Duration) CacheOption { return func(s *cacheSettings) { s.negTTL = d } }

// WithStaleIfError lets the cache serve a valid key up to d past its TTL
// while the validator is unavailable (any error other than ErrInvalidKey,
// ErrMisconfigured and ErrValidatorPanicked),
// never past the key's own ExpiresAt and never once the validator has said
// the key is invalid. Default: 0, off.
func WithStaleIfError(d time.Duration) CacheOption { return func(s *cacheSettings) { s.staleTTL = d } }

// WithValidationTimeout bounds each validator call the cache makes, which
// runs detached from the requests waiting for it. When it passes, the
// waiting requests get an error matching ErrUnavailable and
// context.DeadlineExceeded, even if the validator ignores its context.
// Default: 5s.
func WithValidationTimeout(d time.Duration) CacheOption {
	return func(s *cacheSettings) { s.timeout = d }
}

// WithClock sets the cache's clock, for tests. Default: time.Now.
func WithClock(now func() time.Time) CacheOption {
	return func(s *cacheSettings) { s.now, s.fakeClock = now, true }
}

// WithCacheOptions configures the Cache that New puts in front of its
// validator. Default: NewCache's defaults.
func WithCacheOptions(opts ...CacheOption) Option {
	return func(s *settings) { s.cacheOpts = append(s.cacheOpts, opts...) }
}

// WithoutCache makes New call its validator on every request. Use it only
// with a validator that is fast and cheap, or that caches by itself.
// Default: New puts a Cache in front of the validator.
func WithoutCache() Option { return func(s *settings) { s.noCache = true } }

// NewCache returns a Cache in front of v. A nil v or an invalid option is an
// error wrapping ErrMisconfigured.
func NewCache(v Validator, opts ...CacheOption) (*Cache, error) {
	if isNil(v) {
		return nil, fmt.Errorf("%w: NewCache: the validator is nil", ErrMisconfigured)
	}
	s := cacheSettings{
		size: DefaultCacheSize, negSize: DefaultNegativeSize,
		ttl: DefaultCacheTTL, negTTL: DefaultNegativeTTL, timeout: DefaultValidationTimeout,
		now: time.Now,
	}
	for _, opt := range opts {
		opt(&s)
	}
	switch {
	case s.size <= 0, s.negSize <= 0:
		return nil, fmt.Errorf("%w: NewCache: sizes must be positive", ErrMisconfigured)
	case s.ttl <= 0, s.timeout <= 0:
		return nil, fmt.Errorf("%w: NewCache: the TTL and the validation timeout must be positive", ErrMisconfigured)
	case s.negTTL < 0, s.staleTTL < 0:
		return nil, fmt.Errorf("%w: NewCache: the negative TTL and stale-if-error must not be negative", ErrMisconfigured)
	case s.now == nil:
		return nil, fmt.Errorf("%w: NewCache: the clock is nil", ErrMisconfigured)
	}
	c := &Cache{
		validator: v,
		ttl:       s.ttl, negTTL: s.negTTL, staleTTL: s.staleTTL, timeout: s.timeout,
		now: s.now, clock: newCacheClock(nil),
	}
	if s.fakeClock {
		c.clock = newCacheClock(s.now)
	}
	c.ids.digests = make(map[string][]digest)
	c.positive = newPositiveShards(s.size, shardCount(s.size), &c.ids)
	c.negative = newNegativeShards(s.negSize, shardCount(s.negSize))
	return c, nil
}

// Validate returns the cached answer for value, or asks the validator once
// however many requests ask at the same time. It returns ctx's error if ctx
// ends first; the validation goes on for the others.
func (c *Cache) Validate(ctx context.Context, value string) (*Key, error) {
	d := digestOf(value)
	now := c.clock.now()
	if key, ok := c.positiveShard(d).get(d, now); ok && !c.expired(key) {
		return key, nil
	}
	if c.negTTL > 0 && c.negativeShard(d).get(d, now) {
		return nil, ErrInvalidKey
	}
	return c.miss(ctx, d, value)
}

// expired reports whether key's own ExpiresAt has passed. Entries already
// end there, by the monotonic clock; this asks the wall clock too, since the
// two part ways when a machine is suspended or its clock is stepped, and
// ExpiresAt is a wall-clock time.
func (c *Cache) expired(key *Key) bool { return pastExpiry(key, c.now) }

// pastExpiry reports whether key's ExpiresAt has passed by the clock now.
// Keys without an expiry cost no clock read.
func pastExpiry(key *Key, now func() time.Time) bool {
	return !key.ExpiresAt.IsZero() && !now().Before(key.ExpiresAt)
}

func (c *Cache) positiveShard(d digest) *positiveShard {
	return &c.positive[shardOf(d, len(c.positive))]
}

func (c *Cache) negativeShard(d digest) *negativeShard {
	return &c.negative[shardOf(d, len(c.negative))]
}

func (c *Cache) miss(ctx context.Context, d digest, value string) (*Key, error) {
	c.misses.Add(1)
	epoch := c.epoch.Load()
	call, leader := c.flights.join(flightKey{d, epoch})
	if leader {
		go c.validate(context.WithoutCancel(ctx), call, d, value, epoch)
	} else {
		c.coalesced.Add(1)
	}
	select {
	case <-call.done:
		return call.key, call.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// validate runs one validator call for every request waiting on call, and
// stores the answer unless an invalidation happened since epoch. The waiters
// always get an answer: a panic anywhere in here (an error whose Unwrap
// dereferences nil, say) is ErrValidatorPanicked, never a crash of the
// process, since nothing above this goroutine could recover it.
func (c *Cache) validate(ctx context.Context, call *flight, d digest, value string, epoch uint64) {
	defer c.flights.finish(flightKey{d, epoch}, call)
	defer func() {
		if recover() != nil {
			call.key, call.err = nil, ErrValidatorPanicked
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	key, err := c.validateWithin(ctx, value)
	now := c.clock.now()
	switch {
	case err == nil && key == nil:
		err = fmt.Errorf("%w: the validator returned no key and no error", ErrMisconfigured)
	case err == nil && c.expired(key):
		key, err = nil, ErrInvalidKey
	}
	switch {
	case err == nil:
		c.storePositive(d, key, now, epoch)
	case errors.Is(err, ErrInvalidKey):
		c.storeNegative(d, now, epoch)
	case c.staleTTL > 0 && classify(err) == outcomeUnavailable:
		if stale, ok := c.positiveShard(d).getStale(d, now); ok && !c.expired(stale) {
			key, err = stale, nil
		}
	}
	call.key, call.err = key, err
}

// validateWithin calls the validator in a goroutine of its own, so that one
// which ignores ctx cannot hold the waiters past ctx's deadline: it is left
// to return when it will, and its late answer is dropped.
func (c *Cache) validateWithin(ctx context.Context, value string) (*Key, error) {
	type answer struct {
		key *Key
		err error
	}
	answers := make(chan answer, 1)
	go func() {
		a := answer{err: ErrValidatorPanicked} // stays if the validator calls runtime.Goexit
		defer func() { answers <- a }()
		a.key, a.err = callValidator(ctx, c.validator, value)
	}()
	select {
	case a := <-answers:
		return a.key, a.err
	case <-ctx.Done():
		return nil, &UnavailableError{Err: ctx.Err()}
	}
}

// callValidator calls v, turning a panic into ErrValidatorPanicked. The
// panic value is dropped: it may hold the key.
func callValidator(ctx context.Context, v Validator, value string) (key *Key, err error) {
	err = ErrValidatorPanicked // stays if v panics
	defer func() { _ = recover() }()
	key, err = v.Validate(ctx, value)
	return key, err
}

func (c *Cache) storePositive(d digest, key *Key, now instant, epoch uint64) {
	ttl := c.ttl - time.Duration(rand.Float64()*ttlJitter*float64(c.ttl))
	e := &entry{key: key, expires: now.add(ttl)}
	e.promoted.Store(int64(now)) // an added entry is at the LRU's front
	e.staleUntil = e.expires.add(c.staleTTL)
	if !key.ExpiresAt.IsZero() {
		end := c.clock.at(key.ExpiresAt)
		e.expires, e.staleUntil = min(e.expires, end), min(e.staleUntil, end)
	}
	c.invalidating.RLock()
	defer c.invalidating.RUnlock()
	if c.epoch.Load() != epoch {
		return
	}
	c.negativeShard(d).remove(d)
	c.positiveShard(d).add(d, e)
}

func (c *Cache) storeNegative(d digest, now instant, epoch uint64) {
	// The key was valid once, perhaps: it is not any more, not even stale.
	// Dropping it is right whatever was invalidated meanwhile.
	c.positiveShard(d).remove(d)
	if c.negTTL <= 0 {
		return
	}
	c.invalidating.RLock()
	defer c.invalidating.RUnlock()
	if c.epoch.Load() == epoch {
		c.negativeShard(d).add(d, now.add(c.negTTL))
	}
}
