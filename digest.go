package apikey

import (
	"crypto/sha256"
	"encoding/hex"
	"unsafe"
)

// Digest is the SHA-256 of a key value: the only form in which a Cache, a
// Static validator or an invalidation message holds a key. Its zero value
// stands for no key.
type Digest [sha256.Size]byte

// DigestOf returns the SHA-256 of value. It hashes the string in place:
// []byte(value) would copy every key longer than 32 bytes to the heap, on
// every request.
func DigestOf(value string) Digest {
	return sha256.Sum256(unsafe.Slice(unsafe.StringData(value), len(value)))
}

// Fingerprint returns the first 8 bytes of d in hex: enough to tell keys
// apart in a log, never enough to recover or use one.
func (d Digest) Fingerprint() string { return hex.EncodeToString(d[:8]) }

// IsZero reports whether d is the zero Digest, which stands for no key.
func (d Digest) IsZero() bool { return d == Digest{} }
