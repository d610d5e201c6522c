package redisfleet

import (
	"crypto/hmac"
	"encoding/hex"
	"strconv"
	"strings"
)

// streamPurpose labels the MAC of a stream entry (see macOf).
const streamPurpose = "redisfleet stream entry v1"

// streamEntry is what a stream entry says, but for the epoch and the
// sequence number, which Redis assigns: who published it, a nonce of its
// own, and the invalidation.
type streamEntry struct {
	from, nonce, origin, id, digest, all string
}

// streamMAC signs e with the shared secret, in hex; "" without one.
func (f *Fleet) streamMAC(e streamEntry) string {
	if f.s.secret == nil {
		return ""
	}
	return hex.EncodeToString(macOf(f.s.secret.reveal(), streamPurpose, e.from, e.nonce, e.origin, e.id, e.digest, e.all))
}

// authentic reports whether e carries the MAC mac, always true without a
// shared secret.
func (f *Fleet) authentic(e streamEntry, mac string) bool {
	if f.s.secret == nil {
		return true
	}
	got, err := hex.DecodeString(mac)
	return err == nil && hmac.Equal(got, macOf(f.s.secret.reveal(), streamPurpose, e.from, e.nonce, e.origin, e.id, e.digest, e.all))
}

// nonces remembers the nonces of the last entries the reader applied, so
// that an entry copied from an earlier one, which its MAC cannot tell, is
// noticed. Only the reader's goroutine uses it.
type nonces struct {
	seen map[string]struct{}
	ring []string
	next int
}

// recentNonces is how many nonces the reader remembers.
const recentNonces = 4096

// add records n and reports whether it was new.
func (ns *nonces) add(n string) bool {
	if ns.seen == nil {
		ns.seen, ns.ring = make(map[string]struct{}, recentNonces), make([]string, recentNonces)
	}
	if _, ok := ns.seen[n]; ok {
		return false
	}
	if len(ns.seen) == recentNonces {
		// Only a full ring's slot holds a nonce to forget: an unused one's
		// "" may be a nonce remembered.
		delete(ns.seen, ns.ring[ns.next])
	}
	ns.ring[ns.next] = n
	ns.next = (ns.next + 1) % recentNonces
	ns.seen[n] = struct{}{}
	return true
}

// streamIDLess reports whether stream entry ID a comes before b. IDs are
// "<ms>-<seq>"; an unreadable one counts as the largest.
func streamIDLess(a, b string) bool {
	am, as := splitStreamID(a)
	bm, bs := splitStreamID(b)
	return am < bm || am == bm && as < bs
}

func splitStreamID(id string) (uint64, uint64) {
	ms, seq, _ := strings.Cut(id, "-")
	m, err1 := strconv.ParseUint(ms, 10, 64)
	s, err2 := strconv.ParseUint(seq, 10, 64)
	if err1 != nil || err2 != nil {
		return ^uint64(0), ^uint64(0)
	}
	return m, s
}
