package sqlstore

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apikeyauth/apikey"
)

// No way of printing or logging a Store shows the pepper of its hasher or
// the password of its DSN: not any fmt verb, not slog, not a Store held in
// a field of another struct.
func TestStoreRedactsSecrets(t *testing.T) {
	const password = "pg-Secret-Pw-42"
	pepper := []byte("pepper-0123456789-abcdefghijklmnopqrstuvwxyz")
	h, err := apikey.NewHMACHasher(pepper)
	require.NoError(t, err)

	u, err := url.Parse(postgresTestDSN(t))
	require.NoError(t, err)
	// The password travels as the DSN's and as a query parameter; the
	// server trusts local connections, so any password connects.
	u.User = url.UserPassword(u.User.Username(), password)
	q := u.Query()
	q.Set("password", password)
	u.RawQuery = q.Encode()
	s := openStore(t, u.String(), WithHasher(h))
	lite := openStore(t, sqliteTestDSN(t)+"?_pragma=foreign_keys(1)", WithHasher(h))

	secrets := []string{password, string(pepper), hex.EncodeToString(pepper), strings.ToUpper(hex.EncodeToString(pepper)),
		fmt.Sprint(pepper), fmt.Sprintf("%#v", pepper), hex.EncodeToString([]byte(password))}
	type holder struct {
		Store *Store
		store *Store
	}
	for _, st := range []*Store{s, lite} {
		var printed []string
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T %p"} {
			printed = append(printed,
				fmt.Sprintf(verb, st),
				fmt.Sprintf(verb, holder{st, st}),
				fmt.Sprintf(verb, &holder{st, st}),
				fmt.Sprintf(verb, []*Store{st}))
		}
		var text, js bytes.Buffer
		slog.New(slog.NewTextHandler(&text, nil)).Info("m", "store", st, "holder", holder{st, st})
		slog.New(slog.NewJSONHandler(&js, nil)).Info("m", "store", st, "holder", holder{st, st})
		printed = append(printed, text.String(), js.String(), st.String(), st.GoString())
		for _, p := range printed {
			for _, secret := range secrets {
				require.NotContains(t, p, secret)
			}
		}
		assert.Contains(t, fmt.Sprint(st), "keys: test_…", "still says what it is")
		assert.Contains(t, text.String(), "store.key_prefix=test_")
	}
	assert.Equal(t, "sqlstore.Store{postgres://"+u.User.Username()+"@"+u.Host+u.Path+", keys: test_…}", s.String())
	assert.Equal(t, `"`+lite.String()+`"`, fmt.Sprintf("%q", lite))
	assert.NotContains(t, lite.String(), "foreign_keys", "no DSN parameter")
	assert.Equal(t, "sqlstore.Store(nil)", fmt.Sprint((*Store)(nil)))
}
