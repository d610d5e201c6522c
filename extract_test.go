package apikey

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFromAuthorizationBearer(t *testing.T) {
	tests := []struct {
		name    string
		headers []string // Authorization values; nil for none
		want    string
		wantErr bool
	}{
		{"no header", nil, "", false},
		{"bearer", []string{"Bearer abc"}, "abc", false},
		{"lowercase scheme", []string{"bearer abc"}, "abc", false},
		{"mixed case scheme", []string{"bEaReR abc"}, "abc", false},
		{"extra spaces", []string{"Bearer    abc"}, "abc", false},
		{"token68 characters", []string{"Bearer aZ09-._~+/=="}, "aZ09-._~+/==", false},
		{"basic scheme carries no bearer key", []string{"Basic dXNlcjpwYXNz"}, "", false},
		{"other scheme", []string{"ApiKey abc"}, "", false},
		{"empty header", []string{""}, "", true},
		{"empty key", []string{"Bearer "}, "", true},
		{"scheme alone", []string{"Bearer"}, "", true},
		{"tab after scheme", []string{"Bearer\tabc"}, "", true},
		{"tab inside key", []string{"Bearer ab\tc"}, "", true},
		{"two credentials", []string{"Bearer abc def"}, "", true},
		{"non-token68 byte", []string{"Bearer ab\"c"}, "", true},
		{"non-ascii byte", []string{"Bearer abcé"}, "", true},
		{"padding in the middle", []string{"Bearer ab=c"}, "", true},
		{"only padding", []string{"Bearer ==="}, "", true},
		{"duplicate header", []string{"Bearer abc", "Bearer abc"}, "", true},
		{"two headers of different schemes", []string{"Basic x", "Bearer abc"}, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			for _, h := range tc.headers {
				r.Header.Add("Authorization", h)
			}
			got, err := FromAuthorizationBearer(r)
			if tc.wantErr {
				require.Error(t, err)
				assert.ErrorIs(t, err, ErrMalformedKey)
				assert.Empty(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestFromHeaderAndQuery(t *testing.T) {
	tests := []struct {
		name    string
		extract Extractor
		target  string
		headers map[string][]string
		want    string
		wantErr bool
	}{
		{"header", FromHeader("x-api-key"), "/", map[string][]string{"X-Api-Key": {"abc"}}, "abc", false},
		{"header absent", FromHeader("X-API-Key"), "/", nil, "", false},
		{"header twice", FromHeader("X-API-Key"), "/", map[string][]string{"X-Api-Key": {"abc", "abc"}}, "", true},
		{"header empty", FromHeader("X-API-Key"), "/", map[string][]string{"X-Api-Key": {""}}, "", true},
		{"header with space", FromHeader("X-API-Key"), "/", map[string][]string{"X-Api-Key": {"Bearer abc"}}, "", true},
		{"query", FromQuery("api_key"), "/?api_key=abc", nil, "abc", false},
		{"query absent", FromQuery("api_key"), "/?other=1", nil, "", false},
		{"query twice", FromQuery("api_key"), "/?api_key=a&api_key=b", nil, "", true},
		{"query empty", FromQuery("api_key"), "/?api_key=", nil, "", true},
		{"query non-token68", FromQuery("api_key"), "/?api_key=a%20b", nil, "", true},
		{"one of: bearer", OneOf(FromAuthorizationBearer, FromHeader("X-API-Key")), "/", map[string][]string{"Authorization": {"Bearer abc"}}, "abc", false},
		{"one of: header", OneOf(FromAuthorizationBearer, FromHeader("X-API-Key")), "/", map[string][]string{"X-Api-Key": {"abc"}}, "abc", false},
		{"one of: none", OneOf(FromAuthorizationBearer, FromHeader("X-API-Key")), "/", nil, "", false},
		{"one of: two places", OneOf(FromAuthorizationBearer, FromHeader("X-API-Key")), "/", map[string][]string{"Authorization": {"Bearer abc"}, "X-Api-Key": {"abc"}}, "", true},
		{"one of: first error stops", OneOf(FromAuthorizationBearer, FromHeader("X-API-Key")), "/", map[string][]string{"Authorization": {"Bearer a b"}, "X-Api-Key": {"abc"}}, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, tc.target, nil)
			for k, vs := range tc.headers {
				r.Header[k] = vs
			}
			got, err := tc.extract(r)
			if tc.wantErr {
				assert.ErrorIs(t, err, ErrMalformedKey)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestMalformedErrorsNeverHoldTheKey(t *testing.T) {
	secret := "sk_secret_value_that_must_not_leak"
	for _, h := range []string{"Bearer " + secret + " extra", "Bearer " + secret + "\"", "Bearer\t" + secret} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", h)
		_, err := FromAuthorizationBearer(r)
		require.Error(t, err)
		assert.NotContains(t, err.Error(), secret)
	}
}

// FuzzFromAuthorizationBearer asserts the extractor's properties on any
// header: an error matches ErrMalformedKey and comes with no key; a key is
// one token68 value, the header's credential after a Bearer scheme, and
// reads back the same from a canonical header; what the extractor answers
// does not depend on the credential's characters, so its errors cannot hold
// them; and behind a Middleware, the validator sees only token68 values
// within the length limit.
func FuzzFromAuthorizationBearer(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer  abc==", "Basic x", "", "Bearer", "Bearer\tx", "Bearer a b", strings.Repeat("a", 600)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		key, err := extractBearer(h)
		if err != nil {
			require.ErrorIs(t, err, ErrMalformedKey)
			require.Empty(t, key, "a key with an error")
		} else if key != "" {
			if !isToken68(key) {
				t.Fatalf("extracted key %q is not token68", key)
			}
			scheme, rest, _ := strings.Cut(h, " ")
			if !strings.EqualFold(scheme, "Bearer") || strings.TrimLeft(rest, " ") != key {
				t.Fatalf("extracted key %q is not the credential of %q", key, h)
			}
			if again, err := extractBearer("Bearer " + key); again != key || err != nil {
				t.Fatalf("canonical header for %q read back as (%q, %v)", key, again, err)
			}
		}

		// The same header with the credential's letters and digits shifted.
		shifted := shiftCredential(h)
		key2, err2 := extractBearer(shifted)
		require.Equal(t, err, err2, "errors for %q and %q", h, shifted)
		require.Equal(t, shiftCredential("Bearer " + key)[len("Bearer "):], key2, "keys of %q and %q", h, shifted)

		assertValidatorSeesBoundedToken68(t, h)
	})
}
