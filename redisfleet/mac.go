package redisfleet

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
)

// macOf is the HMAC-SHA256 under secret of pieces, each prefixed with its
// length, after their count: no two lists of pieces give the same input,
// whatever bytes they hold. The first piece is a purpose label, so that a
// MAC made for one thing never passes for another.
func macOf(secret []byte, pieces ...string) []byte {
	m := hmac.New(sha256.New, secret)
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(pieces)))
	m.Write(n[:])
	for _, p := range pieces {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		m.Write(n[:])
		m.Write([]byte(p))
	}
	return m.Sum(nil)
}
