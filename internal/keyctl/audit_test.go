package keyctl

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/apikeyauth/apikey"
	"github.com/apikeyauth/apikey/workos/workostest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const day = 24 * time.Hour

// addAuditKeys gives org_audit the keys of the audit tests, named for what
// the audit makes of them: one per reason, one with every reason, one
// clean, and one expired. It returns their IDs by name.
func addAuditKeys(h *harness) map[string]string {
	now := testNow
	ids := map[string]string{}
	for _, k := range []struct {
		name                         string
		created, lastUsed, expiresAt time.Time
	}{
		{"old", now.Add(-120 * day), now.Add(-day), now.Add(30 * day)},
		{"never", now.Add(-40 * day), time.Time{}, now.Add(30 * day)},
		{"new", now.Add(-2 * day), time.Time{}, now.Add(30 * day)}, // not used yet: fine
		{"idle", now.Add(-60 * day), now.Add(-45 * day), now.Add(30 * day)},
		{"forever", now.Add(-10 * day), now.Add(-day), time.Time{}},
		{"all", now.Add(-200 * day), now.Add(-100 * day), time.Time{}},
		{"ok", now.Add(-10 * day), now.Add(-time.Hour), now.Add(80 * day)},
		{"expired", now.Add(-300 * day), time.Time{}, now.Add(-day)}, // no longer works: not flagged
	} {
		id := h.srv.AddKey("sk_live_audit_"+k.name+"_0123456789", k.name, "org_audit").ID
		h.srv.UpdateKey(id, func(w *workostest.Key) {
			w.CreatedAt, w.UpdatedAt, w.LastUsedAt, w.ExpiresAt = k.created, k.created, k.lastUsed, k.expiresAt
		})
		ids[k.name] = id
	}
	return ids
}

func TestAudit(t *testing.T) {
	t.Run("flags each key with its reasons and exits 1", func(t *testing.T) {
		h := newHarness(t)
		ids := addAuditKeys(h)
		r := h.run(in(""), "audit", "--org", "org_audit")
		requireCode(t, exitNo, r)
		lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
		require.Len(t, lines, 5, r.stdout)
		want := map[string][]string{
			"old":     {"too-old: created 120d ago, rotate every 90d"},
			"never":   {"never-used: never used in the 40d since its creation"},
			"idle":    {"unused: last used 45d ago, limit 30d"},
			"forever": {"no-expiry: never expires"},
			"all":     {"too-old: created 200d ago, rotate every 90d", "unused: last used 100d ago, limit 30d", "no-expiry: never expires"},
		}
		for _, l := range lines {
			f := strings.Fields(l)
			id, name := f[0], f[1]
			require.Contains(t, want, name, l)
			assert.Equal(t, ids[name], id)
			assert.True(t, strings.HasSuffix(l, strings.Join(want[name], "; ")), "%q", l)
			delete(want, name)
		}
		assert.Empty(t, want)
		assert.Equal(t, "apikeys audit: 5 of 8 keys in organization org_audit flagged\n", r.stderr)
	})

	t.Run("--json", func(t *testing.T) {
		h := newHarness(t)
		ids := addAuditKeys(h)
		r := h.run(in(""), "audit", "--org", "org_audit", "--json", "--max-age", "180d", "--unused", "0", "--allow-no-expiry")
		requireCode(t, exitNo, r)
		var got []struct {
			ID      string
			Name    string
			Reasons []finding
		}
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &got), r.stdout)
		require.Len(t, got, 1)
		assert.Equal(t, ids["all"], got[0].ID)
		assert.Equal(t, "all", got[0].Name)
		assert.Equal(t, []finding{{"too-old", "created 200d ago, rotate every 180d"}}, got[0].Reasons)
	})

	t.Run("nothing flagged exits 0", func(t *testing.T) {
		h := newHarness(t)
		addAuditKeys(h)
		r := h.run(in(""), "audit", "--org", "org_audit", "--max-age", "0", "--unused", "0", "--allow-no-expiry", "--json")
		requireCode(t, exitOK, r)
		assert.Equal(t, "[]\n", r.stdout)
		assert.Equal(t, "apikeys audit: 0 of 8 keys in organization org_audit flagged\n", r.stderr)
	})

	t.Run("keys from the fake server, across pages", func(t *testing.T) {
		h := newHarness(t)
		ids := addKeys(h, "org_many", 120) // created 2026-01-15, never used, no expiry
		for _, id := range ids[:60] {
			h.srv.SetExpiresAt(id, testNow.Add(90*day))
		}
		h.now = testNow.Add(60 * day) // 105 days after their creation
		r := h.run(in(""), "audit", "--org", "org_many", "--unused", "90d")
		requireCode(t, exitNo, r)
		lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
		require.Len(t, lines, 120)
		assert.Regexp(t, `^api_key_0001 +key 0 +too-old: created 105d ago, rotate every 90d; never-used: never used in the 105d since its creation$`, lines[0])
		assert.Regexp(t, `^api_key_0060 .*creation$`, lines[59])
		assert.Regexp(t, `; no-expiry: never expires$`, lines[119])
		assert.Equal(t, "apikeys audit: 120 of 120 keys in organization org_many flagged\n", r.stderr)
	})

	t.Run("an outage exits 2, not 0 or 1", func(t *testing.T) {
		h := newHarness(t)
		addKeys(h, "org_many", 3)
		h.srv.FailAll(workostest.Reply(502, ""))
		r := h.run(in(""), "audit", "--org", "org_many")
		requireCode(t, exitUndecided, r)
		assert.Empty(t, r.stdout)
		assert.Contains(t, r.stderr, "HTTP 502")
	})

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"audit"}, "--org is required"},
		{[]string{"audit", "--org", "o", "--max-age", "-3d"}, "negative"},
		{[]string{"audit", "--org", "o", "--unused", "3 days"}, "invalid duration"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			h := newHarness(t)
			r := h.run(in(""), tc.args...)
			requireCode(t, exitUndecided, r)
			assert.Contains(t, r.stderr, tc.want)
		})
	}
}

