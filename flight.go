package apikey

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// flightGroup coalesces concurrent validations of one key: the first miss
// starts a flight, later misses wait for it. It is singleflight with the two
// things this cache needs besides: waiters that each honour their own
// context (they select on done), and keys that include the invalidation
// epoch, so that a request arriving after an invalidation never joins a
// validation that started before it.
type flightGroup struct {
	mu      sync.Mutex
	flights map[flightKey]*flight
}

type flightKey struct {
	d     Digest
	epoch uint64
}

// flight is one validator call; key, err and stale are written before done
// is closed and only read after.
//
// A flight that calls the validator is also the context of the call (see
// start): detached from the requests' cancellation, with the values of the
// request that started it, and ended by the validation timeout or when the
// call returns. So the call, its deadline and its answer cost one
// goroutine, one timer and no context of their own.
type flight struct {
	done  chan struct{}
	key   *Key
	err   error
	stale bool // key is a stale entry, served because the validator was unavailable

	// The call's, set by start before the call begins.
	k        flightKey
	cache    *Cache
	values   context.Context // the starting request's values, without its cancellation
	begun    time.Time
	deadline time.Time
	ended    chan struct{} // Done: closed at the deadline, or when the call returns
	endErr   error         // written before ended is closed
	ending   atomic.Bool   // ended is being closed
	timer    *time.Timer
	settled  atomic.Bool // the answer is decided: by the call, or at the deadline
}

// join returns the flight for k and whether the caller must run it.
func (g *flightGroup) join(k flightKey) (*flight, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if f, ok := g.flights[k]; ok {
		return f, false
	}
	if g.flights == nil {
		g.flights = make(map[flightKey]*flight)
	}
	f := &flight{done: make(chan struct{})}
	g.flights[k] = f
	return f, true
}

// finish publishes f's result to its waiters.
func (g *flightGroup) finish(k flightKey, f *flight) {
	g.mu.Lock()
	delete(g.flights, k)
	g.mu.Unlock()
	close(f.done)
}

// start makes f the context of a validator call that ctx's request starts,
// and sets its deadline: if the call has not returned by then, expire
// answers the waiters without it.
func (f *flight) start(c *Cache, k flightKey, ctx context.Context) {
	f.k, f.cache = k, c
	// WithoutCancel also hides the request's cancellation from
	// context.Cause and from contexts derived from this one.
	f.values = context.WithoutCancel(ctx)
	f.begun = time.Now()
	f.deadline = f.begun.Add(c.timeout)
	f.ended = make(chan struct{})
	f.timer = time.AfterFunc(c.timeout, f.expire)
}

func (f *flight) Deadline() (time.Time, bool) { return f.deadline, true }
func (f *flight) Done() <-chan struct{}       { return f.ended }
func (f *flight) Value(key any) any           { return f.values.Value(key) }

func (f *flight) Err() error {
	select {
	case <-f.ended:
		return f.endErr
	default:
		return nil
	}
}

// end ends the call's context with err, the first time.
func (f *flight) end(err error) {
	if f.ending.CompareAndSwap(false, true) {
		f.endErr = err
		close(f.ended)
	}
}

// expire runs at the deadline, on the timer's goroutine: the call has not
// returned, so the waiters get the timeout's answer now, and the call's,
// whenever it comes, is dropped.
func (f *flight) expire() {
	f.end(context.DeadlineExceeded)
	c := f.cache
	c.conclude(f, func() {
		err := &UnavailableError{Err: context.DeadlineExceeded}
		observeValidation(f, c.hooks.Validation, c.failures, f.begun, f.k.d, nil, err)
		f.key, f.err = c.staleOr(f.k.d, c.clock.now(), err)
		f.stale = f.err == nil
	})
}
