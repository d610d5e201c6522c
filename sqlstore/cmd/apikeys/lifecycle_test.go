package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apikeyauth/apikey"
)

// The exit statuses, as the command documents them.
const (
	exitOK        = 0
	exitNo        = 1
	exitUndecided = 2
)

// created runs create and returns the new key's ID and value.
func created(t *testing.T, h *harness, args ...string) (id, value string) {
	t.Helper()
	r := h.run("", append([]string{"create"}, args...)...)
	requireCode(t, exitOK, r)
	value = strings.TrimSuffix(r.stdout, "\n")
	require.NotEmpty(t, value)
	_, rest, ok := strings.Cut(r.stderr, "apikeys create: created ")
	require.True(t, ok, r.stderr)
	id, _, _ = strings.Cut(rest, " ")
	return id, value
}

// listed returns the owner's keys as list --json prints them.
func listed(t *testing.T, h *harness, owner string) []apikey.Key {
	t.Helper()
	r := h.run("", "list", "--org", owner, "--json")
	requireCode(t, exitOK, r)
	var keys []apikey.Key
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &keys), r.stdout)
	return keys
}

func TestLifecycle(t *testing.T) {
	for _, db := range databases {
		t.Run(db.name, func(t *testing.T) {
			d := db.open(t)
			h := newHarness(t, d)

			// create: the value alone on stdout; a store made for it.
			// A minute apart: IDs sort by creation time.
			aID, aValue := created(t, h, "--org", "acme", "--name", "billing sync", "--permission", "invoices:read", "--permission", "invoices:write")
			h.clock.Add(time.Minute)
			bID, bValue := created(t, h, "--org", "acme", "--name", "ci", "--expires-in", "365d")
			h.clock.Add(time.Minute)
			created(t, h, "--org", "other", "--name", "not acme's")
			assert.NotEqual(t, aValue, bValue)

			// list: the owner's keys only, display values only.
			r := h.run("", "list", "--org", "acme")
			requireCode(t, exitOK, r)
			lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
			require.Len(t, lines, 3, r.stdout)
			assert.True(t, strings.HasPrefix(lines[0], "ID "), lines[0])
			assert.True(t, strings.HasPrefix(lines[1], aID+" "), lines[1])
			assert.True(t, strings.HasPrefix(lines[2], bID+" "), lines[2])
			assert.Contains(t, lines[1], "sk_..."+aValue[len(aValue)-4:])
			assert.Contains(t, lines[1], "invoices:read,invoices:write")
			keys := listed(t, h, "acme")
			require.Len(t, keys, 2)
			assert.Equal(t, apikey.Owner{Type: "organization", ID: "acme"}, keys[0].Owner)
			assert.True(t, t0.Add(time.Minute+365*day).Equal(keys[1].ExpiresAt), "%v", keys[1].ExpiresAt)
			r = h.run("", "list", "--org", "nobody")
			requireCode(t, exitUndecided, r)
			assert.Equal(t, "apikeys list: no owner nobody in the store: no key has this owner ID\n", r.stderr)

			// validate: 0 valid, 1 invalid; the use is recorded.
			h.clock.Add(10 * day)
			r = h.run(aValue+"\n", "validate")
			requireCode(t, exitOK, r)
			assert.Contains(t, r.stdout, "id           "+aID+"\n")
			assert.Contains(t, r.stdout, "permissions  invoices:read invoices:write\n")
			r = h.run("sk_notakeyatall\n", "validate")
			requireCode(t, exitNo, r)
			assert.Equal(t, "apikeys validate: not a valid key: unknown, deleted or expired (apikey: invalid key)\n", r.stderr)

			// audit: exit 1 with the reasons of each flagged key.
			h.clock.Add(90 * day)
			r = h.run("", "audit", "--org", "acme")
			requireCode(t, exitNo, r)
			lines = strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
			require.Len(t, lines, 2, r.stdout)
			assert.Regexp(t, "^"+aID+` +billing sync +too-old: created 100d ago, rotate every 90d; unused: last used 90d ago, limit 30d; no-expiry: never expires$`, lines[0])
			assert.Regexp(t, "^"+bID+` +ci +too-old: created 100d ago, rotate every 90d; never-used: never used in the 100d since its creation$`, lines[1])
			assert.Equal(t, "apikeys audit: 2 of 2 keys of owner acme flagged\n", r.stderr)
			r = h.run("", "audit", "--org", "acme", "--max-age", "0", "--unused", "0", "--allow-no-expiry")
			requireCode(t, exitOK, r)
			assert.Empty(t, r.stdout)

			// rotate by --org and --id: same name and permissions, the old
			// key works through the grace period.
			r = h.run("", "rotate", "--org", "acme", "--id", aID, "--grace", "2d")
			requireCode(t, exitOK, r)
			a2Value := strings.TrimSuffix(r.stdout, "\n")
			lines = r.stderrLines()
			require.Len(t, lines, 2, r.stderr)
			assert.Contains(t, lines[0], `("billing sync", permissions invoices:read invoices:write, expires never)`)
			assert.Equal(t, fmt.Sprintf("apikeys rotate: old key %s expires at %s", aID, h.clock.Now().Add(2*day).Format("2006-01-02T15:04:05Z")), lines[1])
			r = h.run(a2Value, "validate", "--json")
			requireCode(t, exitOK, r)
			var a2 apikey.Key
			require.NoError(t, json.Unmarshal([]byte(r.stdout), &a2))
			assert.Equal(t, "billing sync", a2.Name)
			assert.Equal(t, []string{"invoices:read", "invoices:write"}, a2.Permissions)
			assert.Equal(t, "acme", a2.Owner.ID)
			requireCode(t, exitOK, h.run(aValue, "validate"))
			h.clock.Add(2 * day)
			requireCode(t, exitNo, h.run(aValue, "validate"))

			// rotate from stdin whose expire step fails: the new value is
			// printed all the same, and stderr says what to run next.
			restore := d.failExpiries(t)
			r = h.run(bValue+"\n", "rotate", "--grace", "1d")
			requireCode(t, exitUndecided, r)
			b2Value := strings.TrimSuffix(r.stdout, "\n")
			require.NotEmpty(t, b2Value)
			lines = r.stderrLines()
			require.Len(t, lines, 2, r.stderr)
			assert.Contains(t, lines[0], "will not be shown again")
			assert.Contains(t, lines[1], "apikeys rotate: the new key was created and its value printed, but the old key "+bID+" was not retired (")
			assert.Contains(t, lines[1], "injected failure")
			assert.True(t, strings.HasSuffix(lines[1], "); it still works: run 'apikeys expire "+bID+" --in 1d --store \""+d.store+"\"'"), lines[1])
			requireCode(t, exitOK, h.run(b2Value, "validate"))
			requireCode(t, exitOK, h.run(bValue, "validate"))
			restore()
			r = h.run("", "expire", bID, "--in", "1d")
			requireCode(t, exitOK, r)
			assert.Equal(t, bID+" expires at "+h.clock.Now().Add(day).Format("2006-01-02T15:04:05Z")+"\n", r.stdout)

			// expire now; again is a no; so is an unknown key.
			r = h.run("", "expire", bID)
			requireCode(t, exitOK, r)
			assert.Equal(t, bID+" expires at "+h.clock.Now().Format("2006-01-02T15:04:05Z")+"\n", r.stdout)
			requireCode(t, exitNo, h.run(bValue, "validate"))
			r = h.run("", "expire", bID, "--in", "7d")
			requireCode(t, exitNo, r)
			assert.Contains(t, r.stderr, "apikeys expire: the key has already expired: "+bID)
			r = h.run("", "expire", "key_unknown")
			requireCode(t, exitNo, r)
			assert.Equal(t, "apikeys expire: no such key: key_unknown\n", r.stderr)

			// rotate someone else's key by --org and --id: a no.
			r = h.run("", "rotate", "--org", "other", "--id", aID)
			requireCode(t, exitNo, r)
			assert.Empty(t, r.stdout)

			// rotate --grace 0 deletes the old key at once.
			r = h.run(b2Value, "rotate", "--grace", "0")
			requireCode(t, exitOK, r)
			b3Value := strings.TrimSuffix(r.stdout, "\n")
			requireCode(t, exitNo, h.run(b2Value, "validate"))
			requireCode(t, exitOK, h.run(b3Value, "validate"))

			// delete: refused without --yes off a terminal; then for good.
			a2ID := a2.ID
			r = h.run("", "delete", a2ID)
			requireCode(t, exitUndecided, r)
			assert.Contains(t, r.stderr, "refusing to delete without --yes")
			requireCode(t, exitOK, h.run(a2Value, "validate"))
			r = h.run("", "delete", a2ID, "--yes")
			requireCode(t, exitOK, r)
			assert.Equal(t, a2ID+" deleted\n", r.stdout)
			requireCode(t, exitNo, h.run(a2Value, "validate"))
			r = h.run("", "delete", a2ID, "--yes")
			requireCode(t, exitNo, r)
			assert.Equal(t, "apikeys delete: no such key: "+a2ID+"\n", r.stderr)

			var ids []string
			for _, k := range listed(t, h, "acme") {
				ids = append(ids, k.ID)
			}
			assert.Len(t, ids, 3, "the rotated-out keys stay listed until deleted: %v", ids)
			assert.NotContains(t, ids, a2ID)
		})
	}
}
