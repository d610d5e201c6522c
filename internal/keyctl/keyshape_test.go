package keyctl

import (
	"strings"
	"testing"

	"github.com/apikeyauth/apikey"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pastedKeys are key values pasted in the wrong place: a WorkOS key, and a
// key of your own format.
func pastedKeys(t *testing.T) []string {
	own, err := apikey.KeyFormat{Prefix: "demo_"}.Generate()
	require.NoError(t, err)
	return []string{aliceValue, own}
}

// assertNoPiece fails if s holds value or any 12 bytes in a row of it.
func assertNoPiece(t *testing.T, s, value string) {
	t.Helper()
	for i := 0; i+12 <= len(value); i++ {
		if !assert.NotContains(t, s, value[i:i+12], "a piece of the key is printed back") {
			return
		}
	}
}

// TestFlagValuesAreNotEchoed checks that a key given as a flag's value, or
// as a flag, is never printed back in the usage error.
func TestFlagValuesAreNotEchoed(t *testing.T) {
	for _, key := range pastedKeys(t) {
		for _, args := range [][]string{
			{"validate", "--json=" + key},
			{"list", "--org", "org_1", "--json=" + key},
			{"audit", "--org", "org_1", "--json=" + key},
			{"list", "--org", "org_1", "--timeout=" + key},
			{"list", "--org", "org_1", "--timeout", key},
			{"expire", "api_key_0001", "--in=" + key},
			{"expire", "api_key_0001", "--in", key},
			{"expire", "api_key_0001", "--at=" + key},
			{"expire", "api_key_0001", "--at", key},
			{"rotate", "--grace=" + key},
			{"rotate", "--grace", key},
			{"rotate", "--expires-in=" + key},
			{"audit", "--org", "org_1", "--max-age=" + key},
			{"audit", "--org", "org_1", "--unused", key},
			{"create", "--org", "org_1", "--name", "n", "--permission", key + " x"},
			{"create", "--org", "org_1", "--name", "n", "--expires-in", key},
			{"delete", "api_key_0001", "--yes=" + key},
			{"list", "--" + key},
			{"list", "-" + key + "=x"},
			{"list", "--org", "org_1", "--" + key + "=x"},
			{"list", "--org", "org_1", "--base-url", key},
		} {
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				h := newHarness(t)
				h.srv.AddKey(aliceValue, "Alice", "org_1")
				h.handed = append(h.handed, key)
				r := h.run(in(""), args...)
				requireCode(t, exitUndecided, r)
				require.Len(t, r.stderrLines(), 1, r.stderr)
				assert.Contains(t, r.stderr, "see 'apikeys ")
				assertNoPiece(t, r.stderr, key)
				assertNoPiece(t, r.stdout, key)
				assert.Empty(t, h.srv.Requests())
			})
		}
	}
	t.Run("--api-key-file's path is not printed back", func(t *testing.T) {
		h := newHarness(t)
		h.handed = append(h.handed, aliceValue)
		r := h.run(in(""), "list", "--org", "org_1", "--api-key-file", aliceValue)
		requireCode(t, exitUndecided, r)
		assert.Equal(t, "apikeys list: reading --api-key-file: no such file or directory\n", r.stderr)
	})
	t.Run("a flag's name is shown when it reads as one", func(t *testing.T) {
		h := newHarness(t)
		r := h.run(in(""), "list", "--orgs", "org_1")
		requireCode(t, exitUndecided, r)
		assert.Contains(t, r.stderr, `unknown flag "--orgs"`)
		r = h.run(in(""), "expire", "api_key_0001", "--in", "-3d")
		requireCode(t, exitUndecided, r)
		assert.Contains(t, r.stderr, "--in: the duration is negative")
		r = h.run(in(""), "list", "--org")
		requireCode(t, exitUndecided, r)
		assert.Contains(t, r.stderr, "--org needs a value")
	})
}

// TestKeyShapedIDsAreRefused checks that a key given where an ID is
// expected is refused before anything is sent, and not printed back.
func TestKeyShapedIDsAreRefused(t *testing.T) {
	for _, key := range pastedKeys(t) {
		for _, args := range [][]string{
			{"delete", key, "--yes"},
			{"revoke", key, "--yes"},
			{"expire", key},
			{"expire", "--in", "7d", key},
			{"rotate", "--org", "org_1", "--id", key},
			{"rotate", "--org", key, "--id", "api_key_0001"},
			{"list", "--org", key},
			{"audit", "--org", key},
			{"create", "--org", key, "--name", "n"},
			// Pasted with what surrounds it.
			{"delete", " " + key, "--yes"},
			{"revoke", key + "\n", "--yes"},
			{"delete", "'" + key + "'", "--yes"},
			{"delete", "Bearer " + key, "--yes"},
			{"expire", "api_key_0001/" + key},
			{"expire", "api_key_0001-" + key},
			{"list", "--org=\"" + key + "\""},
			{"rotate", "--org", "org_1", "--id", "\t" + key},
			{"list", "--org", "org_1", "--base-url", "https://api.workos.com/?key=" + key},
			// Sent, stored and printed back by create.
			{"create", "--org", "org_1", "--name", key},
			{"create", "--org", "org_1", "--name=my key " + key},
			{"create", "--org", "org_1", "--name", "n", "--permission=" + key},
			{"create", "--org", "org_1", "--name", "n", "--permission", "posts:read", "--permission", key},
		} {
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				h := newHarness(t)
				h.srv.AddKey(aliceValue, "Alice", "org_1")
				h.handed = append(h.handed, key)
				r := h.run(in(""), args...)
				requireCode(t, exitUndecided, r)
				require.Len(t, r.stderrLines(), 1, r.stderr)
				assert.Contains(t, r.stderr, "looks like an API key")
				assertNoPiece(t, r.stderr, key)
				assert.Empty(t, h.srv.Requests(), "nothing is sent")
			})
		}
	}
	t.Run("IDs are not taken for keys", func(t *testing.T) {
		a := &app{}
		for _, id := range []string{
			"api_key_01H5JQDV7R7ATEYZDEG0W5PRYS", "org_01EHZNVPK3SFK441A1RGBFSHRT", "user_01EHZNVPK3SFK441A1RGBFSHRT",
			"key_0005f3a1b2c3d" + "abcdefghijklmnop", // the SQL store's IDs
			"acme", "tenant_42", "Xy3kLm9PqR2sT5uV7wZ1aB4cD6e", "auth0|5f7c8ec7c33c6c004bbafe82", "",
			"task_force", "my-org sk", "https://api.workos.com", "invoices:read,invoices:write", "Billing key (prod)",
		} {
			assert.False(t, a.looksLikeKey(id), id)
		}
		own, err := apikey.KeyFormat{Prefix: "acme_live_"}.Generate()
		require.NoError(t, err)
		assert.True(t, a.looksLikeKey(own))
		mistyped := own[:20] + string(own[20]^1) + own[21:] // its checksum no longer matches
		assert.False(t, a.looksLikeKey(mistyped), "an own-format key is recognised by its checksum")
	})
}
