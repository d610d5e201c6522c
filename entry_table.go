package apikey

import (
	"encoding/binary"
	"sync/atomic"
)

// entryTable is a shard's index of entries by digest: an open-addressed
// hash table with linear probing, whose slots hits read with atomic loads
// and no lock, so that a hit writes no memory another core reads (a read
// lock would write its count on every hit, one cache line per shard, which
// every core serving a popular key would take in turn). Only the shard's
// writers, under its lock, change it.
//
// A removed entry leaves a tombstone in its slot, so that the probes of
// the entries after it go on; a rehash, into a new table published whole,
// clears them. A hit may thus read a table that a rehash has replaced:
// what it finds there is checked against the entry's own mark of removal
// (entry.promoted), so that a removed entry is never served, old table or
// new.
//
// The digests are SHA-256: their bits are already uniform, and the table
// hashes nothing. The shard is picked by the first byte; the table uses
// bytes 8 to 15.
type entryTable struct {
	slots []atomic.Pointer[entry]
	mask  uint64
}

// tombstone marks a slot whose entry was removed.
var tombstone = new(entry)

// minTableSlots is the size of an empty shard's table.
const minTableSlots = 8

func newEntryTable(slots int) *entryTable {
	return &entryTable{slots: make([]atomic.Pointer[entry], slots), mask: uint64(slots - 1)}
}

func (t *entryTable) home(d *Digest) uint64 { return binary.LittleEndian.Uint64(d[8:16]) & t.mask }

// find returns the entry for d, or nil. It may run concurrently with the
// shard's writers.
func (t *entryTable) find(d *Digest) *entry {
	for i := t.home(d); ; i = (i + 1) & t.mask {
		e := t.slots[i].Load()
		if e == nil {
			return nil
		}
		if e != tombstone && e.d == *d {
			return e
		}
	}
}

// tableForOneMore returns the table of s, rehashed first if one more entry would
// fill three quarters of its slots, tombstones included; under s.mu.
func (s *positiveShard) tableForOneMore() *entryTable {
	t := s.table.Load()
	if (s.used+1)*4 <= len(t.slots)*3 {
		return t
	}
	// Half full at most after the rehash, so that rehashes cost a constant
	// per insertion, tombstones or growth.
	n := minTableSlots
	for n < 2*(s.live+1) {
		n *= 2
	}
	nt := newEntryTable(n)
	for i := range t.slots {
		if e := t.slots[i].Load(); e != nil && e != tombstone {
			nt.slots[nt.free(&e.d)].Store(e)
		}
	}
	s.used = s.live
	s.table.Store(nt)
	return nt
}

// free returns the slot at which an entry for d, which the table does not
// hold, goes: the first empty one or tombstone of its probe.
func (t *entryTable) free(d *Digest) uint64 {
	i := t.home(d)
	for e := t.slots[i].Load(); e != nil && e != tombstone; e = t.slots[i].Load() {
		i = (i + 1) & t.mask
	}
	return i
}

// insert adds e, whose digest the shard does not hold; under s.mu.
func (s *positiveShard) insert(e *entry) {
	t := s.tableForOneMore()
	i := t.free(&e.d)
	if t.slots[i].Load() == nil {
		s.used++
	}
	t.slots[i].Store(e)
	s.live++
}

// delete removes e, which the shard holds, leaving a tombstone; under s.mu.
func (s *positiveShard) delete(e *entry) {
	t := s.table.Load()
	for i := t.home(&e.d); ; i = (i + 1) & t.mask {
		switch t.slots[i].Load() {
		case e:
			t.slots[i].Store(tombstone)
			s.live--
			return
		case nil:
			return // unreachable: e is held
		}
	}
}
