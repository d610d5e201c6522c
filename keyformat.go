package apikey

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"unsafe"
)

// The shape of the keys a KeyFormat issues: the prefix, then randomLength
// base62 characters from crypto/rand, then checksumLength base62 characters
// holding the CRC32 of everything before them.
//
// 36 base62 characters carry 36·log2(62) ≈ 214.3 bits. A display form shows
// the last 4 characters, which belong to the checksum: they tell at most
// 4·log2(62) ≈ 23.8 bits about the random part, and 190 bits stay secret.
const (
	randomLength   = 36
	checksumLength = 6 // 62^6 > 2^32: every CRC32 fits
	maxPrefixLen   = 32
	displayTail    = 4
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// KeyFormat is the shape of API keys that you issue yourself, without any
// vendor: a readable prefix of your choosing, 36 base62 characters from
// crypto/rand (about 214 bits), and 6 base62 characters of CRC32 checksum,
// as GitHub's tokens have. For example, with the prefix "acme_live_":
//
//	acme_live_NVf9AFhmZrSTbgD23ES23r7B8R28qQGGE8iW4aHgjp
//
// The prefix tells people and secret scanners what the key is; the checksum
// lets Check refuse a mistyped or made-up key without any lookup (pass
// Check to WithFormatCheck). The checksum is no secret and no signature:
// anyone can compute one, so a key that passes Check still needs a
// validator.
//
// A KeyFormat is a plain value, safe for concurrent use. Its zero value has
// no prefix and cannot generate keys. KeyFormat never logs and never puts a
// key value in an error.
type KeyFormat struct {
	// Prefix starts every key: 1 to 32 ASCII letters, digits or
	// underscores, ending with an underscore, such as "acme_live_".
	Prefix string
}

// CheckPrefix reports whether the prefix can start keys, with an error that
// matches ErrMisconfigured if not.
func (f KeyFormat) CheckPrefix() error {
	p := f.Prefix
	ok := len(p) > 0 && len(p) <= maxPrefixLen && p[len(p)-1] == '_'
	for i := 0; ok && i < len(p); i++ {
		ok = p[i] == '_' || isBase62(p[i])
	}
	if !ok {
		return configError("KeyFormat", "the prefix %q must be 1 to %d ASCII letters, digits or underscores, ending with an underscore",
			p, maxPrefixLen)
	}
	return nil
}

// Len is the length, in bytes, of every key of the format.
func (f KeyFormat) Len() int { return len(f.Prefix) + randomLength + checksumLength }

// Generate returns a new key value. Show it to its owner once and store
// only its digest (see Hasher). It fails only for an invalid prefix.
func (f KeyFormat) Generate() (string, error) {
	return f.generate(rand.Reader)
}

func (f KeyFormat) generate(random io.Reader) (string, error) {
	if err := f.CheckPrefix(); err != nil {
		return "", err
	}
	b := make([]byte, f.Len())
	copy(b, f.Prefix)
	body := b[len(f.Prefix) : len(f.Prefix)+randomLength]
	// Rejection sampling keeps every character equally likely: 248 is the
	// largest multiple of 62 that fits in a byte.
	var buf [2 * randomLength]byte
	for n := 0; n < len(body); {
		if _, err := io.ReadFull(random, buf[:]); err != nil {
			return "", fmt.Errorf("apikey: KeyFormat: reading randomness: %w", err)
		}
		for _, c := range buf {
			if c < 248 && n < len(body) {
				body[n] = base62[c%62]
				n++
			}
		}
	}
	putChecksum(b[len(b)-checksumLength:], crc32.ChecksumIEEE(b[:len(b)-checksumLength]))
	return string(b), nil
}

// Check reports whether value has the format's shape: the prefix, the
// length, base62 characters after the prefix, and a checksum that matches.
// It makes no lookup and no allocation, so a middleware can run it on every
// request before its cache (see WithFormatCheck). A value that passes is
// not yet a valid key: only a validator can say that.
func (f KeyFormat) Check(value string) bool {
	if len(value) != f.Len() || len(f.Prefix) == 0 || value[:len(f.Prefix)] != f.Prefix {
		return false
	}
	end := len(value) - checksumLength
	for i := len(f.Prefix); i < len(value); i++ {
		if !isBase62(value[i]) {
			return false
		}
	}
	var want [checksumLength]byte
	putChecksum(want[:], crc32.ChecksumIEEE(unsafe.Slice(unsafe.StringData(value), end)))
	return string(want[:]) == value[end:]
}

// DisplayValue returns a form of a key of this format that is safe to show
// and to log: the prefix, "...", and the last 4 characters, such as
// "acme_live_...Hgjp" (the same shape as WorkOS's display values). The last
// 4 characters belong to the checksum, so they reveal next to nothing of
// the secret. For a value that fails Check it returns "", never any part of
// the value.
func (f KeyFormat) DisplayValue(value string) string {
	if !f.Check(value) {
		return ""
	}
	return f.Prefix + "..." + value[len(value)-displayTail:]
}

// putChecksum writes sum in base62, most significant character first,
// padded with '0' to fill dst.
func putChecksum(dst []byte, sum uint32) {
	n := uint64(sum)
	for i := len(dst) - 1; i >= 0; i-- {
		dst[i] = base62[n%62]
		n /= 62
	}
}

func isBase62(c byte) bool {
	return '0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z'
}

// Hasher computes the digest under which a store keeps a key instead of
// its value. The zero value uses SHA-256, the norm for keys as random as a
// KeyFormat's: a slow password hash would add milliseconds to every cache
// miss and protect nothing that 190 random bits do not. NewHMACHasher adds a
// server-side secret (a "pepper"), so that a stolen table of digests is of
// no use without it.
//
// A Hasher is safe for concurrent use. It never keeps or logs a value, and
// never shows its pepper: fmt (every verb), slog and encoding/json print
// only its algorithm, and whatever holds a Hasher, even in an unexported
// field where its methods are not called, prints an address at most.
type Hasher struct {
	// hmac holds the pepper in its closure, where nothing that prints
	// values looks (fmt, slog, a test's diff): a []byte field would be
	// printed as it is by %v of any struct holding the Hasher.
	hmac func(value string) [sha256.Size]byte // nil: SHA-256
}

// MinPepperLength is the shortest pepper NewHMACHasher accepts, in bytes.
const MinPepperLength = 32

// NewHMACHasher returns a Hasher whose digests are HMAC-SHA256 keyed with
// pepper, which must be at least MinPepperLength bytes (generate it with
// crypto/rand, keep it out of the database). Changing the pepper makes every
// stored digest unknown: every key must then be issued again.
func NewHMACHasher(pepper []byte) (Hasher, error) {
	if len(pepper) < MinPepperLength {
		return Hasher{}, configError("NewHMACHasher", "the pepper must be at least %d bytes, not %d",
			MinPepperLength, len(pepper))
	}
	pepper = append([]byte(nil), pepper...)
	return Hasher{hmac: func(value string) (d [sha256.Size]byte) {
		m := hmac.New(sha256.New, pepper)
		io.WriteString(m, value)
		m.Sum(d[:0])
		return d
	}}, nil
}

// Sum returns the digest of value to store and to look the key up by.
func (h Hasher) Sum(value string) [sha256.Size]byte {
	if h.hmac == nil {
		return DigestOf(value)
	}
	return h.hmac(value)
}

// String names h's algorithm, "SHA-256" or "HMAC-SHA256 (pepper
// redacted)", never the pepper.
func (h Hasher) String() string {
	if h.hmac == nil {
		return h.algorithm()
	}
	return h.algorithm() + " (pepper redacted)"
}

// GoString is for %#v: valid Go, with the algorithm in a comment and never
// the pepper.
func (h Hasher) GoString() string { return "apikey.Hasher{ /* " + h.String() + " */ }" }

// Format prints h as String does for every verb (%#v as GoString does), so
// that no verb, %x included, reaches the pepper.
func (h Hasher) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		io.WriteString(f, h.GoString())
		return
	}
	io.WriteString(f, h.String())
}

// LogValue gives slog h's algorithm, and whether it has a pepper, never
// the pepper itself.
func (h Hasher) LogValue() slog.Value {
	return slog.GroupValue(slog.String("algorithm", h.algorithm()), slog.Bool("pepper", h.hmac != nil))
}

func (h Hasher) algorithm() string {
	if h.hmac == nil {
		return "SHA-256"
	}
	return "HMAC-SHA256"
}
