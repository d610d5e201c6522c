package apikey

import "sync"

// Origin says where an invalidation came from, for hooks, metrics and
// adapters that pass invalidations between processes.
type Origin string

// The origins the package and its integrations use. Others are allowed.
const (
	OriginLocal   Origin = "local"   // a call in this process, such as a key deleted through a client
	OriginWebhook Origin = "webhook" // a signed event from the key's vendor
	OriginReplica Origin = "replica" // another process, through a shared channel
	OriginStore   Origin = "store"   // a key store's own change feed
)

// Invalidation tells a Cache what to forget: the key with an ID, the key
// whose value has a digest, or everything. Several may be set at once. It
// never holds a key value, so it may be logged and sent to other processes.
type Invalidation struct {
	// ID forgets the key with this ID.
	ID string `json:"id,omitempty"`
	// Digest forgets the key whose value has this digest; zero for none.
	Digest Digest `json:"digest,omitzero"`
	// All forgets everything.
	All bool `json:"all,omitempty"`
	// Origin says where the invalidation came from; empty means
	// OriginLocal.
	Origin Origin `json:"origin,omitempty"`
}

// Invalidate applies inv: what it names is forgotten at once, and no
// validation already in flight can store it again (its result still goes
// to the requests waiting for it). The next request with the key asks the
// validator. Hooks.Invalidation then sees inv.
func (c *Cache) Invalidate(inv Invalidation) {
	if inv.ID == "" && inv.Digest.IsZero() && !inv.All {
		return // names nothing: not worth cancelling the validations in flight, here or elsewhere
	}
	if inv.Origin == "" {
		inv.Origin = OriginLocal
	}
	c.bumpEpoch()
	switch {
	case inv.All:
		c.purge()
	default:
		if inv.ID != "" {
			for _, d := range c.ids.lookup(inv.ID) {
				c.positiveShard(d).remove(d)
				c.budget.known.forget(d)
			}
		}
		if !inv.Digest.IsZero() {
			c.positiveShard(inv.Digest).remove(inv.Digest)
			c.negativeShard(inv.Digest).remove(inv.Digest)
			c.budget.known.forget(inv.Digest)
		}
	}
	c.invalidations.Add(1)
	if c.hooks.Invalidation != nil {
		c.hooks.Invalidation(inv)
	}
}

// InvalidateID forgets the key with this ID; see Invalidate. Call it when a
// key is deleted, expired or changed.
func (c *Cache) InvalidateID(id string) { c.Invalidate(Invalidation{ID: id}) }

// InvalidateValue forgets whatever the cache knows about the key value,
// valid or invalid; see Invalidate.
func (c *Cache) InvalidateValue(value string) { c.Invalidate(Invalidation{Digest: DigestOf(value)}) }

// Purge forgets everything; see Invalidate.
func (c *Cache) Purge() { c.Invalidate(Invalidation{All: true}) }

func (c *Cache) purge() {
	for i := range c.positive {
		c.positive[i].purge()
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

// idIndex maps key IDs to the entries cached under them, so that a key can
// be invalidated by its ID: each ID's entries form a list through the
// entries themselves, so that adding and removing one takes constant time
// however many values share the ID. Shards update it under their own lock;
// it never takes a shard's lock.
type idIndex struct {
	mu    sync.Mutex
	heads map[string]*entry
}

func (x *idIndex) add(e *entry) {
	x.mu.Lock()
	head := x.heads[e.key.ID]
	e.idPrev, e.idNext = nil, head
	if head != nil {
		head.idPrev = e
	}
	x.heads[e.key.ID] = e
	x.mu.Unlock()
}

func (x *idIndex) remove(e *entry) {
	x.mu.Lock()
	x.unlink(e)
	x.mu.Unlock()
}

// removeAll removes the entries of a shard's LRU list, whose sentinel is
// lru, under one lock.
func (x *idIndex) removeAll(lru *entry) {
	x.mu.Lock()
	for e := lru.older; e != lru; e = e.older {
		x.unlink(e)
	}
	x.mu.Unlock()
}

func (x *idIndex) unlink(e *entry) {
	switch {
	case e.idPrev != nil:
		e.idPrev.idNext = e.idNext
	case x.heads[e.key.ID] != e:
		return // not in the index
	case e.idNext != nil:
		x.heads[e.key.ID] = e.idNext
	default:
		delete(x.heads, e.key.ID)
	}
	if e.idNext != nil {
		e.idNext.idPrev = e.idPrev
	}
	e.idPrev, e.idNext = nil, nil
}

// lookup returns the digests cached under id.
func (x *idIndex) lookup(id string) []Digest {
	x.mu.Lock()
	defer x.mu.Unlock()
	var ds []Digest
	for e := x.heads[id]; e != nil; e = e.idNext {
		ds = append(ds, e.d)
	}
	return ds
}
