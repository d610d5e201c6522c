package apikey

import (
	"crypto/sha256"
	"unsafe"
)

// digest is the SHA-256 of a key value: the only form in which Cache and
// Static hold a key.
type digest = [sha256.Size]byte

// digestOf hashes value in place: []byte(value) would copy every key longer
// than 32 bytes to the heap, on every request. Sum256 only reads its input.
func digestOf(value string) digest {
	return sha256.Sum256(unsafe.Slice(unsafe.StringData(value), len(value)))
}
