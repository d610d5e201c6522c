package apikey

// CacheStats counts what a Cache has done since it was built.
type CacheStats struct {
	Hits          uint64 `json:"hits"`          // valid keys served from the cache
	NegativeHits  uint64 `json:"negative_hits"` // invalid keys answered from the cache
	StaleHits     uint64 `json:"stale_hits"`    // valid keys served past their TTL while the validator was unavailable
	Misses        uint64 `json:"misses"`        // requests that had to wait for the validator
	Coalesced     uint64 `json:"coalesced"`     // misses that joined a validation already in flight
	Evictions     uint64 `json:"evictions"`     // entries dropped to make room, valid and invalid
	Invalidations uint64 `json:"invalidations"` // calls to Invalidate, whatever their origin
	Refused       uint64 `json:"refused"`       // misses refused by the upstream budget, without a validator call
	Size          int    `json:"size"`          // valid keys held, including expired ones not yet dropped
	NegativeSize  int    `json:"negative_size"` // invalid keys held
}

// Stats returns the cache's counters. It locks each shard in turn, so call
// it for metrics, not on every request.
func (c *Cache) Stats() CacheStats {
	st := CacheStats{
		Misses:        c.misses.Load(),
		Coalesced:     c.coalesced.Load(),
		Invalidations: c.invalidations.Load(),
		Refused:       c.budget.refused.Load(),
		Hits:          c.hits.Load(),
		StaleHits:     c.staleHits.Load(),
	}
	for i := range c.positive {
		s := &c.positive[i]
		s.mu.Lock()
		st.Evictions += s.evictions
		st.Size += s.live
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

// Add returns the sum of s and o, field by field, for metrics over several
// caches.
func (s CacheStats) Add(o CacheStats) CacheStats {
	return CacheStats{
		Hits:          s.Hits + o.Hits,
		NegativeHits:  s.NegativeHits + o.NegativeHits,
		StaleHits:     s.StaleHits + o.StaleHits,
		Misses:        s.Misses + o.Misses,
		Coalesced:     s.Coalesced + o.Coalesced,
		Evictions:     s.Evictions + o.Evictions,
		Invalidations: s.Invalidations + o.Invalidations,
		Refused:       s.Refused + o.Refused,
		Size:          s.Size + o.Size,
		NegativeSize:  s.NegativeSize + o.NegativeSize,
	}
}
