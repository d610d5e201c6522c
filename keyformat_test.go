package apikey

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var testFormat = KeyFormat{Prefix: "acme_live_"}

// seededKeys generates n keys of f from a fixed seed, so that a failure
// names a key that the next run sees again.
func seededKeys(t testing.TB, f KeyFormat, n int) []string {
	t.Helper()
	random := rand.NewChaCha8([32]byte{'a', 'p', 'i', 'k', 'e', 'y'})
	keys := make([]string, n)
	for i := range keys {
		k, err := f.generate(random)
		require.NoError(t, err)
		keys[i] = k
	}
	return keys
}

func TestKeyFormatValidate(t *testing.T) {
	tests := []struct {
		prefix string
		ok     bool
	}{
		{"acme_live_", true},
		{"sk_", true},
		{"_", true},
		{"A1_", true},
		{strings.Repeat("a", 31) + "_", true},
		{"", false},
		{"acme", false},
		{"acme-live_", false},
		{"acme live_", false},
		{"acmé_", false},
		{"acme.live_", false},
		{strings.Repeat("a", 32) + "_", false},
	}
	for _, tc := range tests {
		t.Run(tc.prefix, func(t *testing.T) {
			f := KeyFormat{Prefix: tc.prefix}
			err := f.CheckPrefix()
			_, genErr := f.Generate()
			if tc.ok {
				assert.NoError(t, err)
				assert.NoError(t, genErr)
				return
			}
			assert.ErrorIs(t, err, ErrMisconfigured)
			assert.ErrorIs(t, genErr, ErrMisconfigured)
			assert.False(t, f.Check(tc.prefix+strings.Repeat("0", randomLength+checksumLength)))
		})
	}
}

func TestKeyFormatGenerate(t *testing.T) {
	const n = 10_000
	seen := make(map[string]bool, n)
	var counts [256]int
	for range n {
		k, err := testFormat.Generate()
		require.NoError(t, err)
		require.Len(t, k, testFormat.Len())
		require.True(t, strings.HasPrefix(k, testFormat.Prefix), "prefix")
		require.True(t, testFormat.Check(k), "a generated key fails Check")
		require.False(t, seen[k], "a key came out twice")
		seen[k] = true
		for i := len(testFormat.Prefix); i < len(k)-checksumLength; i++ {
			counts[k[i]]++
		}
	}

	// Every base62 character and nothing else, each about equally often:
	// the empirical entropy per character is that of a uniform choice.
	total := float64(n * randomLength)
	var entropy float64
	for c, count := range counts {
		if !isBase62(byte(c)) {
			require.Zero(t, count, "character %q in the random part", c)
			continue
		}
		p := float64(count) / total
		require.InDelta(t, 1.0/62, p, 0.06/62, "character %q is not uniform", c)
		entropy -= p * math.Log2(p)
	}
	assert.Greater(t, entropy, 5.95, "bits per character")
	assert.GreaterOrEqual(t, entropy*randomLength, 190.0, "bits per key")
	// What the display form shows comes from the checksum; even so, what
	// stays hidden is at least 190 bits.
	assert.GreaterOrEqual(t, (randomLength-displayTail)*math.Log2(62), 190.0)
}

func TestKeyFormatGenerateRandomnessFails(t *testing.T) {
	_, err := testFormat.generate(iotest.ErrReader(errors.New("no entropy")))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no entropy")
}

// Every substitution of one character by another of the alphabet and every
// swap of two different neighbours, in 10,000 keys, fails Check: CRC32
// catches every error burst of up to 32 bits, and the checksum's own
// characters encode it one to one. (A character outside the alphabet fails
// the charset check: see TestKeyFormatCheck.)
func TestKeyFormatChecksumCatchesTypos(t *testing.T) {
	keys := seededKeys(t, testFormat, 10_000)
	for half, keys := range [][]string{keys[:5000], keys[5000:]} {
		t.Run(fmt.Sprint("half ", half), func(t *testing.T) {
			t.Parallel() // tens of millions of checks: use both cores
			for _, k := range keys {
				requireTyposFail(t, k)
			}
		})
	}
}

