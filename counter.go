package apikey

import (
	"sync/atomic"
	"unsafe"
)

// counterStripes is how many cache lines a stripedCounter spreads over:
// 1<<stripeBits.
const (
	stripeBits     = 6
	counterStripes = 1 << stripeBits
)

// stripedCounter counts exactly, on as many cache lines as there are
// stripes, so that goroutines counting at once on different cores rarely
// write the same line: each counts on the stripe its stack's address falls
// on. Goroutines that share a stripe still count right; they only share
// the line. The zero value is zero, and it is safe for concurrent use.
type stripedCounter struct {
	stripes [counterStripes]struct {
		n atomic.Uint64
		_ [56]byte // one cache line each
	}
}

func (c *stripedCounter) add() {
	var here byte
	// Stacks are 2 KiB apart at least: the bits above spread goroutines,
	// and the multiplication (Fibonacci hashing) mixes them into the top
	// stripeBits.
	stack := uint64(uintptr(unsafe.Pointer(&here)) >> 11)
	c.stripes[stack*0x9E3779B97F4A7C15>>(64-stripeBits)].n.Add(1)
}

func (c *stripedCounter) load() uint64 {
	var n uint64
	for i := range c.stripes {
		n += c.stripes[i].n.Load()
	}
	return n
}
