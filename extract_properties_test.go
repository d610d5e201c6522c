package apikey

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

// extractBearer runs FromAuthorizationBearer on a request with one
// Authorization header, h.
func extractBearer(h string) (string, error) {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header["Authorization"] = []string{h}
	return FromAuthorizationBearer(r)
}

// shiftCredential returns h with every ASCII letter and digit after its
// first 7 bytes ("Bearer " or "Bearer\t") moved to the next one of its kind,
// z to a: a header of the same shape, with another credential.
func shiftCredential(h string) string {
	b := []byte(h)
	for i := len("Bearer "); i < len(b); i++ {
		switch c := b[i]; {
		case c == 'z', c == 'Z':
			b[i] -= 'z' - 'a'
		case c == '9':
			b[i] = '0'
		case 'a' <= c && c < 'z', 'A' <= c && c < 'Z', '0' <= c && c < '9':
			b[i]++
		}
	}
	return string(b)
}

// fuzzMaxKeyLength is the limit of the middleware the fuzz target drives:
// short, so that the fuzzer reaches both sides of it.
const fuzzMaxKeyLength = 16

// assertValidatorSeesBoundedToken68 sends h through a Middleware and asserts
// that its validator is asked about the extracted key only when it is
// within the length limit, and then about exactly that token68 value; a
// longer key is malformed.
func assertValidatorSeesBoundedToken68(t *testing.T, h string) {
	var seen []string
	v := ValidatorFunc(func(_ context.Context, value string) (*Key, error) {
		seen = append(seen, value)
		return &Key{ID: "key_1"}, nil
	})
	m, err := New(v, WithoutCache(), WithMaxKeyLength(fuzzMaxKeyLength))
	require.NoError(t, err)
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header["Authorization"] = []string{h}
	_, authErr := m.Authenticate(r)

	key, extractErr := extractBearer(h)
	switch {
	case extractErr != nil || key == "":
		require.Empty(t, seen)
	case len(key) > fuzzMaxKeyLength:
		require.Empty(t, seen)
		require.ErrorIs(t, authErr, ErrMalformedKey)
	default:
		require.Equal(t, []string{key}, seen)
		require.True(t, isToken68(seen[0]))
		require.NoError(t, authErr)
	}
}
