package redisfleet

import (
	"context"
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
}

// maxBatch is the most invalidations published in one round trip.
const maxBatch = 256

// enqueue is the Invalidation hook: it queues what this replica's cache
// applied for the publisher, and never blocks. What came from the other
// replicas is not sent back.
func (f *Fleet) enqueue(inv apikey.Invalidation) {
	if inv.Origin == apikey.OriginReplica {
		return
	}
	f.enqueued.Add(1)
	f.outstanding.Add(1)
	select {
	case f.queue <- pending{inv: inv, at: time.Now(), count: 1}:
	default:
		f.st.dropped.Add(1)
		f.overflowed.Add(1)
	}
}

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
// ends it makes one last attempt with what is queued.
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
				f.publish(context.Background(), f.drain(batch))
				return
			}
		}
		batch = f.drain(batch)
		if err := f.publish(ctx, batch); err == nil {
			f.settle(batch)
			batch, backoff = batch[:0], newBackoff()
			continue
		}
		batch = f.expire(batch)
		select {
		case <-time.After(backoff.next()):
		case <-ctx.Done():
			f.publish(context.Background(), f.drain(batch))
			return
		}
	}
}

// drain adds what is queued to batch, up to maxBatch, and a purge if the
// queue overflowed.
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
	if n := f.overflowed.Swap(0); n > 0 {
		batch = append(batch, pending{inv: apikey.Invalidation{All: true, Origin: apikey.OriginLocal},
			at: time.Now(), count: n, overflow: true})
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
			if !p.overflow {
				f.st.dropped.Add(1)
			}
			f.settle([]pending{p})
		}
	}
	return kept
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
			err = f.publishPipeline(ctx, batch)
		}
	}
	if err != nil {
		f.st.publishErrors.Add(1)
		return err
	}
	f.st.published.Add(uint64(len(batch)))
	return nil
}

// publishPipeline runs the publish script once for each of batch, by its
// hash: a batch is one round trip of a few hundred bytes per invalidation.
func (f *Fleet) publishPipeline(ctx context.Context, batch []pending) error {
	pipe := f.client.Pipeline()
	epoch := randomToken()
	for _, p := range batch {
		var digest, all string
		if !p.inv.Digest.IsZero() {
			digest = digestHex(p.inv.Digest)
		}
		if p.inv.All {
			all = "1"
		}
		origin := p.inv.Origin
		if origin == "" {
			origin = apikey.OriginLocal
		}
		publishScript.EvalSha(ctx, pipe, nil, f.p, epoch, f.s.maxLen, tombstoneTTL.Milliseconds(),
			f.self, string(origin), p.inv.ID, digest, all)
	}
	_, err := pipe.Exec(ctx)
	return err
}

// backoff doubles a delay from 50ms up to 2s.
type backoff struct{ d time.Duration }

func newBackoff() *backoff { return &backoff{d: 50 * time.Millisecond} }

func (b *backoff) next() time.Duration {
	d := b.d
	b.d = min(2*b.d, 2*time.Second)
	return d
}
