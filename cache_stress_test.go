package apikey

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// checkCacheLists checks, with every shard and the ID index locked, that
// each shard's table and LRU list hold the same entries, within the shard's
// bound, and that the ID index holds exactly the entries of the shards,
// each under its key's ID.
// checkEntryTable checks that every entry of shard i's table t can be
// found from its home slot, and returns the count of entries and of slots
// used (entries and tombstones), which must leave a quarter empty.
func checkEntryTable(t *testing.T, i int, tab *entryTable) (live, used int) {
	t.Helper()
	for j := range tab.slots {
		e := tab.slots[j].Load()
		if e == nil {
			continue
		}
		used++
		if e != tombstone {
			live++
			require.Same(t, e, tab.find(&e.d), "shard %d: an entry its probe does not reach, or held twice", i)
		}
	}
	require.LessOrEqual(t, used*4, len(tab.slots)*3, "shard %d: the table is over three quarters full", i)
	return live, used
}

func checkCacheLists(t *testing.T, c *Cache) {
	t.Helper()
	for i := range c.positive {
		c.positive[i].mu.Lock()
		defer c.positive[i].mu.Unlock()
	}
	c.ids.mu.Lock()
	defer c.ids.mu.Unlock()

	held := 0
	for i := range c.positive {
		s := &c.positive[i]
		live, used := checkEntryTable(t, i, s.table.Load())
		require.Equal(t, s.live, live, "shard %d: the count of entries", i)
		require.Equal(t, s.used, used, "shard %d: the count of slots used", i)
		n := 0
		for e := s.lru.older; e != &s.lru; e = e.older {
			require.Same(t, e, e.older.newer, "shard %d: a broken link", i)
			require.Same(t, e, s.table.Load().find(&e.d), "shard %d: an entry in the list, not in the table", i)
			require.NotEqual(t, int64(removedMark), e.promoted.Load(), "shard %d: a removed entry in the list", i)
			require.Equal(t, i, shardOf(e.d, len(c.positive)), "an entry in the wrong shard")
			n++
			require.LessOrEqual(t, n, s.live, "shard %d: the list is longer than the table (a cycle, or an entry twice)", i)
		}
		require.Equal(t, s.live, n, "shard %d: the table holds entries the list does not", i)
		require.LessOrEqual(t, n, s.size, "shard %d: over its bound", i)
		held += n
	}
	indexed := 0
	for id, head := range c.ids.heads {
		require.NotNil(t, head, "ID %q: an empty list kept", id)
		require.Nil(t, head.idPrev, "ID %q: the head has a predecessor", id)
		for e := head; e != nil; e = e.idNext {
			if e.idNext != nil {
				require.Same(t, e, e.idNext.idPrev, "ID %q: a broken link", id)
			}
			require.Equal(t, id, e.key.ID, "an entry under another ID")
			require.Same(t, e, c.positiveShard(e.d).peek(e.d), "ID %q: the index holds an entry the shards dropped", id)
			indexed++
			require.LessOrEqual(t, indexed, held, "the index is longer than the shards (a cycle, or an entry twice)")
		}
	}
	require.Equal(t, held, indexed, "the shards hold entries the index does not")
}

// stressValidator answers "sk_<n>" with a key whose ID is "key_<n%ids>",
// unless that ID is revoked, and every tenth value as invalid. It yields
// now and then, so that validations are in flight while the others run.
type stressValidator struct {
	ids     int
	revoked []atomic.Bool
}

func (v *stressValidator) Validate(_ context.Context, value string) (*Key, error) {
	var n int
	if _, err := fmt.Sscanf(value, "sk_%d", &n); err != nil {
		return nil, ErrInvalidKey
	}
	// The answer is decided first and returned later, as a store
	// answers from what it read before a revocation committed.
	valid := n%10 != 9 && !v.revoked[n%v.ids].Load()
	if rand.IntN(4) == 0 {
		time.Sleep(time.Duration(rand.IntN(200)) * time.Microsecond)
	}
	if !valid {
		return nil, ErrInvalidKey
	}
	return &Key{ID: fmt.Sprintf("key_%d", n%v.ids)}, nil
}

