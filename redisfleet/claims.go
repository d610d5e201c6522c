package redisfleet

import (
	"slices"
	"sync"
	"sync/atomic"

	"github.com/apikeyauth/apikey"
)

// claims are the invalidations that Revoke is publishing itself. Revoke
// claims its invalidation before it applies it to the cache; the cache's
// Invalidation hook (Fleet.enqueue), which the cache calls within that
// call, takes the claim instead of queueing the invalidation, so that an
// acknowledged Revoke publishes once, and Revoke queues it only when Redis
// does not take it. Claims match by value: an identical invalidation
// applied meanwhile by another goroutine may take the claim instead, and
// Revoke's own is then queued, which publishes the same thing once more,
// harmlessly; none is ever lost.
//
// The zero value holds no claim. It is safe for concurrent use. The hook
// takes no lock while no claim is open.
type claims struct {
	n    atomic.Int64 // open claims
	mu   sync.Mutex
	open map[apikey.Invalidation][]*claim // oldest first
}

// claim is one Revoke's claim; taken is set, under claims.mu, by the hook
// that took it.
type claim struct{ taken bool }

// add opens a claim on inv.
func (c *claims) add(inv apikey.Invalidation) *claim {
	cl := &claim{}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.open == nil {
		c.open = map[apikey.Invalidation][]*claim{}
	}
	c.open[inv] = append(c.open[inv], cl)
	c.n.Add(1)
	return cl
}

// take takes the oldest open claim on inv, and reports whether there was
// one.
func (c *claims) take(inv apikey.Invalidation) bool {
	if c.n.Load() == 0 {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.open[inv]) == 0 {
		return false
	}
	c.open[inv][0].taken = true
	c.remove(inv, 0)
	return true
}

// done closes cl, a claim on inv, and reports whether a hook took it: if
// not, none can any more.
func (c *claims) done(inv apikey.Invalidation, cl *claim) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl.taken {
		return true
	}
	c.remove(inv, slices.Index(c.open[inv], cl))
	return false
}

// remove removes the i-th open claim on inv; the caller holds mu.
func (c *claims) remove(inv apikey.Invalidation, i int) {
	list := slices.Delete(c.open[inv], i, i+1)
	if len(list) == 0 {
		delete(c.open, inv)
	} else {
		c.open[inv] = list
	}
	c.n.Add(-1)
}
