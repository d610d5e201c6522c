package apikey

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// newTestShard returns a shard of one cache, holding at most size entries.
func newTestShard(size int) *positiveShard {
	ids := &idIndex{heads: make(map[string]*entry)}
	return &newPositiveShards(size, 1, ids)[0]
}

func testEntry(value string) *entry {
	return &entry{d: DigestOf(value), key: &Key{ID: "key_" + value}}
}

// A shard's table answers as a map would through random adds, removals
// and purges over a small pool of digests, so that probes collide,
// tombstones pile up and the table is rehashed, growing and shrinking.
func TestEntryTableAgainstAMap(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, seed))
			s := newTestShard(1 << 20) // never evicts: the map is the truth
			want := map[Digest]*entry{}
			pool := make([]string, 200)
			for i := range pool {
				pool[i] = fmt.Sprint("sk_", i)
			}
			rehashes, last := 0, s.table.Load()
			for op := range 20_000 {
				v := pool[r.IntN(len(pool))]
				switch n := r.IntN(100); {
				case n < 55:
					e := testEntry(v)
					s.add(e)
					want[e.d] = e
				case n < 99:
					s.remove(DigestOf(v))
					delete(want, DigestOf(v))
				default:
					s.purge()
					clear(want)
				}
				if tab := s.table.Load(); tab != last {
					rehashes, last = rehashes+1, tab
				}
				if op%97 == 0 {
					for _, v := range pool {
						d := DigestOf(v)
						require.Same(t, want[d], s.peek(d), "op %d: %s", op, v)
					}
					live, used := checkEntryTable(t, 0, s.table.Load())
					require.Equal(t, len(want), live)
					require.Equal(t, s.used, used)
				}
			}
			assert.Greater(t, rehashes, 10, "the table was rehashed")
		})
	}
}

// A removed entry is not served, nor put back in the LRU by a promotion
// that read it before its removal.
func TestRemovedEntryStaysRemoved(t *testing.T) {
	s := newTestShard(10)
	e := testEntry("sk_a")
	e.promoted.Store(0)
	s.add(e)
	require.Same(t, e, s.peek(e.d))

	s.remove(e.d)
	assert.Nil(t, s.peek(e.d))
	s.promote(e, instant(5*promoteEvery)) // a hit that found it just before
	assert.Equal(t, int64(removedMark), e.promoted.Load())
	assert.Same(t, &s.lru, s.lru.older, "the LRU is empty")
	assert.Zero(t, s.live)
}

// Hits read a shard's table while its writers change it: a held entry is
// always found, and an entry once removed is never found again, whatever
// the table's rehashes.
func TestEntryTableConcurrentReads(t *testing.T) {
	s := newTestShard(1 << 20)
	stable := make([]*entry, 20)
	for i := range stable {
		stable[i] = testEntry(fmt.Sprint("sk_stable_", i))
		s.add(stable[i])
	}
	const rounds = 3000
	churn := make([]*entry, rounds)
	for i := range churn {
		churn[i] = testEntry(fmt.Sprint("sk_churn_", i))
	}
	var removedUpTo atomic.Int64 // churn[:removedUpTo] were removed
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var failures atomic.Int64
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if s.peek(stable[i%len(stable)].d) != stable[i%len(stable)] {
					failures.Add(1)
				}
				if n := removedUpTo.Load(); n > 0 && s.peek(churn[int(n-1)].d) != nil {
					failures.Add(1)
				}
			}
		}()
	}
	for i, e := range churn {
		s.add(e)
		if i%3 == 2 { // the table grows too
			continue
		}
		s.remove(e.d)
		removedUpTo.Store(int64(i + 1))
	}
	close(stop)
	wg.Wait()
	assert.Zero(t, failures.Load(), "a held entry missed, or a removed one found")
	live, _ := checkEntryTable(t, 0, s.table.Load())
	assert.Equal(t, len(stable)+rounds/3, live)
}

// A table that a rehash or a purge replaced still holds the entries it
// held, for the hits that read it before: each entry removed since, by
// whichever way, is marked so that such a hit does not serve it.
func TestReplacedTableServesNoRemovedEntry(t *testing.T) {
	for _, tc := range []struct {
		name   string
		remove func(s *positiveShard, e *entry)
	}{
		{"removed", func(s *positiveShard, e *entry) { s.remove(e.d) }},
		{"replaced", func(s *positiveShard, e *entry) { s.add(testEntry("sk_a")) }},
		{"evicted", func(s *positiveShard, e *entry) {
			for i := range s.size {
				s.add(testEntry(fmt.Sprint("sk_evicting_", i)))
			}
		}},
		{"purged", func(s *positiveShard, e *entry) { s.purge() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestShard(100)
			e := testEntry("sk_a")
			s.add(e)
			old := s.table.Load()
			for i := range 40 { // rehashed, growing
				s.add(testEntry(fmt.Sprint("sk_", i)))
			}
			require.NotSame(t, old, s.table.Load(), "the table was rehashed")
			require.Same(t, e, servable(old.find(&e.d)), "a hit on the old table serves a held entry")
			mid := s.table.Load()

			tc.remove(s, e)
			assert.Same(t, e, old.find(&e.d), "the old table still holds it")
			assert.Nil(t, servable(old.find(&e.d)), "a hit on the old table does not serve it")
			assert.NotSame(t, e, servable(mid.find(&e.d)), "nor one on the table of the removal")
			assert.NotSame(t, e, s.peek(e.d))
		})
	}
}