// Random validations, invalidations by ID and by value, purges and the
// clock moving, on a cache small enough that every shard is full and
// evicts: after them (and between them), each shard's map and list and
// the ID index agree, under -race.
func TestCacheListsStayConsistentUnderRandomOps(t *testing.T) {
	for _, tc := range []struct {
		name  string
		size  int
		clock bool // a fake clock moved by the test, so that entries expire and hits promote
	}{
		{"one entry per shard, fake clock", 16, true},
		{"a few per shard, fake clock", 50, true},
		{"a few per shard, real clock", 50, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const ids, values = 7, 200
			v := &stressValidator{ids: ids, revoked: make([]atomic.Bool, ids)}
			opts := []Option{WithCacheSize(tc.size), WithNegativeCacheSize(tc.size), WithCacheTTL(3 * time.Second)}
			clock := newFakeClock()
			if tc.clock {
				opts = append(opts, WithClock(clock.Now))
			}
			c, err := NewCache(v, opts...)
			require.NoError(t, err)

			ctx := context.Background()
			var wg sync.WaitGroup
			for w := range 6 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := rand.New(rand.NewPCG(uint64(w), 1))
					for range 3000 {
						n := r.IntN(values)
						// Hot keys, so that hits outnumber misses and promote.
						if r.IntN(2) == 0 {
							n = r.IntN(8)
						}
						value := fmt.Sprintf("sk_%d", n)
						switch op := r.IntN(100); {
						case op < 85:
							key, err := c.Validate(ctx, value)
							if err == nil && key.ID != fmt.Sprintf("key_%d", n%ids) {
								t.Errorf("%s answered with %s", value, key.ID)
							}
						case op < 92:
							c.InvalidateID(fmt.Sprintf("key_%d", r.IntN(ids)))
						case op < 97:
							c.InvalidateValue(value)
						case op < 98:
							c.Purge()
						default:
							if tc.clock {
								clock.Advance(time.Duration(r.IntN(1500)) * time.Millisecond)
							}
						}
					}
				}()
			}
			wg.Add(1)
			go func() { // checks while the others run
				defer wg.Done()
				for range 20 {
					checkCacheLists(t, c)
					time.Sleep(time.Millisecond)
				}
			}()
			wg.Wait()
			checkCacheLists(t, c)

			st := c.Stats()
			t.Logf("%+v", st)
			assert.NotZero(t, st.Hits)
			assert.NotZero(t, st.Evictions, "the shards were full")
			assert.LessOrEqual(t, st.Size, tc.size)

			c.Purge()
			checkCacheLists(t, c)
			assert.Zero(t, c.Stats().Size)
			assert.Empty(t, c.ids.heads)
		})
	}
}

// Keys are revoked one ID at a time while requests with every key run,
// misses and hits alike: a request that starts after InvalidateID has
// returned never gets a key with that ID, whether from an entry, from a
// validation in flight when the ID was invalidated, or from one that
// joined such a flight.
func TestCacheRevokedKeyNeverServedAfterInvalidation(t *testing.T) {
	for _, fake := range []bool{false, true} {
		t.Run(fmt.Sprintf("fake clock %v", fake), func(t *testing.T) {
			const ids, values = 8, 64
			v := &stressValidator{ids: ids, revoked: make([]atomic.Bool, ids)}
			opts := []Option{WithCacheSize(32)}
			if fake {
				opts = append(opts, WithClock(newFakeClock().Now))
			}
			c, err := NewCache(v, opts...)
			require.NoError(t, err)
			invalidated := make([]atomic.Bool, ids) // set once InvalidateID has returned

			ctx := context.Background()
			var wg sync.WaitGroup
			var served atomic.Int64
			stop := make(chan struct{})
			for w := range 6 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := rand.New(rand.NewPCG(uint64(w), 2))
					for {
						select {
						case <-stop:
							return
						default:
						}
						n := r.IntN(values)
						if n%10 == 9 {
							continue
						}
						before := invalidated[n%ids].Load()
						_, err := c.Validate(ctx, fmt.Sprintf("sk_%d", n))
						if err == nil {
							served.Add(1)
							if before {
								t.Errorf("key_%d served after its invalidation returned", n%ids)
								return
							}
						}
					}
				}()
			}
			for id := range ids {
				time.Sleep(2 * time.Millisecond) // let entries and flights build up
				v.revoked[id].Store(true)        // the store first, then the cache: as a revocation does
				c.InvalidateID(fmt.Sprintf("key_%d", id))
				invalidated[id].Store(true)
			}
			time.Sleep(2 * time.Millisecond)
			close(stop)
			wg.Wait()
			assert.NotZero(t, served.Load(), "keys were served before their revocation")
			checkCacheLists(t, c)
			assert.Zero(t, c.Stats().Size, "every ID revoked: nothing valid is left")
		})
	}
}

