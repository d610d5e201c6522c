package apikey

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apikeyauth/apikey/internal/nilcheck"
	"github.com/apikeyauth/apikey/internal/stripe"
)

// Cache is a revocation-aware Validator decorator: it remembers what its
// validator answered, so that a hit costs a SHA-256 and one lookup in a
// table instead of a network call.
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
// Hits read a coarse clock, refreshed every 10 ms by a timer set only
// while hits come in; within a second of an entry's end they read the real
// clock, so expiry stays exact unless that timer runs more than 990 ms
// late (as it does, for a moment, in a process that resumes from a pause).
// Invalidations and keys' ExpiresAt never wait for it.
//
// Build one with NewCache; New builds one by default; the zero value is
// not usable. A Cache is safe for
// concurrent use, runs no background goroutine, and needs no Close: a
// validation outlives its requests only until the validation timeout (or,
// for a validator that ignores its context, until it returns), and the
// clock's timer stops a tick after the last hit.
type Cache struct {
	validator Validator
	ttl       time.Duration
	negTTL    time.Duration
	staleTTL  time.Duration
	timeout   time.Duration
	clock     cacheClock
	hooks     Hooks
	failures  *failureLog

	positive []positiveShard
	negative []negativeShard
	ids      idIndex

	// invalidating and epoch make invalidation win over in-flight
	// validations: a validation stores its result only if no invalidation
	// happened since it started, checked and stored under invalidating's
	// read lock; an invalidation bumps epoch under its write lock.
	invalidating sync.RWMutex
	epoch        atomic.Uint64

	// heldOutsideToken68 is set, for good, once a value outside token68
	// was validated: find then checks every value, hits too.
	heldOutsideToken68 atomic.Bool

	flights       flightGroup
	budget        *budget
	hits          stripe.Counter
	staleHits     atomic.Uint64
	misses        atomic.Uint64
	coalesced     atomic.Uint64
	invalidations atomic.Uint64
}

// ttlJitter is the largest fraction taken off a positive TTL, so that keys
// validated together do not all expire in the same instant.
const ttlJitter = 0.1

// NewCache returns a Cache in front of v, configured by the cache's options
// (WithCacheTTL and the others; see Option) and WithHooks. A nil v, an
// invalid option or a middleware's option is an error matching
// ErrMisconfigured.
func NewCache(v Validator, opts ...Option) (*Cache, error) {
	s, err := apply("NewCache", opts)
	if err != nil {
		return nil, err
	}
	if len(s.middlewareOpts) > 0 {
		return nil, configError("NewCache", "%s configures a Middleware, not a Cache: give it to New", strings.Join(s.middlewareOpts, ", "))
	}
	return newCache(v, &s, "NewCache")
}

func newCache(v Validator, s *settings, op string) (*Cache, error) {
	if nilcheck.Is(v) {
		return nil, configError(op, "the validator is nil")
	}
	if err := s.checkCache(op); err != nil {
		return nil, err
	}
	c := &Cache{
		validator: v,
		ttl:       s.ttl, negTTL: s.negTTL, staleTTL: s.staleTTL, timeout: s.timeout,
		clock:    newCacheClock(s.now),
		hooks:    s.hooks,
		failures: newFailureLog(s),
		budget:   newBudget(s),
	}
	c.ids.heads = make(map[string]*entry)
	c.positive = newPositiveShards(s.size, shardCount(s.size), &c.ids)
	c.negative = newNegativeShards(s.negSize, shardCount(s.negSize))
	return c, nil
}

// Validate returns the cached answer for value, or asks the validator once
// however many requests ask at the same time. It returns ctx's error if ctx
// ends first; the validation goes on for the others.
func (c *Cache) Validate(ctx context.Context, value string) (*Key, error) {
	key, _, err := c.lookup(ctx, DigestOf(value), value)
	return key, err
}

// lookup is Validate for the value whose digest is d, saying besides how
// it came by the answer.
func (c *Cache) lookup(ctx context.Context, d Digest, value string) (*Key, Answer, error) {
	key, _, answer, err := c.find(ctx, d, value, false)
	return key, answer, err
}