func requireTyposFail(t *testing.T, k string) {
	const alphabet = base62 + "_"
	b := []byte(k)
	changed := unsafe.String(&b[0], len(b)) // b, as Check reads it
	for i := range b {
		orig := b[i]
		for j := range len(alphabet) {
			if alphabet[j] == orig {
				continue
			}
			b[i] = alphabet[j]
			if testFormat.Check(changed) {
				t.Fatalf("key %s: %q at %d for %q passes", testFormat.DisplayValue(k), alphabet[j], i, orig)
			}
		}
		b[i] = orig
		if i+1 < len(b) && b[i] != b[i+1] {
			b[i], b[i+1] = b[i+1], b[i]
			if testFormat.Check(changed) {
				t.Fatalf("key %s: swapping %d and %d passes", testFormat.DisplayValue(k), i, i+1)
			}
			b[i], b[i+1] = b[i+1], b[i]
		}
	}
	require.True(t, testFormat.Check(changed))
}

func TestKeyFormatCheck(t *testing.T) {
	valid := seededKeys(t, testFormat, 1)[0]
	body := valid[len(testFormat.Prefix):]
	tests := []struct {
		name, value string
		want        bool
	}{
		{"valid", valid, true},
		{"empty", "", false},
		{"prefix only", testFormat.Prefix, false},
		{"other prefix", "acme_test_" + body, false},
		{"no prefix", body, false},
		{"one character short", valid[:len(valid)-1], false},
		{"one character long", valid + "0", false},
		{"body shifted", testFormat.Prefix + body[1:] + "0", false},
		{"underscore in the body", testFormat.Prefix + "_" + body[1:], false},
		{"non-ASCII", testFormat.Prefix + "é" + body[2:], false},
		{"all zeros", testFormat.Prefix + strings.Repeat("0", len(body)), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, testFormat.Check(tc.value))
		})
	}
	t.Run("the zero format accepts nothing", func(t *testing.T) {
		assert.False(t, KeyFormat{}.Check(body))
		assert.False(t, KeyFormat{}.Check(""))
	})
	t.Run("no allocation", func(t *testing.T) {
		assert.Zero(t, testing.AllocsPerRun(100, func() { testFormat.Check(valid) }))
	})
}

func TestKeyFormatDisplayValue(t *testing.T) {
	valid := seededKeys(t, testFormat, 1)[0]
	d := testFormat.DisplayValue(valid)
	assert.Equal(t, "acme_live_..."+valid[len(valid)-4:], d)
	assert.Empty(t, testFormat.DisplayValue(valid[:len(valid)-1]), "a malformed value shows nothing")
	assert.Empty(t, testFormat.DisplayValue("acme_live_secret"), "a malformed value shows nothing")
}

func TestHasher(t *testing.T) {
	const value = "acme_live_value"
	t.Run("zero value is SHA-256", func(t *testing.T) {
		assert.Equal(t, sha256.Sum256([]byte(value)), Hasher{}.Sum(value))
	})
	t.Run("HMAC with a pepper", func(t *testing.T) {
		pepper := []byte(strings.Repeat("p", MinPepperLength))
		h, err := NewHMACHasher(pepper)
		require.NoError(t, err)
		m := hmac.New(sha256.New, pepper)
		io.WriteString(m, value)
		assert.Equal(t, m.Sum(nil), func() []byte { d := h.Sum(value); return d[:] }())
		assert.NotEqual(t, Hasher{}.Sum(value), h.Sum(value))

		pepper[0] = 'q' // the Hasher keeps its own copy
		assert.Equal(t, m.Sum(nil), func() []byte { d := h.Sum(value); return d[:] }())

		other, err := NewHMACHasher([]byte(strings.Repeat("o", MinPepperLength)))
		require.NoError(t, err)
		assert.NotEqual(t, other.Sum(value), h.Sum(value))
	})
	t.Run("short pepper", func(t *testing.T) {
		_, err := NewHMACHasher([]byte("short"))
		assert.ErrorIs(t, err, ErrMisconfigured)
		assert.NotContains(t, err.Error(), "short")
	})
}