// revocableValidator answers "sk_<n>" with the key "key_<n>" unless n is
// revoked, counting the valid answers.
type revocableValidator struct {
	revoked []atomic.Bool
	valid   atomic.Int64
}

func (v *revocableValidator) Validate(_ context.Context, value string) (*Key, error) {
	var n int
	if _, err := fmt.Sscanf(value, "sk_%d", &n); err != nil || n >= len(v.revoked) || v.revoked[n].Load() {
		return nil, ErrInvalidKey
	}
	v.valid.Add(1)
	return &Key{ID: fmt.Sprint("key_", n)}, nil
}

// While every shard's table grows from its smallest through many rehashes,
// keys are revoked one at a time, by value, by ID or by a purge, and hits
// on the keys already cached run all along: no request that starts after
// its key's invalidation returned is served the key, whichever table
// (replaced or not) its hit read.
func TestCacheGrowingTablesNeverServeRemoved(t *testing.T) {
	const values = 3000
	v := &revocableValidator{revoked: make([]atomic.Bool, values)}
	c, err := NewCache(v, WithCacheSize(1<<14))
	require.NoError(t, err)
	ctx := context.Background()

	var validated atomic.Int64 // sk_0 … sk_<validated-1> were validated once
	invalidated := make([]atomic.Bool, values)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() { // the tables grow
		defer wg.Done()
		for n := range values {
			_, _ = c.Validate(ctx, fmt.Sprint("sk_", n))
			validated.Store(int64(n + 1))
		}
	}()
	var served atomic.Int64
	for w := range 3 {
		wg.Add(1)
		go func() { // hits, mostly
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 3))
			for {
				select {
				case <-stop:
					return
				default:
				}
				upTo := validated.Load()
				if upTo == 0 {
					continue
				}
				n := r.Int64N(upTo)
				before := invalidated[n].Load()
				if _, err := c.Validate(ctx, fmt.Sprint("sk_", n)); err == nil {
					served.Add(1)
					if before {
						t.Errorf("sk_%d served after its invalidation returned", n)
						return
					}
				}
			}
		}()
	}
	r := rand.New(rand.NewPCG(9, 9))
	mostSlots := 0
	for revoked := 0; revoked < values/10; {
		upTo := validated.Load()
		if upTo <= int64(10*revoked) { // spread over the tables' growth
			runtime.Gosched()
			continue
		}
		n := r.Int64N(upTo)
		if v.revoked[n].Swap(true) { // the store first, then the cache
			continue
		}
		revoked++
		slots := 0
		for i := range c.positive {
			slots += len(c.positive[i].table.Load().slots)
		}
		mostSlots = max(mostSlots, slots)
		switch r.IntN(10) {
		case 0:
			c.Purge()
		case 1, 2, 3, 4:
			c.InvalidateID(fmt.Sprint("key_", n))
		default:
			c.InvalidateValue(fmt.Sprint("sk_", n))
		}
		invalidated[n].Store(true)
	}
	for validated.Load() < values {
		runtime.Gosched()
	}
	close(stop)
	wg.Wait()
	assert.Greater(t, served.Load(), int64(values), "hits ran")
	checkCacheLists(t, c)
	assert.Greater(t, mostSlots, len(c.positive)*minTableSlots*8, "the tables grew meanwhile")
}

// Concurrent misses on distinct keys fill a cache that evicts: every valid
// answer is stored once, so it is either held or was evicted, and
// Stats().Size and Evictions add up to the validator's valid answers.
func TestCacheEvictionsAddUp(t *testing.T) {
	const values = 4000
	v := &revocableValidator{revoked: make([]atomic.Bool, values)}
	c, err := NewCache(v, WithCacheSize(700))
	require.NoError(t, err)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 4))
			for range 3000 {
				_, err := c.Validate(context.Background(), fmt.Sprint("sk_", r.IntN(values)))
				assert.NoError(t, err)
			}
		}()
	}
	wg.Wait()
	checkCacheLists(t, c)
	st := c.Stats()
	assert.Equal(t, 700, st.Size, "full")
	assert.Equal(t, v.valid.Load(), int64(st.Size)+int64(st.Evictions))
	assert.Equal(t, st.Misses-st.Coalesced, uint64(v.valid.Load()), "a validator call per leading miss")
}
