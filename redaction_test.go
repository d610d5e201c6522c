package apikey

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// printVerbs are the ways a value is printed that the redaction tests try.
var printVerbs = []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T %v"}

// printings returns v as every verb of printVerbs prints it, and as
// slog's text and JSON handlers and encoding/json write it, by name.
func printings(t *testing.T, v any) map[string]string {
	t.Helper()
	out := make(map[string]string)
	for _, verb := range printVerbs {
		out[verb] = fmt.Sprintf(verb, v)
	}
	out["Sprint"] = fmt.Sprint(v)
	out["Sprintln"] = fmt.Sprintln(v)
	for name, newHandler := range map[string]func(*bytes.Buffer) slog.Handler{
		"slog text": func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
		"slog json": func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
	} {
		var b bytes.Buffer
		slog.New(newHandler(&b)).Info("msg", "v", v)
		out[name] = b.String()
	}
	j, err := json.Marshal(v)
	require.NoError(t, err)
	out["json"] = string(j)
	return out
}

// assertNoSecret asserts that no printing of v holds secret, in any of the
// forms fmt gives bytes: as they are, in hex, in base64, or as a list of
// decimal numbers.
func assertNoSecret(t *testing.T, v any, secret []byte) map[string]string {
	t.Helper()
	forms := []string{
		string(secret),
		hex.EncodeToString(secret), strings.ToUpper(hex.EncodeToString(secret)),
		base64.StdEncoding.EncodeToString(secret),
		strings.Trim(fmt.Sprint(secret), "[]"),
		strings.Trim(fmt.Sprintf("%#v", secret), "[]byte{}"),
	}
	out := printings(t, v)
	for name, s := range out {
		for _, form := range forms {
			assert.NotContains(t, s, form, "%s of %T", name, v)
		}
	}
	return out
}

// A Hasher never shows its pepper, whether printed itself, through a
// pointer, or inside a struct that holds it, exported or not, where fmt
// never calls its methods.
func TestHasherRedactsPepper(t *testing.T) {
	pepper := []byte("PEPPER-0123456789-abcdefghijklmnop")
	h, err := NewHMACHasher(pepper)
	require.NoError(t, err)

	type exported struct{ Hasher Hasher }
	type unexported struct{ hasher Hasher }
	for name, v := range map[string]any{
		"value":              h,
		"pointer":            &h,
		"exported field":     exported{h},
		"unexported field":   unexported{h},
		"pointer to holder":  &unexported{h},
		"slice":              []Hasher{h},
		"map":                map[string]Hasher{"h": h},
		"exported pointer":   &exported{h},
		"pointer in a slice": []*Hasher{&h},
	} {
		t.Run(name, func(t *testing.T) {
			assertNoSecret(t, v, pepper)
		})
	}

	t.Run("says what it is", func(t *testing.T) {
		out := printings(t, h)
		for _, verb := range []string{"%v", "%+v", "%s", "%x", "%d", "Sprint"} {
			assert.Equal(t, "HMAC-SHA256 (pepper redacted)", out[verb], verb)
		}
		assert.Equal(t, "apikey.Hasher{ /* HMAC-SHA256 (pepper redacted) */ }", out["%#v"])
		assert.Contains(t, out["slog text"], "v.algorithm=HMAC-SHA256 v.pepper=true")
		assert.Contains(t, out["slog json"], `"v":{"algorithm":"HMAC-SHA256","pepper":true}`)
		assert.Equal(t, "{}", out["json"])

		zero := printings(t, Hasher{})
		assert.Equal(t, "SHA-256", zero["%v"])
		assert.Equal(t, "apikey.Hasher{ /* SHA-256 */ }", zero["%#v"])
		assert.Contains(t, zero["slog text"], "v.algorithm=SHA-256 v.pepper=false")
	})
}

// secretValidator is a validator by value that holds a secret, as a user's
// may: printing a Cache in front of it must not show it.
type secretValidator struct{ APIKey string }

func (secretValidator) Validate(context.Context, string) (*Key, error) { return nil, ErrInvalidKey }

// A live Cache prints its settings only: no field walk racing with the
// requests it serves (run under -race), and nothing of its validator.
func TestCachePrintsSettingsOnly(t *testing.T) {
	const secret = "sk_vendor_secret_0123456789"
	c, err := NewCache(secretValidator{APIKey: secret}, WithLogger(nil))
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 200 {
			_, _ = c.Validate(context.Background(), fmt.Sprintf("sk_print_%d", i))
		}
	}()
	for range 50 {
		assertNoSecret(t, c, []byte(secret))
	}
	<-done
	out := printings(t, c)
	want := "apikey.Cache{ttl: 30s, negative_ttl: 5s, stale_if_error: 0s, validation_timeout: 5s}"
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "Sprint"} {
		assert.Equal(t, want, out[verb], verb)
	}
	assert.Contains(t, out["slog json"], `"v":"`+want+`"`)
	assert.Equal(t, "apikey.Cache(nil)", fmt.Sprint((*Cache)(nil)))
}

// A Middleware prints its realm and cache settings, never its validator.
func TestMiddlewarePrintsSettingsOnly(t *testing.T) {
	const secret = "sk_vendor_secret_0123456789"
	for _, tc := range []struct {
		opts []Option
		want string
	}{
		{[]Option{WithoutCache()}, `apikey.Middleware{realm: "api", max_key_length: 512, cache: none}`},
		{[]Option{WithRealm("billing")}, `apikey.Middleware{realm: "billing", max_key_length: 512, cache: apikey.Cache{ttl: 30s, negative_ttl: 5s, stale_if_error: 0s, validation_timeout: 5s}}`},
	} {
		m, err := New(secretValidator{APIKey: secret}, tc.opts...)
		require.NoError(t, err)
		out := assertNoSecret(t, m, []byte(secret))
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "Sprint"} {
			assert.Equal(t, tc.want, out[verb], verb)
		}
	}
	assert.Equal(t, "apikey.Middleware(nil)", fmt.Sprint((*Middleware)(nil)))
}
