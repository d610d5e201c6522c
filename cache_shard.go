package apikey

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// maxShards bounds how many independently locked LRUs a cache spreads its
// entries over, so that hits on different keys rarely wait for one another.
const maxShards = 16

// promoteEvery is how often a hit moves its entry to the front of the LRU.
// Moving it on every hit would need the shard's write lock on every hit, so
// that hits on one popular key would queue behind one another; this way
// they share a read lock, and the LRU order is right to within a second.
const promoteEvery = instant(time.Second)

// entry is a valid key as the cache holds it.
type entry struct {
	key        *Key
	expires    instant      // served until then
	staleUntil instant      // served while the validator is unavailable until then
	promoted   atomic.Int64 // the instant of its last move to the LRU's front
}

// positiveShard is one lock's worth of valid keys. Hits take only its read
// lock; the counters are per shard, so that hits on different shards share
// no memory that is written.
type positiveShard struct {
	mu        sync.RWMutex
	lru       *simplelru.LRU[Digest, *entry]
	ids       *idIndex
	hits      atomic.Uint64
	staleHits atomic.Uint64
	evictions uint64   // under mu
	_         [64]byte // keeps neighbouring shards off one cache line
}

type negativeShard struct {
	mu        sync.Mutex
	lru       *simplelru.LRU[Digest, instant]
	hits      uint64
	evictions uint64
	_         [64]byte
}

// shardCount returns the power of two of shards for a cache of size
// entries: as many as maxShards, but never more than entries.
func shardCount(size int) int {
	n := 1
	for n*2 <= maxShards && n*2 <= size {
		n *= 2
	}
	return n
}

// perShard splits size over the shards so that their bounds add up to it.
func perShard(size, shards, i int) int {
	n := size / shards
	if i < size%shards {
		n++
	}
	return n
}

func shardOf(d Digest, shards int) int { return int(d[0]) & (shards - 1) }

func newPositiveShards(size, count int, ids *idIndex) []positiveShard {
	shards := make([]positiveShard, count)
	for i := range shards {
		// The callback runs under the shard's lock, for evictions and removals
		// alike; it only takes the index's lock, never a shard's.
		lru, err := simplelru.NewLRU(perShard(size, len(shards), i), func(d Digest, e *entry) {
			ids.remove(e.key.ID, d)
		})
		if err != nil {
			panic(err) // unreachable: the size is positive
		}
		shards[i].lru, shards[i].ids = lru, ids
	}
	return shards
}

func newNegativeShards(size, count int) []negativeShard {
	shards := make([]negativeShard, count)
	for i := range shards {
		lru, err := simplelru.NewLRU[Digest, instant](perShard(size, len(shards), i), nil)
		if err != nil {
			panic(err) // unreachable: the size is positive
		}
		shards[i].lru = lru
	}
	return shards
}

func (s *positiveShard) get(d Digest, now instant) (*Key, bool) {
	s.mu.RLock()
	e, ok := s.lru.Peek(d) // Peek only reads: safe beside other readers
	s.mu.RUnlock()
	if !ok || now >= e.expires {
		return nil, false
	}
	s.hits.Add(1)
	if now-instant(e.promoted.Load()) >= promoteEvery {
		s.promote(d, e, now)
	}
	return e.key, true
}

// promote moves e to the front of the LRU, unless it has been replaced or
// removed since it was read.
func (s *positiveShard) promote(d Digest, e *entry, now instant) {
	e.promoted.Store(int64(now)) // first, so that concurrent hits rarely promote too
	s.mu.Lock()
	if cur, ok := s.lru.Peek(d); ok && cur == e {
		s.lru.Get(d)
	}
	s.mu.Unlock()
}

// getStale returns a key past its TTL but within its stale-if-error window.
func (s *positiveShard) getStale(d Digest, now instant) (*Key, bool) {
	s.mu.RLock()
	e, ok := s.lru.Peek(d)
	s.mu.RUnlock()
	if !ok || now >= e.staleUntil {
		return nil, false
	}
	s.staleHits.Add(1)
	return e.key, true
}

func (s *positiveShard) add(d Digest, e *entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lru.Remove(d) // drops the old entry from the ID index, if any
	if s.lru.Add(d, e) {
		s.evictions++
	}
	s.ids.add(e.key.ID, d)
}

func (s *positiveShard) remove(d Digest) {
	s.mu.Lock()
	s.lru.Remove(d)
	s.mu.Unlock()
}

func (s *negativeShard) get(d Digest, now instant) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	expires, ok := s.lru.Get(d)
	if !ok || now >= expires {
		return false
	}
	s.hits++
	return true
}

func (s *negativeShard) add(d Digest, expires instant) {
	s.mu.Lock()
	if s.lru.Add(d, expires) {
		s.evictions++
	}
	s.mu.Unlock()
}

func (s *negativeShard) remove(d Digest) {
	s.mu.Lock()
	s.lru.Remove(d)
	s.mu.Unlock()
}
