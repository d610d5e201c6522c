package apikey

import (
	"slices"
	"sync"
)

// InvalidateValue forgets whatever the cache knows about the key value, valid
// or invalid, and keeps any validation of it already in flight from being
// stored. The next request with it asks the validator.
func (c *Cache) InvalidateValue(value string) {
	d := digestOf(value)
	c.bumpEpoch()
	c.positiveShard(d).remove(d)
	c.negativeShard(d).remove(d)
}

// InvalidateID forgets the key with this ID, as WorkOS names it, and keeps
// any validation in flight from being stored. Use it when a key is deleted,
// expired or changed: the next request with it asks the validator.
func (c *Cache) InvalidateID(id string) {
	c.bumpEpoch()
	for _, d := range c.ids.lookup(id) {
		c.positiveShard(d).remove(d)
	}
}

// Purge forgets everything, and keeps any validation in flight from being
// stored.
func (c *Cache) Purge() {
	c.bumpEpoch()
	for i := range c.positive {
		s := &c.positive[i]
		s.mu.Lock()
		s.lru.Purge()
		s.mu.Unlock()
	}
	for i := range c.negative {
		s := &c.negative[i]
		s.mu.Lock()
		s.lru.Purge()
		s.mu.Unlock()
	}
}

// bumpEpoch marks every validation in flight as started before an
// invalidation. Taking the write lock waits for any store that has already
// checked the epoch, so that what it stored is there to be removed.
func (c *Cache) bumpEpoch() {
	c.invalidating.Lock()
	c.epoch.Add(1)
	c.invalidating.Unlock()
}

// CacheStats counts what a Cache has done since it was built.
type CacheStats struct {
	Hits         uint64 // valid keys served from the cache
	NegativeHits uint64 // invalid keys answered from the cache
	StaleHits    uint64 // valid keys served past their TTL while the validator was unavailable
	Misses       uint64 // requests that had to wait for the validator
	Coalesced    uint64 // misses that joined a validation already in flight
	Evictions    uint64 // entries dropped to make room, valid and invalid
	Size         int    // valid keys held, including expired ones not yet dropped
	NegativeSize int    // invalid keys held
}

// Stats returns the cache's counters. It locks each shard in turn, so call
// it for metrics, not on every request.
func (c *Cache) Stats() CacheStats {
	st := CacheStats{Misses: c.misses.Load(), Coalesced: c.coalesced.Load()}
	for i := range c.positive {
		s := &c.positive[i]
		s.mu.Lock()
		st.Hits += s.hits.Load()
		st.StaleHits += s.staleHits.Load()
		st.Evictions += s.evictions
		st.Size += s.lru.Len()
		s.mu.Unlock()
	}
	for i := range c.negative {
		s := &c.negative[i]
		s.mu.Lock()
		st.NegativeHits += s.hits
		st.Evictions += s.evictions
		st.NegativeSize += s.lru.Len()
		s.mu.Unlock()
	}
	return st
}

// idIndex maps key IDs to the digests cached under them, so that a key can
// be invalidated by the ID WorkOS gives it. Shards update it under their own
// lock; it never takes a shard's lock.
type idIndex struct {
	mu      sync.Mutex
	digests map[string][]digest
}

func (x *idIndex) add(id string, d digest) {
	x.mu.Lock()
	if !slices.Contains(x.digests[id], d) {
		x.digests[id] = append(x.digests[id], d)
	}
	x.mu.Unlock()
}

func (x *idIndex) remove(id string, d digest) {
	x.mu.Lock()
	defer x.mu.Unlock()
	ds := x.digests[id]
	if i := slices.Index(ds, d); i >= 0 {
		ds = slices.Delete(ds, i, i+1)
	}
	if len(ds) == 0 {
		delete(x.digests, id)
	} else {
		x.digests[id] = ds
	}
}

func (x *idIndex) lookup(id string) []digest {
	x.mu.Lock()
	defer x.mu.Unlock()
	return slices.Clone(x.digests[id])
}
