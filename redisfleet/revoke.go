package redisfleet

import (
	"context"
	"fmt"
	"time"

	"github.com/apikeyauth/apikey"
)

// Invalidate applies inv to the attached cache, as cache.Invalidate does:
// at once here, and published to the other replicas in the background,
// without waiting. Before Attach it only publishes. It lets a Fleet stand
// wherever an invalidator is wanted, such as workos.NewWebhookHandler,
// which then also uses Revoke.
func (f *Fleet) Invalidate(inv apikey.Invalidation) {
	if c := f.cache.Load(); c != nil {
		c.Invalidate(inv)
		return
	}
	f.enqueue(withOrigin(inv))
}

// Revoke applies inv to the attached cache at once, as Invalidate does,
// and returns nil only once it is in Redis: appended to the stream that
// every replica reads (or, for apikey.OriginStore, only cleared from the
// shared cache, see the package doc), and what it names removed from the
// shared cache and tombstoned, this replica's own entries included. From
// then on every replica is bound to learn it: at once if connected, when it
// reconnects otherwise, by purging if Redis lost it meanwhile (see the
// package doc). A replica that dies the moment Revoke returns loses
// nothing.
//
// Revoke waits at most the Fleet's timeout (WithTimeout), or until ctx
// ends. When Redis does not take the invalidation in that time, Revoke
// returns an error matching ErrNotAcknowledged: report the revocation as
// not done (a webhook answers 5xx so that it is delivered again; an API
// answers an error) and let it be repeated. The invalidation is then
// retried in the background all the same (WithRetryFor), queued as the
// cache's hooks queue any other. An acknowledged invalidation is published
// once: Redis holds all that a second publication would write (the stream
// entry, the shared entries removed, the tombstones), and a Redis that
// loses it afterwards makes every replica purge (see the package doc),
// which a second publication could not improve on. Revoke is safe for
// concurrent use.
func (f *Fleet) Revoke(ctx context.Context, inv apikey.Invalidation) error {
	if inv.ID == "" && inv.Digest.IsZero() && !inv.All {
		return fmt.Errorf("redisfleet: Revoke: the invalidation names no key: %w", apikey.ErrMisconfigured)
	}
	inv = withOrigin(inv)
	f.revokes.Lock()
	open := !f.revokes.closing
	if open {
		f.revokes.inFlight.Add(1)
		defer f.revokes.inFlight.Done()
	}
	f.revokes.Unlock()
	// Until Redis has it, this replica must not read the shared cache,
	// which may still hold what it removes, and store it again locally.
	f.outstanding.Add(1)
	defer f.outstanding.Add(-1)
	at := time.Now()
	// The cache's hook, called within Invalidate, counts the invalidation
	// as enqueued and outstanding but leaves it to Revoke rather than
	// queueing it (see claims): settled here once Redis has it, queued
	// for the background retry if not. Without the hook (a cache not
	// given Hooks, or an invalidation the hook does not publish), nothing
	// is queued.
	queued := pending{inv: inv, at: at, count: 1}
	hooked := f.invalidateClaimed(inv, queued)
	if !open || f.stopped.Err() != nil {
		if hooked {
			f.push(queued)
		}
		return fmt.Errorf("%w: the fleet is closed", ErrNotAcknowledged)
	}
	// Not through the queue: the publisher may be waiting out a backoff.
	err := f.publish(ctx, []pending{{inv: inv, at: at}})
	if hooked {
		if err == nil {
			f.settle([]pending{queued})
		} else {
			batch := []pending{queued}
			markSent(batch, err)
			f.push(batch[0])
		}
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNotAcknowledged, err)
	}
	return nil
}

// withOrigin gives inv the Origin a Cache would: OriginLocal when empty.
func withOrigin(inv apikey.Invalidation) apikey.Invalidation {
	if inv.Origin == "" {
		inv.Origin = apikey.OriginLocal
	}
	return inv
}

// invalidateClaimed applies inv under a claim (see Revoke) and reports
// whether the cache's hook left it to the caller to publish. Should
// another of the cache's hooks panic, the claim is closed all the same,
// so that no later invalidation is taken by it, and what the fleet's hook
// left is queued as queued, since the caller will not publish it.
func (f *Fleet) invalidateClaimed(inv apikey.Invalidation, queued pending) (hooked bool) {
	cl := f.revoking.add(inv)
	applied := false
	defer func() {
		if !applied && f.revoking.done(inv, cl) {
			f.push(queued)
		}
	}()
	f.Invalidate(inv)
	applied = true
	return f.revoking.done(inv, cl)
}
