package redisfleet

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/apikeyauth/apikey"
)

// readCount is the most entries one read returns.
const readCount = 512

// cursor is where the reader stands in the stream: the fleet's epoch, the
// last entry's ID and sequence number. Entries are numbered without gaps,
// so a jump in the sequence, or another epoch, means something was missed.
type cursor struct {
	epoch string
	id    string
	seq   int64 // -1 after an entry without one: the cache was just purged
}

// readLoop applies the other replicas' invalidations to cache until ctx
// ends. After an error, and after a read that found nothing, it checks
// that Redis still holds everything after its cursor; when it cannot, it
// purges the cache and starts again from the stream's end. While entries
// come, they tell by themselves: their sequence numbers and epoch.
func (f *Fleet) readLoop(ctx context.Context, cache *apikey.Cache, cur *cursor) {
	defer f.wg.Done()
	backoff := newBackoff()
	check := true
	for ctx.Err() == nil {
		var err error
		if check {
			if err = f.sync(ctx, cache, &cur); err == nil {
				f.setConnected(true, nil)
				backoff = newBackoff()
			}
		}
		n := 0
		if err == nil {
			n, err = f.read(ctx, cache, cur)
		}
		if ctx.Err() != nil {
			return
		}
		check = err != nil || n == 0
		if err != nil {
			f.setConnected(false, err)
			select {
			case <-time.After(backoff.next()):
			case <-ctx.Done():
			}
		}
	}
}

// sync checks the stream against cur, purging cache if anything may have
// been missed, and sets cur. A nil cur means the reader never reached Redis:
// cur becomes the stream's end, and cache is purged, since it may have
// validated keys meanwhile whose invalidations it never heard of; Attach
// makes the first call with a nil cache, before any validation.
func (f *Fleet) sync(ctx context.Context, cache *apikey.Cache, cur **cursor) error {
	last := ""
	if *cur != nil {
		last = (*cur).id
	}
	cctx, cancel := f.call(ctx)
	defer cancel()
	r, err := syncScript.Run(cctx, f.reader, nil, f.p, randomToken(), last).StringSlice()
	if err != nil {
		return err
	}
	if len(r) != 4 {
		return fmt.Errorf("redisfleet: sync answered %d values, not 4", len(r))
	}
	gen, err := strconv.ParseInt(r[1], 10, 64)
	if err != nil {
		return fmt.Errorf("redisfleet: sequence number %q: %w", r[1], err)
	}
	end := &cursor{epoch: r[0], id: r[2], seq: gen}
	c := *cur
	switch {
	case c == nil:
		*cur = end
		if cache != nil {
			f.purge(cache, "it reached Redis only after it started serving")
		}
	case c.epoch != end.epoch:
		f.purge(cache, "the fleet's epoch changed: Redis lost its state (a flush), or restarted, perhaps from an older snapshot")
		*cur = end
	case c.seq < 0:
		*cur = end // purged already
	case gen < c.seq:
		f.purge(cache, "the stream's sequence number went back")
		*cur = end
	case gen == c.seq && streamIDLess(end.id, c.id):
		// The stream was deleted, or its last entry was one with an ID
		// that no entry could follow, which is gone: nothing was missed,
		// but the next entries come before the cursor.
		*cur = end
	case gen > c.seq && r[3] != strconv.FormatInt(c.seq+1, 10):
		f.purge(cache, "invalidations were trimmed from the stream before this replica read them")
		*cur = end
	}
	f.setLastID((*cur).id)
	return nil
}

// read waits for entries after cur, applies them, and returns how many
// there were.
func (f *Fleet) read(ctx context.Context, cache *apikey.Cache, cur *cursor) (int, error) {
	rctx, cancel := context.WithTimeout(ctx, f.s.block+f.s.timeout)
	defer cancel()
	streams, err := f.reader.XRead(rctx, &redis.XReadArgs{
		Streams: []string{f.p + "stream", cur.id}, Count: readCount, Block: f.s.block,
	}).Result()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n := 0
	for _, s := range streams {
		for _, m := range s.Messages {
			f.apply(cache, cur, m)
			n++
		}
	}
	f.setLastID(cur.id)
	return n, nil
}

// apply applies one entry unless this replica published it, or purges the
// cache if the entry shows that others were missed.
func (f *Fleet) apply(cache *apikey.Cache, cur *cursor, m redis.XMessage) {
	field := func(name string) string { s, _ := m.Values[name].(string); return s }
	seq, err := strconv.ParseInt(field("seq"), 10, 64)
	epoch := field("epoch")
	next := cur.seq + 1
	cur.id, cur.seq = m.ID, seq
	switch {
	case epoch != cur.epoch:
		cur.epoch = epoch
		f.purge(cache, "the fleet's epoch changed: Redis lost its state (a flush), or restarted, perhaps from an older snapshot")
		return
	case err != nil:
		cur.seq = -1
		f.purge(cache, "an entry has no sequence number")
		return
	case next > 0 && seq != next:
		f.purge(cache, "the stream skipped invalidations")
		return
	}
	e := streamEntry{from: field("from"), nonce: field("nonce"), origin: field("origin"), id: field("id"),
		digest: field("digest"), all: field("all")}
	switch {
	case !f.authentic(e, field("mac")):
		// It may stand in the place of one that was deleted.
		f.purge(cache, "an entry's MAC is missing or wrong: someone without the shared secret wrote to the stream")
		return
	case f.s.secret != nil && !f.recent.add(e.nonce):
		f.purge(cache, "an entry repeats an earlier one: someone copied it in the place of another")
		return
	case e.from == f.self:
		return
	}
	inv := apikey.Invalidation{ID: e.id, All: e.all == "1", Origin: apikey.OriginReplica}
	if d := e.digest; d != "" {
		if inv.Digest, err = parseDigest(d); err != nil {
			f.purge(cache, "an entry's digest is unreadable")
			return
		}
	}
	if inv.ID == "" && inv.Digest.IsZero() && !inv.All {
		return
	}
	cache.Invalidate(inv)
	f.st.received.Add(1)
}

// purge forgets everything cache holds, because the reader cannot show that
// it saw every invalidation.
func (f *Fleet) purge(cache *apikey.Cache, why string) {
	cache.Invalidate(apikey.Invalidation{All: true, Origin: apikey.OriginReplica})
	f.st.purges.Add(1)
	f.s.logger.Warn("redisfleet: purged the local cache: "+why, "prefix", f.s.prefix)
}

// setConnected records the reader's state, and logs when it changes, or
// first becomes known.
func (f *Fleet) setConnected(connected bool, err error) {
	f.st.mu.Lock()
	was, known := f.st.connected, f.st.known
	f.st.connected, f.st.known = connected, true
	f.st.mu.Unlock()
	if known && was == connected {
		return
	}
	if connected {
		f.s.logger.Info("redisfleet: reading invalidations from Redis", "prefix", f.s.prefix)
		return
	}
	f.s.logger.Warn("redisfleet: Redis does not answer; the local cache and the validator answer alone until it does",
		"prefix", f.s.prefix, "error", err)
}

func (f *Fleet) setLastID(id string) {
	f.st.mu.Lock()
	f.st.lastID = id
	f.st.mu.Unlock()
}
