package keyctl

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/apikeyauth/apikey/workos/workostest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// newKey returns the key the rotation created, which must be api_key_0002.
func newKey(t *testing.T, h *harness) workostest.Key {
	k, ok := h.srv.Key("api_key_0002")
	require.True(t, ok, "no new key")
	_, more := h.srv.Key("api_key_0003")
	require.False(t, more, "more than one new key")
	return k
}

func TestRotate(t *testing.T) {
	t.Run("the old key from stdin, expired after the grace period", func(t *testing.T) {
		h := newHarness(t)
		old := h.srv.AddKey(aliceValue, "Alice", "org_1", "posts:read", "posts:write")
		r := h.run(in(aliceValue+"\n"), "rotate", "--grace", "2d", "--expires-in", "90d")
		requireCode(t, exitOK, r)
		k := newKey(t, h)
		assert.Equal(t, k.Value+"\n", r.stdout)
		assert.Equal(t, "Alice", k.Name)
		assert.Equal(t, old.Permissions, k.Permissions)
		assert.True(t, testNow.Add(90*day).Equal(k.ExpiresAt))
		got, _ := h.srv.Key(old.ID)
		assert.True(t, testNow.Add(2*day).Equal(got.ExpiresAt), "%v", got.ExpiresAt)
		lines := r.stderrLines()
		require.Len(t, lines, 2, r.stderr)
		assert.Contains(t, lines[0], "created api_key_0002")
		assert.Contains(t, lines[0], "will not be shown again")
		assert.Equal(t, "apikeys rotate: old key api_key_0001 expires at 2026-03-03T12:00:00Z", lines[1])
	})

	t.Run("by --org and --id, with the default grace of 24h", func(t *testing.T) {
		h := newHarness(t)
		addKeys(h, "org_1", 150) // the old key is on the second page
		old, _ := h.srv.Key("api_key_0120")
		r := h.run(in(""), "rotate", "--org", "org_1", "--id", old.ID)
		requireCode(t, exitOK, r)
		k, ok := h.srv.Key("api_key_0151")
		require.True(t, ok)
		assert.Equal(t, k.Value+"\n", r.stdout)
		assert.Equal(t, old.Name, k.Name)
		got, _ := h.srv.Key(old.ID)
		assert.True(t, testNow.Add(day).Equal(got.ExpiresAt))
		assert.Zero(t, h.srv.Validations(), "no key value was needed")
	})

	t.Run("--grace 0 deletes the old key", func(t *testing.T) {
		h := newHarness(t)
		old := h.srv.AddKey(aliceValue, "Alice", "org_1")
		r := h.run(in(aliceValue), "rotate", "--grace", "0")
		requireCode(t, exitOK, r)
		assert.Equal(t, newKey(t, h).Value+"\n", r.stdout)
		got, _ := h.srv.Key(old.ID)
		assert.True(t, got.Deleted)
		assert.Equal(t, "apikeys rotate: old key api_key_0001 deleted", r.stderrLines()[1])
	})

	t.Run("an old key that expires sooner is left to expire", func(t *testing.T) {
		h := newHarness(t)
		old := h.srv.AddKey(aliceValue, "Alice", "org_1")
		h.srv.SetExpiresAt(old.ID, testNow.Add(time.Hour))
		r := h.run(in(aliceValue), "rotate")
		requireCode(t, exitOK, r)
		newKey(t, h)
		got, _ := h.srv.Key(old.ID)
		assert.True(t, testNow.Add(time.Hour).Equal(got.ExpiresAt))
		assert.Equal(t, "apikeys rotate: old key api_key_0001 left to expire at 2026-03-01T13:00:00Z", r.stderrLines()[1])
	})

	t.Run("a failing expire step: the new value is printed, the next step explained", func(t *testing.T) {
		h := newHarness(t)
		old := h.srv.AddKey(aliceValue, "Alice", "org_1", "posts:read")
		down := workostest.Reply(503, `{"message":"down"}`, "X-Request-ID", "req_expire_down")
		// validate, create, then four attempts at the expire.
		h.srv.Fail(nil, nil, down, down, down, down)
		r := h.run(in(aliceValue), "rotate", "--grace", "2d")
		requireCode(t, exitUndecided, r)
		k := newKey(t, h)
		assert.Equal(t, k.Value+"\n", r.stdout, "the new value is printed all the same")
		lines := r.stderrLines()
		require.Len(t, lines, 2, r.stderr)
		assert.Contains(t, lines[0], "will not be shown again")
		assert.Contains(t, lines[1], "the new key was created and its value printed, but the old key api_key_0001 was not retired")
		assert.Contains(t, lines[1], "req_expire_down")
		assert.True(t, strings.HasSuffix(lines[1], "it still works: run 'apikeys expire api_key_0001 --in 2d'"), lines[1])
		got, _ := h.srv.Key(old.ID)
		assert.True(t, got.ExpiresAt.IsZero(), "the old key was not touched")

		// What it says to run finishes the rotation.
		r = h.run(in(""), "expire", "api_key_0001", "--in", "2d")
		requireCode(t, exitOK, r)
		got, _ = h.srv.Key(old.ID)
		assert.True(t, testNow.Add(2*day).Equal(got.ExpiresAt))
		requireCode(t, exitOK, h.run(in(k.Value), "validate"))
	})

	t.Run("a failing delete step says to delete", func(t *testing.T) {
		h := newHarness(t)
		h.srv.AddKey(aliceValue, "Alice", "org_1")
		h.srv.Fail(nil, nil, workostest.Reply(403, `{"message":"Forbidden"}`))
		r := h.run(in(aliceValue), "rotate", "--grace", "0")
		requireCode(t, exitUndecided, r)
		assert.Equal(t, newKey(t, h).Value+"\n", r.stdout)
		assert.True(t, strings.HasSuffix(r.stderr, "it still works: run 'apikeys delete api_key_0001'\n"), r.stderr)
	})

	t.Run("a timeout during the expire step still explains", func(t *testing.T) {
		h := newHarness(t)
		h.srv.AddKey(aliceValue, "Alice", "org_1")
		h.srv.Fail(nil, nil) // validate and create get through; the expire hangs
		h.srv.FailAll(workostest.Slow(time.Minute))
		r := h.run(in(aliceValue), "rotate", "--timeout", "300ms")
		requireCode(t, exitUndecided, r)
		assert.Equal(t, newKey(t, h).Value+"\n", r.stdout)
		assert.Contains(t, r.stderr, "not retired (no answer from WorkOS within --timeout)")
	})

	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
		setup func(h *harness)
		code  int
		want  string
	}{
		{name: "an invalid old key", stdin: "sk_live_nobody_knows_me", code: exitNo, want: "finding the old key: apikey: invalid key"},
		{name: "an unknown id", args: []string{"--org", "org_1", "--id", "api_key_9999"}, code: exitNo, want: "no key api_key_9999 in organization org_1"},
		{name: "an expired old key", args: []string{"--org", "org_1", "--id", "api_key_0001"}, code: exitNo, want: "api_key_0001 expired at 2026-03-01T11:00:00Z",
			setup: func(h *harness) { h.srv.SetExpiresAt("api_key_0001", testNow.Add(-time.Hour)) }},
		{name: "a user's key", stdin: "sk_live_user_key_0001", code: exitUndecided, want: "only organization keys",
			setup: func(h *harness) { h.srv.AddUserKey("sk_live_user_key_0001", "Bob", "user_1", "org_1") }},
		{name: "a failing create", stdin: aliceValue, code: exitUndecided, want: "creating the new key (the old one is untouched)",
			setup: func(h *harness) { h.srv.Fail(nil, workostest.Reply(422, `{"message":"Validation failed."}`)) }},
		{name: "--org without --id", args: []string{"--org", "org_1"}, code: exitUndecided, want: "--org and --id go together"},
		{name: "an empty stdin", code: exitUndecided, want: "no key given"},
	} {
		t.Run(tc.name+" creates nothing", func(t *testing.T) {
			h := newHarness(t)
			h.srv.AddKey(aliceValue, "Alice", "org_1")
			if tc.setup != nil {
				tc.setup(h)
			}
			r := h.run(in(tc.stdin), append([]string{"rotate"}, tc.args...)...)
			requireCode(t, tc.code, r)
			assert.Empty(t, r.stdout)
			require.Len(t, r.stderrLines(), 1)
			assert.Contains(t, r.stderr, tc.want)
			for _, req := range h.srv.Requests() {
				assert.False(t, req.Method == http.MethodPost && strings.HasPrefix(req.Path, "/organizations/") && tc.name != "a failing create",
					"a key was created: %s %s", req.Method, req.Path)
			}
			old, _ := h.srv.Key("api_key_0001")
			assert.False(t, old.Deleted)
		})
	}
}
