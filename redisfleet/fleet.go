package redisfleet

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/apikeyauth/apikey"
)

// Fleet shares a Cache's invalidations with the other replicas on one Redis,
// applies theirs, and optionally shares validation results between them.
//
// Build one with New, put Hooks in the cache's options and Validator around
// its validator, then Attach the cache. A Fleet is safe for concurrent use.
// It runs two goroutines, a publisher from New and a reader from Attach,
// which Close stops. It never fails a request because of Redis: every call
// is bounded by the timeout, and a Redis that does not answer leaves the
// local cache and the upstream validator to answer alone. It never sends,
// stores or logs a key value: only key IDs, digests and validated keys.
type Fleet struct {
	s      settings
	p      string        // "{prefix}:", the start of every Redis key
	self   string        // this replica's random name, to skip its own entries
	client *redis.Client // publications and the shared cache
	reader *redis.Client // the reader's blocking wait, on a connection of its own

	queue chan pending
	// overflowed counts the invalidations the full queue dropped since the
	// last drain: a purge is published for them. overflowedShared counts
	// those that were not to be published: the shared cache is voided.
	overflowed, overflowedShared atomic.Int64
	// enqueued counts the invalidations queued; outstanding those not yet
	// published nor given up.
	enqueued    atomic.Uint64
	outstanding atomic.Int64
	// revoking holds the invalidations Revoke is publishing itself, for
	// the hook not to queue them too.
	revoking claims
	// revokes counts the Revokes in flight, which Close waits for before
	// it stops the publisher: one whose publication fails queues it, and
	// Close must flush it with the rest. closing, set under the lock,
	// turns later ones away, so that none starts while Close waits.
	revokes struct {
		sync.Mutex
		closing  bool
		inFlight sync.WaitGroup
	}

	attached    atomic.Bool
	cache       atomic.Pointer[apikey.Cache] // the attached cache, for Invalidate and Revoke
	uncheckable atomic.Bool                  // Redis refused INFO: logged once
	stop        context.CancelFunc
	stopped     context.Context
	wg          sync.WaitGroup
	closeOnce   sync.Once

	// sharedDownUntil holds back shared-cache calls for a moment after one
	// failed, so that a Redis that does not answer costs one timeout now
	// and then rather than one per validation.
	sharedDownUntil atomic.Int64

	// recent holds the nonces of the last stream entries read: only the
	// reader's goroutine uses it.
	recent nonces

	// reading is the reader's goroutine, readerID its connection's client
	// ID in Redis, for Close to wake it.
	reading  sync.WaitGroup
	readerID atomic.Int64

	st stats
}

// New returns a Fleet that talks to the Redis that opt describes (see
// redis.ParseURL), with clients of its own: their timeouts are bounded by
// WithTimeout and honour contexts, whatever opt says. A nil opt or an
// invalid option is an error matching apikey.ErrMisconfigured. New does not
// contact Redis: a Redis that is down at start is retried like one lost
// later.
func New(opt *redis.Options, opts ...Option) (*Fleet, error) {
	if opt == nil {
		return nil, misconfigured("the Redis options are nil")
	}
	s := defaultSettings()
	for _, o := range opts {
		o(&s)
	}
	if err := s.check(); err != nil {
		return nil, err
	}
	ctx, stop := context.WithCancel(context.Background())
	f := &Fleet{
		s: s, p: "{" + s.prefix + "}:", self: randomToken(),
		queue: make(chan pending, s.queue),
		stop:  stop, stopped: ctx,
	}
	f.client = redis.NewClient(f.boundedOptions(opt, 0, nil))
	f.reader = redis.NewClient(f.boundedOptions(opt, 1, &f.readerID))
	f.wg.Add(1)
	go f.publishLoop(ctx)
	return f, nil
}

// boundedOptions copies opt with every timeout at most the Fleet's and
// contexts honoured, so that the deadline of each call is the one the Fleet
// gives it, and with a check for a Redis restart on every new connection
// (checkRestart), which records the connection's client ID in id, if
// set. poolSize 0 keeps opt's.
func (f *Fleet) boundedOptions(opt *redis.Options, poolSize int, id *atomic.Int64) *redis.Options {
	o := *opt
	timeout := f.s.timeout
	o.OnConnect = f.checkRestart(opt.OnConnect, id)
	o.ContextTimeoutEnabled = true
	for _, d := range []*time.Duration{&o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout} {
		if *d <= 0 || *d > timeout {
			*d = timeout
		}
	}
	if poolSize > 0 {
		o.PoolSize, o.MinIdleConns = poolSize, 0
	}
	return &o
}

// Hooks returns the hooks that publish the invalidations a cache applies,
// but for those it received from the other replicas and those of a store,
// which are only removed from the shared cache (see the package doc). Give
// them to the cache with apikey.WithHooks. Publishing is asynchronous and never blocks
// or fails the invalidation: the local cache has already forgotten the key.
func (f *Fleet) Hooks() apikey.Hooks { return apikey.Hooks{Invalidation: f.enqueue} }