// find is lookup, returning besides, on a hit, the entry.
//
// With checkToken68, value has yet to be checked for token68, as
// FromAuthorizationBearer does: find checks it before anything but a hit,
// and before a hit too once any value outside token68 was validated (a
// shared Cache's Validate, a custom extractor), so that the answer is
// always the one checking first would give. Every value the cache holds
// otherwise passed that check: the same digest is the same value.
func (c *Cache) find(ctx context.Context, d Digest, value string, checkToken68 bool) (*Key, *entry, Answer, error) {
	s := c.positiveShard(d)
	e := s.peek(d)
	if e != nil {
		if now := c.clock.nowBefore(e.expires); now < e.expires && !c.expired(e.key) &&
			!(checkToken68 && c.heldOutsideToken68.Load() && !isToken68(value)) {
			c.hits.Add()
			s.promote(e, now)
			return e.key, e, AnswerHit, nil
		}
	}
	if checkToken68 && !isToken68(value) {
		return nil, nil, "", errNotToken68()
	}
	now := c.clock.now()
	if c.negTTL > 0 && c.negativeShard(d).get(d, now) {
		return nil, nil, AnswerNegativeHit, ErrInvalidKey
	}
	key, answer, err := c.miss(ctx, d, value, now, c.known(d, e, now))
	return key, nil, answer, err
}

// known reports whether the key with digest d, whose entry is e (nil if
// the cache holds none), counts as known for the budget: an entry past its
// TTL still does, for 24 hours.
func (c *Cache) known(d Digest, e *entry, now instant) bool {
	return e != nil && now < e.expires.add(knownFor) || c.budget.known.has(d, now)
}

// expired reports whether key's own ExpiresAt has passed. Entries already
// end there, by the monotonic clock; this asks the wall clock too, since the
// two part ways when a machine is suspended or its clock is stepped, and
// ExpiresAt is a wall-clock time.
func (c *Cache) expired(key *Key) bool { return key.expired(c.clock.wall) }

func (c *Cache) positiveShard(d Digest) *positiveShard {
	return &c.positive[shardOf(d, len(c.positive))]
}

func (c *Cache) negativeShard(d Digest) *negativeShard {
	return &c.negative[shardOf(d, len(c.negative))]
}

func (c *Cache) miss(ctx context.Context, d Digest, value string, now instant, known bool) (*Key, Answer, error) {
	epoch := c.epoch.Load()
	call, leader := c.flights.join(flightKey{d, epoch})
	if leader {
		// A flight that ended between this request's lookup and its join
		// stored its answer before it left the group: serve that answer,
		// to this request and to any that joined it meanwhile, rather than
		// call again (under a budget, a second call could be refused, and
		// a valid key answered 503).
		if answer, ok := c.stored(d, now, call); ok {
			c.flights.finish(flightKey{d, epoch}, call)
			return call.key, answer, call.err
		}
	}
	c.misses.Add(1)
	answer := AnswerMiss
	switch {
	case !leader:
		c.coalesced.Add(1)
		answer = AnswerCoalesced
	case c.budget.take(known, c.clock.wall()) != nil:
		// Over budget: no call upstream, and no queue; a known key may
		// still be served stale.
		c.failures.report(errOverBudget, d)
		call.key, call.err = c.staleOr(d, now, errOverBudget)
		call.stale = call.err == nil
		c.flights.finish(flightKey{d, epoch}, call)
	default:
		call.start(c, flightKey{d, epoch}, ctx)
		go c.validate(call, value)
	}
	select {
	case <-call.done:
		if call.stale {
			answer = AnswerStale
		}
		return call.key, answer, call.err
	case <-ctx.Done():
		return nil, answer, &UnavailableError{Err: ctx.Err()}
	}
}

// stored fills in call with the answer the cache holds for d, if it holds
// one, and says how it was answered, counting the hit.
func (c *Cache) stored(d Digest, now instant, call *flight) (Answer, bool) {
	if e := c.positiveShard(d).peek(d); e != nil && now < e.expires && !c.expired(e.key) {
		c.hits.Add()
		call.key = e.key
		return AnswerHit, true
	}
	if c.negTTL > 0 && c.negativeShard(d).get(d, now) {
		call.err = ErrInvalidKey
		return AnswerNegativeHit, true
	}
	return "", false
}

