package redisfleet

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestStreamIDLess: IDs compare by milliseconds, then by sequence number
// within the same millisecond, as numbers; an unreadable ID counts as the
// largest, so no readable cursor is ever moved past one.
func TestStreamIDLess(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		less bool
	}{
		{"1-0", "2-0", true},
		{"2-0", "1-0", false},
		{"5-1", "5-2", true}, // same millisecond: the sequence decides
		{"5-2", "5-1", false},
		{"5-1", "5-1", false},
		{"9-0", "10-0", true}, // numbers, not strings
		{"5-9", "5-10", true},
		{"2-0", "1-9", false}, // the milliseconds decide first
		{"1-9", "2-0", true},
		{"1-0", maxStreamID, true},
		{maxStreamID, "1-0", false},
		// Unreadable IDs: the largest, equal to one another.
		{"1-0", "x-0", true},
		{"1-0", "1-x", true},
		{"1-0", "1", true},
		{"1-0", "", true},
		{"1-0", "-1-0", true},
		{"1-0", "18446744073709551616-0", true}, // overflows a uint64
		{"x-0", "1-0", false},
		{"", "1-0", false},
		{"x-0", "y-0", false},
		{"", maxStreamID, false},
		{maxStreamID, "", false},
	} {
		t.Run(tc.a+" < "+tc.b, func(t *testing.T) {
			assert.Equal(t, tc.less, streamIDLess(tc.a, tc.b))
		})
	}
}

func TestSplitStreamID(t *testing.T) {
	const largest = ^uint64(0)
	for _, tc := range []struct {
		id      string
		ms, seq uint64
	}{
		{"0-0", 0, 0},
		{"1700000000000-3", 1700000000000, 3},
		{maxStreamID, largest, largest},
		{"", largest, largest},
		{"12", largest, largest},
		{"12-", largest, largest},
		{"-3", largest, largest},
		{"12-x", largest, largest},
		{"x-3", largest, largest},
		{"1-2-3", largest, largest},
		{"+1-2", largest, largest},
		{" 1-2", largest, largest},
	} {
		t.Run(tc.id, func(t *testing.T) {
			ms, seq := splitStreamID(tc.id)
			assert.Equal(t, tc.ms, ms, "milliseconds")
			assert.Equal(t, tc.seq, seq, "sequence")
		})
	}
}

// TestNonces: the reader remembers exactly the last recentNonces nonces,
// oldest forgotten first, across the ring's wrap-around.
func TestNonces(t *testing.T) {
	nonce := func(i int) string { return "n" + strconv.Itoa(i) }
	for _, tc := range []struct {
		name      string
		added     int   // nonces n0, n1, … added first, each new
		remember  []int // then still known (add reports false)
		forgotten []int // then new again
	}{
		{"one", 1, []int{0}, []int{1}},
		{"a few", 3, []int{0, 1, 2}, []int{3}},
		{"full", recentNonces, []int{0, 1, recentNonces / 2, recentNonces - 1}, []int{recentNonces}},
		{"one past full", recentNonces + 1, []int{1, 2, recentNonces}, []int{0}},
		{"wrapped twice and some", 2*recentNonces + 5, []int{recentNonces + 5, 2*recentNonces + 4}, []int{0, 4, recentNonces, recentNonces + 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ns nonces
			for i := range tc.added {
				if !ns.add(nonce(i)) {
					t.Fatalf("nonce %d reported as seen when first added", i)
				}
			}
			// Check the remembered ones first: a forgotten one added
			// again would push the oldest out.
			for _, i := range tc.remember {
				assert.False(t, ns.add(nonce(i)), "nonce %d is one of the last %d", i, recentNonces)
			}
			for _, i := range tc.forgotten {
				assert.True(t, ns.add(nonce(i)), "nonce %d is not one of the last %d", i, recentNonces)
			}
			assert.LessOrEqual(t, len(ns.seen), recentNonces)
		})
	}
}

// TestNoncesEmpty: an entry with no nonce is remembered like any other; the
// ring's unused slots, also "", do not make it forgotten.
func TestNoncesEmpty(t *testing.T) {
	var ns nonces
	assert.True(t, ns.add(""))
	assert.True(t, ns.add("a"))
	assert.False(t, ns.add(""), "an empty nonce is still one of the last")
	assert.False(t, ns.add("a"))
}