// Attach starts applying the other replicas' invalidations to cache, from
// the stream's current end. Attach a cache once, before it serves requests.
// Attach waits for Redis up to the timeout, to learn where the stream ends;
// if Redis does not answer, the cache is purged when it first does, since
// the replica cannot know what it missed meanwhile.
func (f *Fleet) Attach(cache *apikey.Cache) error {
	if cache == nil {
		return misconfigured("Attach: the cache is nil")
	}
	if f.stopped.Err() != nil || !f.attached.CompareAndSwap(false, true) {
		return ErrAttached
	}
	f.cache.Store(cache)
	var cur *cursor
	if err := f.sync(f.stopped, nil, &cur); err == nil {
		f.setConnected(true, nil)
	}
	f.wg.Add(1)
	f.reading.Add(1)
	go func() {
		defer f.reading.Done()
		f.readLoop(f.stopped, cache, cur)
	}()
	return nil
}

// Close stops the Fleet's goroutines and closes its Redis connections. It
// first waits for the Revokes in flight (each waits at most the timeout),
// then publishes everything queued, within the timeout (WithTimeout); what
// it cannot is counted in Stats.Dropped, and a purge is published in its
// place, within one more timeout. It wakes the reader from its wait in
// Redis with CLIENT UNBLOCK (a Redis user that may not run it costs Close
// one more timeout). It waits for the goroutines, and is safe to call more
// than once.
func (f *Fleet) Close() error {
	var err error
	f.closeOnce.Do(func() {
		f.revokes.Lock()
		f.revokes.closing = true
		f.revokes.Unlock()
		f.revokes.inFlight.Wait()
		f.stop()
		closed, rerr := f.wakeReader()
		f.wg.Wait()
		if !closed {
			rerr = f.reader.Close()
		}
		err = errors.Join(rerr, f.client.Close())
	})
	return err
}

// checkRestart returns an OnConnect hook that runs then (if any) and then
// restartScript. Any call made after Redis restarted goes through a new
// connection, so the epoch is renewed before anything is read from a Redis
// that may have come back from an older snapshot.
func (f *Fleet) checkRestart(then func(context.Context, *redis.Conn) error, id *atomic.Int64) func(context.Context, *redis.Conn) error {
	return func(ctx context.Context, cn *redis.Conn) error {
		if then != nil {
			if err := then(ctx, cn); err != nil {
				return err
			}
		}
		if id != nil {
			n, err := cn.ClientID(ctx).Result()
			if err != nil {
				return err
			}
			id.Store(n)
		}
		r, err := restartScript.Run(ctx, cn, nil, f.p, randomToken()).Text()
		switch {
		case err != nil:
			return err
		case r == "renewed":
			f.s.logger.Warn("redisfleet: Redis restarted (its run_id changed), perhaps from an older snapshot: "+
				"the fleet's epoch is renewed, so every replica purges its local cache and the shared cache starts over",
				"prefix", f.s.prefix)
		case r == "unchecked" && f.uncheckable.CompareAndSwap(false, true):
			f.s.logger.Warn("redisfleet: Redis refuses INFO, so a restart from an older snapshot cannot be noticed",
				"prefix", f.s.prefix)
		}
		return nil
	}
}

// wakeReader ends the reader's blocking wait in Redis (CLIENT UNBLOCK),
// so that it returns, sees the Fleet closed, and ends. Closing its client
// under it would end the wait too, but a call that had just got its answer
// would then hand a closed connection back to go-redis's pool, which logs
// it. Only when Redis does not take the unblock within the timeout (it is
// gone, or the user may not run CLIENT UNBLOCK) is the connection closed
// under the reader.
// It reports whether it closed the reader's client, and how that went.
func (f *Fleet) wakeReader() (closed bool, err error) {
	done := make(chan struct{})
	go func() { f.reading.Wait(); close(done) }()
	giveUp := time.NewTimer(f.s.timeout)
	defer giveUp.Stop()
	for {
		unblocked := false
		// A reader whose last call failed is not waiting in Redis.
		if id := f.readerID.Load(); id != 0 && f.Stats().Connected {
			ctx, cancel := f.call(context.Background())
			unblocked = f.client.ClientUnblock(ctx, id).Err() == nil
			cancel()
		}
		if !unblocked {
			break
		}
		select {
		case <-done:
			return false, nil
		case <-giveUp.C:
		case <-time.After(5 * time.Millisecond): // the reader was not waiting yet: again
			continue
		}
		break
	}
	err = f.reader.Close()
	<-done
	return true, err
}

// call returns a context bounded by the Fleet's timeout, for one Redis call.
func (f *Fleet) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, f.s.timeout)
}

func randomToken() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // never fails, as documented
	return hex.EncodeToString(b[:])
}

func digestHex(d apikey.Digest) string { return hex.EncodeToString(d[:]) }

func parseDigest(s string) (apikey.Digest, error) {
	var d apikey.Digest
	if len(s) != 2*len(d) {
		return d, fmt.Errorf("a digest is %d hex digits, not %d", 2*len(d), len(s))
	}
	_, err := hex.Decode(d[:], []byte(s))
	return d, err
}