// validate runs one validator call for every request waiting on call, on
// call's own goroutine: the call is its context. If the call returns before
// the deadline, validate answers the waiters, and stores the answer unless
// an invalidation happened since the call started; else expire has
// answered them, and the call's answer is dropped.
func (c *Cache) validate(call *flight, value string) {
	var key *Key
	err := error(ErrValidatorPanicked) // stays if the validator calls runtime.Goexit
	defer func() {
		c.conclude(call, func() { c.answer(call, key, err) })
	}()
	defer c.budget.release() // when the call returns, however late
	defer call.end(context.Canceled)
	defer call.timer.Stop()
	if !c.heldOutsideToken68.Load() && !isToken68(value) {
		// Before the answer is stored: find's shortcut must not serve it.
		c.heldOutsideToken68.Store(true)
	}
	key, err = callValidator(call, c.validator, value)
}

// conclude runs decide, which fills in call's answer, and publishes it to
// the waiters, unless the answer was already decided (by the call or at
// the deadline, whichever came second). The waiters always get an answer:
// a panic in decide (a hook's, or an error whose Unwrap dereferences nil)
// is ErrValidatorPanicked, never a crash of the process, since nothing
// above this goroutine could recover it.
func (c *Cache) conclude(call *flight, decide func()) {
	if !call.settled.CompareAndSwap(false, true) {
		return
	}
	defer c.flights.finish(call.k, call)
	call.err = ErrValidatorPanicked // stays if a hook calls runtime.Goexit
	defer func() {
		if p := recover(); p != nil {
			err := newPanicError(p)
			c.failures.report(err, call.k.d)
			call.key, call.err, call.stale = nil, err, false
		}
	}()
	decide()
}

// answer decides call's answer from what the validator returned, and
// stores it.
func (c *Cache) answer(call *flight, key *Key, err error) {
	d := call.k.d
	key, err = settle(key, err)
	now := c.clock.now()
	if err == nil && c.expired(key) {
		key, err = nil, ErrInvalidKey
	}
	observeValidation(call, c.hooks.Validation, c.failures, call.begun, d, key, err)
	switch {
	case err == nil:
		c.storePositive(d, key, now, call.k.epoch)
	case errors.Is(err, ErrInvalidKey):
		c.storeNegative(d, now, call.k.epoch)
	default:
		key, err = c.staleOr(d, now, err)
		call.stale = err == nil
	}
	call.key, call.err = key, err
}

// staleOr returns the key with digest d if stale-if-error allows serving it
// after err, else err.
func (c *Cache) staleOr(d Digest, now instant, err error) (*Key, error) {
	if c.staleTTL > 0 && isUnavailable(err) {
		if e := c.positiveShard(d).peek(d); e != nil && now < e.staleUntil && !c.expired(e.key) {
			c.staleHits.Add(1)
			return e.key, nil
		}
	}
	return nil, err
}

func (c *Cache) storePositive(d Digest, key *Key, now instant, epoch uint64) {
	ttl := c.ttl - time.Duration(rand.Float64()*ttlJitter*float64(c.ttl))
	e := &entry{d: d, key: key, expires: now.add(ttl)}
	e.promoted.Store(int64(now)) // an added entry is at the LRU's front
	e.staleUntil = e.expires.add(c.staleTTL)
	if !key.ExpiresAt.IsZero() {
		end := c.clock.at(key.ExpiresAt)
		e.expires, e.staleUntil = min(e.expires, end), min(e.staleUntil, end)
	}
	if !key.cacheUntil.IsZero() { // the validator's own bound (CacheUntil)
		if end := c.clock.at(key.cacheUntil); end < e.expires {
			e.expires, e.staleUntil = end, min(e.staleUntil, end.add(c.staleTTL))
		}
	}
	c.invalidating.RLock()
	defer c.invalidating.RUnlock()
	if c.epoch.Load() != epoch {
		return
	}
	c.budget.known.remember(d, now)
	c.negativeShard(d).remove(d)
	c.positiveShard(d).add(e)
}

func (c *Cache) storeNegative(d Digest, now instant, epoch uint64) {
	// The key was valid once, perhaps: it is not any more, not even stale,
	// nor known, to draw on the budget kept for real customers. Dropping it
	// is right whatever was invalidated meanwhile.
	c.positiveShard(d).remove(d)
	c.budget.known.forget(d)
	if c.negTTL <= 0 {
		return
	}
	c.invalidating.RLock()
	defer c.invalidating.RUnlock()
	if c.epoch.Load() == epoch {
		c.negativeShard(d).add(d, now.add(c.negTTL))
	}
}
