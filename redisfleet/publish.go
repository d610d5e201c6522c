package redisfleet

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/apikeyauth/apikey"
)

// pending is an invalidation waiting to be published.
type pending struct {
	inv   apikey.Invalidation
	at    time.Time
	count int64 // how many of the outstanding it settles: 1, or those a purge stands for
	// overflow marks the purge that stands for those the full queue
	// dropped, already counted in Stats.Dropped.
	overflow bool
	// maybeSent is set once an attempt timed out: Redis may have taken it
	// without answering (it was stopped, and applies it when it resumes).
	maybeSent bool
}

// maxBatch is the most invalidations published in one round trip.
const maxBatch = 256

// enqueue is the Invalidation hook: it queues what this replica's cache
// applied for the publisher, and never blocks. What came from the other
// replicas is not sent back. A store's invalidation is queued only to be
// cleared from the shared cache (see publishes), and not at all without
// one.
func (f *Fleet) enqueue(inv apikey.Invalidation) {
	switch inv.Origin {
	case apikey.OriginReplica:
		return
	case apikey.OriginStore:
		if f.s.sharedTTL == 0 {
			return
		}
	}
	f.enqueued.Add(1)
	f.outstanding.Add(1)
	if f.revoking.take(inv) {
		return // Revoke publishes it, and queues it only if Redis does not take it
	}
	f.push(pending{inv: inv, at: time.Now(), count: 1})
}

// push queues p for the publisher, already counted as outstanding, and
// never blocks: when the queue is full, p is dropped and a purge is
// published in its place.
func (f *Fleet) push(p pending) {
	select {
	case f.queue <- p:
	default:
		f.st.dropped.Add(1)
		if publishes(p.inv) {
			f.overflowed.Add(1)
		} else {
			f.overflowedShared.Add(1)
		}
	}
}

// publishes reports whether inv goes on the stream. A store's invalidation
// does not: each replica's store watcher applies the same change by itself,
// and a store that purges because this replica cannot read its database
// must not purge the whole fleet. It is only cleared from the shared cache,
// which may hold the key from before the change.
func publishes(inv apikey.Invalidation) bool { return inv.Origin != apikey.OriginStore }

// unpublished reports whether an invalidation applied here has not reached
// Redis yet (published, or given up): until then the shared cache may still
// hold what it removed.
func (f *Fleet) unpublished() bool { return f.outstanding.Load() > 0 }

// settle records that batch reached Redis, or was given up.
func (f *Fleet) settle(batch []pending) {
	for _, p := range batch {
		f.outstanding.Add(-p.count)
	}
}

// publishLoop publishes the queue in batches, retrying a failed batch with
// backoff until it succeeds or grows older than the retry window. When ctx
// ends it flushes what is queued.
func (f *Fleet) publishLoop(ctx context.Context) {
	defer f.wg.Done()
	var batch []pending
	backoff := newBackoff()
	for {
		if len(batch) == 0 {
			select {
			case p := <-f.queue:
				batch = append(batch, p)
			case <-ctx.Done():
				f.flush(batch)
				return
			}
		}
		batch = f.drain(batch)
		err := f.publish(ctx, batch)
		if err == nil {
			f.settle(batch)
			batch, backoff = batch[:0], newBackoff()
			continue
		}
		markSent(batch, err)
		batch = f.expire(batch)
		select {
		case <-time.After(backoff.next()):
		case <-ctx.Done():
			f.flush(batch)
			return
		}
	}
}

// flush publishes batch and everything queued when the Fleet closes, in
// rounds, within one timeout. What is left then is dropped and counted, and
// one purge is published in its place, so that the other replicas still
// forget what they were not told.
func (f *Fleet) flush(batch []pending) {
	ctx, cancel := f.call(context.Background())
	defer cancel()
	for {
		batch = f.drain(batch)
		if len(batch) == 0 {
			return
		}
		if ctx.Err() != nil {
			break
		}
		if err := f.publish(ctx, batch); err != nil {
			markSent(batch, err)
			break
		}
		f.settle(batch)
		batch = batch[:0]
	}
	for n := len(f.queue); n > 0; n-- {
		batch = append(batch, <-f.queue)
	}
	batch = f.drain(batch) // the overflow's purge, if the queue overflowed meanwhile
	purge := pending{inv: apikey.Invalidation{All: true, Origin: apikey.OriginStore}, at: time.Now(), overflow: true}
	for _, p := range batch {
		f.giveUp(p)
		if publishes(p.inv) {
			purge.inv.Origin = apikey.OriginLocal
		}
	}
	f.settle(batch)
	pctx, pcancel := f.call(context.Background())
	defer pcancel()
	_ = f.publish(pctx, []pending{purge}) // Redis may be gone: it is counted in PublishErrors
}

