package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apikeyauth/apikey/internal/keyctl"
)

// runAsGiven runs the command with args exactly as given: run appends
// --store after them.
func (h *harness) runAsGiven(stdin string, args ...string) result {
	h.t.Helper()
	var stdout, stderr bytes.Buffer
	opts := append(withStores(h.clock.Now), keyctl.WithClock(h.clock.Now))
	code := keyctl.Run(context.Background(), args, strings.NewReader(stdin), &stdout, &stderr,
		func(k string) string { return h.env[k] }, opts...)
	r := result{args, code, stdout.String(), stderr.String(), h.format()}
	h.runs = append(h.runs, r)
	return r
}

// TestFlagsBeforeTheCommand checks that --store and the other flags may
// come before the command, and that revoke is delete under the store's
// word.
func TestFlagsBeforeTheCommand(t *testing.T) {
	d := sqliteDatabase(t)
	h := newHarness(t, d)
	id, value := created(t, h, "--org", "acme", "--name", "n")

	r := h.runAsGiven("", "--store", d.store, "list", "--org", "acme")
	requireCode(t, exitOK, r)
	assert.Contains(t, r.stdout, id)

	r = h.runAsGiven("", "--store="+d.store, "--org", "acme", "list", "--json")
	requireCode(t, exitOK, r)
	assert.Contains(t, r.stdout, id)

	r = h.runAsGiven("", "--timeout", "30s", "--store", d.store, "revoke", id, "--yes")
	requireCode(t, exitOK, r)
	assert.Equal(t, id+" revoked\n", r.stdout)
	requireCode(t, exitNo, h.run(value, "validate"))
}

// TestKeyGivenAsID checks that a key of the store's format, given where
// its ID is expected, is refused before the store is asked, and that the
// key keeps working.
func TestKeyGivenAsID(t *testing.T) {
	d := sqliteDatabase(t)
	h := newHarness(t, d)
	_, value := created(t, h, "--org", "acme", "--name", "n")
	for _, args := range [][]string{
		{"delete", value, "--yes"},
		{"revoke", value, "--yes"},
		{"expire", value},
		{"rotate", "--org", "acme", "--id", value},
		{"list", "--org", value},
	} {
		r := h.run("", args...)
		requireCode(t, exitUndecided, r)
		require.Len(t, r.stderrLines(), 1, r.stderr)
		assert.Contains(t, r.stderr, "looks like an API key")
	}
	requireCode(t, exitOK, h.run(value, "validate"))
}
