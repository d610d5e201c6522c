package keyctl

import (
	"strings"
	"testing"

	"github.com/apikeyauth/apikey/workos/workostest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWrongBaseURL checks that a 404 from a path that is no WorkOS
// endpoint is never read as an unknown key or organization: under a base
// URL with /v1 appended, every command exits 2, says to check the base
// URL, and reports nothing done, flagged or gone.
func TestWrongBaseURL(t *testing.T) {
	for _, args := range [][]string{
		{"audit", "--org", "org_1"},
		{"list", "--org", "org_1"},
		{"list", "--org", "org_1", "--jsonl"},
		{"delete", "api_key_0001", "--yes"},
		{"expire", "api_key_0001"},
		{"expire", "api_key_0001", "--in", "7d"},
		{"rotate", "--org", "org_1", "--id", "api_key_0001"},
		{"create", "--org", "org_1", "--name", "n"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			h := newHarness(t)
			h.srv.AddKey(aliceValue, "Alice", "org_1")
			h.env["WORKOS_BASE_URL"] = h.srv.URL + "/v1"
			r := h.run(in(""), args...)
			requireCode(t, exitUndecided, r)
			assert.Empty(t, r.stdout)
			require.Len(t, r.stderrLines(), 1, r.stderr)
			assert.Contains(t, r.stderr, "HTTP 404")
			assert.Contains(t, r.stderr, "check --base-url or WORKOS_BASE_URL")
			for _, claim := range []string{"flagged", "no keys", "deleted", "expired", "unknown", "already"} {
				assert.NotContains(t, r.stderr, claim)
			}
			k, _ := h.srv.Key("api_key_0001")
			assert.True(t, k.ExpiresAt.IsZero())
			assert.False(t, k.Deleted)
		})
	}

	t.Run("audit --base-url …/v1 fails the cron gate", func(t *testing.T) {
		h := newHarness(t)
		h.srv.AddKey(aliceValue, "Alice", "org_1")
		r := h.run(in(""), "audit", "--org", "org_1", "--base-url", h.srv.URL+"/v1")
		requireCode(t, exitUndecided, r)
		assert.NotContains(t, r.stderr, "0 of 0 keys")
	})

	t.Run("a rotation does not take a route's 404 for a retired key", func(t *testing.T) {
		h := newHarness(t)
		h.srv.AddKey(aliceValue, "Alice", "org_1")
		// The validation and the create go through; the delete meets a
		// proxy's 404.
		h.srv.Fail(nil, nil, workostest.Reply(404, `{"message":"Not Found"}`))
		r := h.run(in(aliceValue+"\n"), "rotate", "--grace", "0")
		requireCode(t, exitUndecided, r)
		k := newKey(t, h)
		assert.Equal(t, k.Value+"\n", r.stdout)
		assert.NotContains(t, r.stderr, "already gone")
		assert.Contains(t, r.stderr, "the old key api_key_0001 was not retired")
		assert.Contains(t, r.stderr, "run 'apikeys delete api_key_0001'")
	})
}

// TestUnknownOrganization checks that an organization WorkOS does not know
// fails the audit with status 2, so that a cron gate on a misspelt
// organization does not pass with "0 of 0 keys flagged".
func TestUnknownOrganization(t *testing.T) {
	for _, args := range [][]string{
		{"audit", "--org", "org_nobody"},
		{"audit", "--org", "org_nobody", "--json"},
		{"rotate", "--org", "org_nobody", "--id", "api_key_0001"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			h := newHarness(t)
			h.srv.AddKey(aliceValue, "Alice", "org_1")
			r := h.run(in(""), args...)
			requireCode(t, exitUndecided, r)
			assert.Empty(t, r.stdout)
			assert.Contains(t, r.stderr, "no organization org_nobody in WorkOS")
			assert.NotContains(t, r.stderr, "flagged")
		})
	}
}