func TestAuditPolicy(t *testing.T) {
	now := testNow
	p := auditPolicy{maxAge: 90 * day, unused: 30 * day}
	for _, tc := range []struct {
		name string
		key  apikey.Key
		want []string
	}{
		{"fresh and used", apikey.Key{CreatedAt: now.Add(-day), LastUsedAt: now, ExpiresAt: now.Add(day)}, nil},
		{"exactly at the limits", apikey.Key{CreatedAt: now.Add(-90 * day), LastUsedAt: now.Add(-30 * day), ExpiresAt: now.Add(day)}, nil},
		{"just past them", apikey.Key{CreatedAt: now.Add(-90*day - time.Second), LastUsedAt: now.Add(-30*day - time.Second), ExpiresAt: now.Add(day)}, []string{"too-old", "unused"}},
		{"never used, young", apikey.Key{CreatedAt: now.Add(-29 * day), ExpiresAt: now.Add(day)}, nil},
		{"never used, old", apikey.Key{CreatedAt: now.Add(-31 * day), ExpiresAt: now.Add(day)}, []string{"never-used"}},
		{"no creation time", apikey.Key{LastUsedAt: now, ExpiresAt: now.Add(day)}, []string{"no-created"}},
		{"no expiry", apikey.Key{CreatedAt: now, LastUsedAt: now}, []string{"no-expiry"}},
		{"expired", apikey.Key{CreatedAt: now.Add(-900 * day), ExpiresAt: now}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var codes []string
			for _, f := range p.check(&tc.key, now) {
				codes = append(codes, f.Code)
				assert.NotEmpty(t, f.Detail)
			}
			assert.Equal(t, tc.want, codes)
		})
	}
}

func TestParseDays(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		err  string
	}{
		{"90d", 90 * day, ""},
		{"2w", 14 * day, ""},
		{"1d12h", 36 * time.Hour, ""},
		{"1w1d", 8 * day, ""},
		{"36h", 36 * time.Hour, ""},
		{"90m", 90 * time.Minute, ""},
		{"0", 0, ""},
		{"", 0, "empty"},
		{"-1d", 0, "negative"},
		{"d", 0, "invalid"},
		{"1.5d", 0, "invalid"},
		{"12h1d", 0, "invalid"},
		{"99999999999d", 0, "invalid"},
		{"106000d", 0, "too long"},
		{"90days", 0, "invalid"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseDays(tc.in)
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
	assert.Equal(t, "90d", formatDays(90*day))
	assert.Equal(t, "36h0m0s", formatDays(36*time.Hour))
}
