package apikey

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// maxShards bounds how many independently locked LRUs a cache spreads its
// entries over, so that hits on different keys rarely wait for one another.
const maxShards = 16

// promoteEvery is how often a hit moves its entry to the front of the LRU.
// Moving it on every hit would take the shard's lock on every hit, so
// that hits on one popular key would queue behind one another; this way
// they take none, and the LRU order is right to within a second.
const promoteEvery = instant(time.Second)

// removedMark is an entry's promoted once it is removed from its shard:
// a hit that still finds it (in a table a rehash replaced, or as it is
// removed) serves it no more, and a late promotion cannot put it back.
const removedMark = math.MinInt64

// entry is a valid key as the cache holds it. It is its own node in two
// lists, its shard's LRU and its key ID's list in the idIndex, so that a
// cached key costs one allocation besides its slot in the shard's table.
type entry struct {
	d          Digest
	key        *Key
	expires    instant                   // served until then
	staleUntil instant                   // served while the validator is unavailable until then
	promoted   atomic.Int64              // the instant of its last move to the LRU's front, or removedMark
	plan       atomic.Pointer[limitPlan] // how the middleware charges the key's limits, once it has

	newer, older *entry // the shard's LRU, under the shard's lock
	idPrev       *entry // the ID's list, under the index's lock
	idNext       *entry
}

// positiveShard is one lock's worth of valid keys: a table for lookups
// and a list from the most to the least recently used. Hits read the table
// with no lock (see entryTable), and take the lock only to move their entry
// to the list's front, once per promoteEvery; the lock is the writers'.
//
// The list is this package's, not golang-lru's (which the invalid keys
// still use): an entry that is its own node in the LRU and in its ID's list
// costs one allocation, about two thirds of golang-lru's element plus an
// index of digests per ID, and keeps the ID index O(1).
type positiveShard struct {
	table     atomic.Pointer[entryTable]
	mu        sync.Mutex
	live      int   // the entries held, under mu
	used      int   // the table's slots not empty (entries and tombstones), under mu
	lru       entry // the list's sentinel: lru.older is the newest entry, lru.newer the oldest
	size      int   // the most entries kept
	ids       *idIndex
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
		s := &shards[i]
		s.table.Store(newEntryTable(minTableSlots))
		s.lru.newer, s.lru.older = &s.lru, &s.lru
		s.size, s.ids = perShard(size, len(shards), i), ids
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

// peek returns the entry for d, fresh or not, without a lock.
func (s *positiveShard) peek(d Digest) *entry { return servable(s.table.Load().find(&d)) }

// servable returns e, found in a table that may have been replaced since
// it was read, unless it was removed meanwhile.
func servable(e *entry) *entry {
	if e == nil || e.promoted.Load() == removedMark {
		return nil
	}
	return e
}

// promote moves e to the front of the LRU if it is due, unless it has
// been removed since it was read.
func (s *positiveShard) promote(e *entry, now instant) {
	last := e.promoted.Load()
	if now-instant(last) < promoteEvery || last == removedMark {
		return
	}
	// First, so that concurrent hits rarely promote too; and never over
	// removedMark.
	if !e.promoted.CompareAndSwap(last, int64(now)) {
		return
	}
	s.mu.Lock()
	if e.promoted.Load() != removedMark {
		s.unlink(e)
		s.pushFront(e)
	}
	s.mu.Unlock()
}

func (s *positiveShard) add(e *entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.table.Load().find(&e.d); old != nil {
		s.drop(old)
	}
	s.insert(e)
	s.pushFront(e)
	s.ids.add(e)
	if s.live > s.size {
		s.drop(s.lru.newer)
		s.evictions++
	}
}

func (s *positiveShard) remove(d Digest) {
	s.mu.Lock()
	if e := s.table.Load().find(&d); e != nil {
		s.drop(e)
	}
	s.mu.Unlock()
}

func (s *positiveShard) purge() {
	s.mu.Lock()
	for e := s.lru.older; e != &s.lru; e = e.older {
		e.promoted.Store(removedMark)
	}
	s.ids.removeAll(&s.lru)
	s.lru.newer, s.lru.older = &s.lru, &s.lru
	s.table.Store(newEntryTable(minTableSlots))
	s.live, s.used = 0, 0
	s.mu.Unlock()
}

// drop removes e from the shard and the index; under mu.
func (s *positiveShard) drop(e *entry) {
	e.promoted.Store(removedMark)
	s.delete(e)
	s.unlink(e)
	s.ids.remove(e)
}

func (s *positiveShard) pushFront(e *entry) {
	e.newer, e.older = &s.lru, s.lru.older
	s.lru.older.newer = e
	s.lru.older = e
}

func (s *positiveShard) unlink(e *entry) {
	e.newer.older, e.older.newer = e.older, e.newer
	e.newer, e.older = nil, nil
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
