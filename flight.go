package apikey

import "sync"

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
type flight struct {
	done  chan struct{}
	key   *Key
	err   error
	stale bool // key is a stale entry, served because the validator was unavailable
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