// drain adds what is queued to batch, up to maxBatch, and a purge if the
// queue overflowed: published if it dropped an invalidation to publish,
// else one of the shared cache only.
func (f *Fleet) drain(batch []pending) []pending {
loop:
	for len(batch) < maxBatch {
		select {
		case p := <-f.queue:
			batch = append(batch, p)
		default:
			break loop
		}
	}
	n, shared := f.overflowed.Swap(0), f.overflowedShared.Swap(0)
	if n+shared > 0 {
		origin := apikey.OriginLocal
		if n == 0 {
			origin = apikey.OriginStore
		}
		batch = append(batch, pending{inv: apikey.Invalidation{All: true, Origin: origin},
			at: time.Now(), count: n + shared, overflow: true})
	}
	return batch
}

// expire drops from batch what has waited longer than the retry window.
func (f *Fleet) expire(batch []pending) []pending {
	kept := batch[:0]
	for _, p := range batch {
		if time.Since(p.at) < f.s.retryFor {
			kept = append(kept, p)
		} else {
			f.giveUp(p)
			f.settle([]pending{p})
		}
	}
	return kept
}

// giveUp counts p as dropped, or as unconfirmed when an attempt may have
// reached Redis: counting those as dropped over-reports after Redis was
// stopped (SIGSTOP) and resumed.
func (f *Fleet) giveUp(p pending) {
	switch {
	case p.overflow: // counted when the queue overflowed
	case p.maybeSent:
		f.st.unconfirmed.Add(1)
	default:
		f.st.dropped.Add(1)
	}
}

// markSent marks batch as maybe sent when err, a failed attempt to publish
// it, is a timeout: the request may have reached Redis. A refused
// connection or an error answer did not publish it.
func markSent(batch []pending, err error) {
	var ne net.Error
	if !errors.Is(err, context.DeadlineExceeded) && !(errors.As(err, &ne) && ne.Timeout()) {
		return
	}
	for i := range batch {
		batch[i].maybeSent = true
	}
}

// publish sends batch in one round trip. A batch that fails in part is
// retried whole: applying an invalidation twice is harmless.
func (f *Fleet) publish(ctx context.Context, batch []pending) error {
	if len(batch) == 0 {
		return nil
	}
	ctx, cancel := f.call(ctx)
	defer cancel()
	err := f.publishPipeline(ctx, batch)
	if redis.HasErrorPrefix(err, "NOSCRIPT") {
		// Redis restarted, or its scripts were flushed: load it again.
		if err = publishScript.Load(ctx, f.client).Err(); err == nil {
			err = clearScript.Load(ctx, f.client).Err()
		}
		if err == nil {
			err = f.publishPipeline(ctx, batch)
		}
	}
	if err != nil {
		f.st.publishErrors.Add(1)
		return err
	}
	for _, p := range batch {
		if publishes(p.inv) {
			f.st.published.Add(1)
		} else {
			f.st.sharedCleared.Add(1)
		}
	}
	return nil
}

// publishPipeline runs the publish script, or the clear script, once for
// each of batch, by its hash: a batch is one round trip of a few hundred
// bytes per invalidation.
func (f *Fleet) publishPipeline(ctx context.Context, batch []pending) error {
	pipe := f.client.Pipeline()
	epoch := randomToken()
	var published []*redis.Cmd
	for _, p := range batch {
		var digest, all string
		if !p.inv.Digest.IsZero() {
			digest = digestHex(p.inv.Digest)
		}
		if p.inv.All {
			all = "1"
		}
		if !publishes(p.inv) {
			clearScript.EvalSha(ctx, pipe, nil, f.p, tombstoneTTL.Milliseconds(), p.inv.ID, digest, all)
			continue
		}
		origin := p.inv.Origin
		if origin == "" {
			origin = apikey.OriginLocal
		}
		e := streamEntry{from: f.self, nonce: randomToken(), origin: string(origin), id: p.inv.ID, digest: digest, all: all}
		published = append(published, publishScript.EvalSha(ctx, pipe, nil, f.p, epoch, f.s.maxLen, tombstoneTTL.Milliseconds(),
			e.from, e.origin, e.id, e.digest, e.all, e.nonce, f.streamMAC(e)))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return err
	}
	for _, c := range published {
		if seq, _ := c.Int64(); seq < 0 {
			f.s.logger.Warn("redisfleet: the stream's last entry had the largest possible ID, which only a forged entry has, "+
				"and took no entry after it: the stream was started again, and every replica purges", "prefix", f.s.prefix)
		}
	}
	return nil
}

// backoff doubles a delay from 50ms up to 2s.
type backoff struct{ d time.Duration }

func newBackoff() *backoff { return &backoff{d: 50 * time.Millisecond} }

func (b *backoff) next() time.Duration {
	d := b.d
	b.d = min(2*b.d, 2*time.Second)
	return d
}
