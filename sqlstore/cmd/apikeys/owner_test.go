package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A store knows an owner only by its keys: an owner ID that no key has (a
// misspelt one, or one whose keys are all deleted) is an error, exit
// status 2, as an organization WorkOS does not know is, so that a cron
// gate on a misspelt owner never passes with "0 of 0 keys flagged".
func TestUnknownOwner(t *testing.T) {
	for _, db := range databases {
		t.Run(db.name, func(t *testing.T) {
			h := newHarness(t, db.open(t))
			created(t, h, "--org", "acme", "--name", "ci")
			goneID, _ := created(t, h, "--org", "gone", "--name", "retired")
			requireCode(t, exitOK, h.run("", "delete", goneID, "--yes"))
			for _, owner := range []string{"acme_", "gone"} {
				for _, args := range [][]string{
					{"audit", "--org", owner},
					{"audit", "--org", owner, "--json"},
					{"list", "--org", owner},
					{"list", "--org", owner, "--json"},
					{"list", "--org", owner, "--jsonl"},
				} {
					t.Run(strings.Join(args, " "), func(t *testing.T) {
						r := h.run("", args...)
						requireCode(t, exitUndecided, r)
						assert.Empty(t, r.stdout)
						require.Len(t, r.stderrLines(), 1, r.stderr)
						assert.Contains(t, r.stderr, "apikeys "+args[0]+": ")
						assert.Contains(t, r.stderr, "no owner "+owner+" in the store")
						assert.NotContains(t, r.stderr, "flagged")
					})
				}
			}
			t.Run("a known owner is audited", func(t *testing.T) {
				r := h.run("", "audit", "--org", "acme", "--allow-no-expiry")
				requireCode(t, exitOK, r)
				assert.Equal(t, "apikeys audit: 0 of 1 keys of owner acme flagged\n", r.stderr)
			})
		})
	}
}