// FuzzKeyFormatCheck asserts Check's properties on any input: no panic;
// whatever passes has the prefix, the length and base62 characters, and a
// display form that shows only the prefix and the last 4 characters; and a
// key generated from the fuzzer's bytes passes, while the same key with one
// character changed does not.
func FuzzKeyFormatCheck(f *testing.F) {
	for _, k := range seededKeys(f, testFormat, 4) {
		f.Add(k, uint8(0))
	}
	f.Add("", uint8(3))
	f.Add("acme_live_", uint8(200))
	f.Add("acme_live_"+strings.Repeat("z", 42), uint8(41))
	f.Fuzz(func(t *testing.T, value string, pos uint8) {
		if testFormat.Check(value) {
			require.Len(t, value, testFormat.Len())
			require.True(t, strings.HasPrefix(value, testFormat.Prefix))
			for i := len(testFormat.Prefix); i < len(value); i++ {
				require.True(t, isBase62(value[i]))
			}
			d := testFormat.DisplayValue(value)
			require.Equal(t, testFormat.Prefix+"..."+value[len(value)-4:], d)
		} else {
			require.Empty(t, testFormat.DisplayValue(value))
		}

		var seed [32]byte
		copy(seed[:], value)
		k, err := testFormat.generate(rand.NewChaCha8(seed))
		require.NoError(t, err)
		require.True(t, testFormat.Check(k))
		b := []byte(k)
		i := int(pos) % len(b)
		// Another base62 character; a prefix's '_' (index -1) becomes any.
		b[i] = base62[(strings.IndexByte(base62, b[i])+1+int(pos)%61)%62]
		require.False(t, testFormat.Check(string(b)), "one character changed at %d", i)
	})
}

// With WithFormatCheck, a key that fails the check is answered 401
// invalid_token without asking the cache or the validator; a well-formed
// key goes on to them.
func TestWithFormatCheckAnswersWithoutLookup(t *testing.T) {
	valid := seededKeys(t, testFormat, 2)
	var calls int
	v := ValidatorFunc(func(ctx context.Context, value string) (*Key, error) {
		calls++
		if value == valid[0] {
			return &Key{ID: "key_1"}, nil
		}
		return nil, ErrInvalidKey
	})
	m, err := New(v, WithFormatCheck(testFormat.Check))
	require.NoError(t, err)
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))

	typo := []byte(valid[0])
	typo[len(typo)-1] = '0'
	if valid[0][len(typo)-1] == '0' {
		typo[len(typo)-1] = '1'
	}
	tests := []struct {
		name, value string
		status      int
		calls       int
	}{
		{"random", "acme_live_" + strings.Repeat("x", 42), 401, 0},
		{"mistyped", string(typo), 401, 0},
		{"other prefix", "sk_live_" + valid[0][len("acme_live_"):], 401, 0},
		{"well-formed, unknown", valid[1], 401, 1},
		{"well-formed, valid", valid[0], 200, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			calls = 0
			w := httptest.NewRecorder()
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("Authorization", "Bearer "+tc.value)
			h.ServeHTTP(w, r)
			assert.Equal(t, tc.status, w.Code)
			assert.Equal(t, tc.calls, calls, "validator calls")
			if tc.status == 401 {
				assert.Contains(t, w.Header().Get("WWW-Authenticate"), `error="invalid_token"`)
			}
		})
	}
	assert.Equal(t, 1, m.Cache().Stats().NegativeSize, "only the well-formed unknown key reached the cache")
}

func BenchmarkKeyFormatCheck(b *testing.B) {
	valid := seededKeys(b, testFormat, 1)[0]
	typo := []byte(valid)
	typo[20] ^= 1
	for _, bc := range []struct{ name, value string }{
		{"valid", valid},
		{"mistyped", string(typo)},
		{"random", "acme_live_" + strings.Repeat("x", 42)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				testFormat.Check(bc.value)
			}
		})
	}
}
