// Package stripe has a counter that goroutines on different cores add to
// without writing one cache line: the cache's count of hits and
// promapikey's count of authenticated requests, both written by every
// request on the hit path.
package stripe

import (
	"sync/atomic"
	"unsafe"
)

// Bits is log2 of the number of cache lines a Counter spreads over.
const (
	Bits    = 6
	Stripes = 1 << Bits
)

// Counter counts exactly, on Stripes cache lines, so that goroutines
// counting at once on different cores rarely write the same line: each
// counts on the stripe its stack's address falls on. Goroutines that share
// a stripe still count right; they only share the line. The zero value is
// zero, and it is safe for concurrent use. It is 4 KiB: one per metric,
// never one per key.
type Counter struct {
	stripes [Stripes]struct {
		n atomic.Uint64
		_ [56]byte // one cache line each
	}
}

// Add counts one. It is one atomic add, on a line other goroutines rarely
// write, and never allocates.
func (c *Counter) Add() {
	var here byte
	// Stacks are 2 KiB apart at least: the bits above spread goroutines,
	// and the multiplication (Fibonacci hashing) mixes them into the top
	// Bits.
	stack := uint64(uintptr(unsafe.Pointer(&here)) >> 11)
	c.stripes[stack*0x9E3779B97F4A7C15>>(64-Bits)].n.Add(1)
}

// Load returns the count: every Add that happened before it, and any of
// those running at the same time.
func (c *Counter) Load() uint64 {
	var n uint64
	for i := range c.stripes {
		n += c.stripes[i].n.Load()
	}
	return n
}

// Used returns how many stripes have counted something, for tests that
// check the spreading.
func (c *Counter) Used() int {
	used := 0
	for i := range c.stripes {
		if c.stripes[i].n.Load() > 0 {
			used++
		}
	}
	return used
}
