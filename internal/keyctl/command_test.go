package keyctl

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestFlagsBeforeTheCommand checks that flags may come before the command
// as well as after it, and that revoke is delete.
func TestFlagsBeforeTheCommand(t *testing.T) {
	h := newHarness(t)
	k := h.srv.AddKey(aliceValue, "Alice", "org_1")
	base := h.env["WORKOS_BASE_URL"]
	delete(h.env, "WORKOS_BASE_URL")

	r := h.run(in(""), "--base-url", base, "list", "--org", "org_1")
	requireCode(t, exitOK, r)
	assert.Contains(t, r.stdout, k.ID)

	r = h.run(in(""), "--base-url="+base, "--org", "org_1", "--timeout", "1m", "audit", "--unused", "0")
	requireCode(t, exitNo, r) // flagged: no expiry
	assert.Contains(t, r.stdout, k.ID)

	r = h.run(in(""), "--yes", "--base-url", base, "revoke", k.ID)
	requireCode(t, exitOK, r)
	assert.Equal(t, k.ID+" revoked\n", r.stdout)
	got, _ := h.srv.Key(k.ID)
	assert.True(t, got.Deleted)

	r = h.run(in(""), "--base-url", base, "frobnicate")
	requireCode(t, exitUndecided, r)
	assert.Equal(t, "apikeys: unknown command \"frobnicate\"; run 'apikeys --help'\n", r.stderr)

	// A word that follows no flag is the command, even when unknown: a key
	// pasted there is not printed back.
	r = h.run(in(""), "--yes", aliceValue, "x")
	requireCode(t, exitUndecided, r)
	r = h.run(in(""), "--timeout", "1m", aliceValue, "list")
	requireCode(t, exitUndecided, r)
	assert.Equal(t, "apikeys: unknown command given; run 'apikeys --help'\n", r.stderr)
}
