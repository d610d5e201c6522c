package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apikeyauth/apikey"
	"github.com/apikeyauth/apikey/workos/workostest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const day = 24 * time.Hour

// wireKey is one key of a hand-written list page, for the timestamps the
// fake server does not vary.
func wireKey(id string, created, lastUsed, expires time.Time) string {
	ts := func(t time.Time) string {
		if t.IsZero() {
			return "null"
		}
		return `"` + t.UTC().Format(time.RFC3339Nano) + `"`
	}
	return fmt.Sprintf(`{"object":"api_key","id":%q,"owner":{"type":"organization","id":"org_audit"},"name":"name of %s",
		"obfuscated_value":"sk_...%s","last_used_at":%s,"expires_at":%s,"permissions":[],"created_at":%s,"updated_at":%s}`,
		id, id, id[len(id)-4:], ts(lastUsed), ts(expires), ts(created), ts(created))
}

// auditPage is one list page holding the keys of the audit tests: one per
// reason, one with every reason, one clean, and one expired.
func auditPage() string {
	now := testNow
	keys := []string{
		wireKey("api_key_old1", now.Add(-120*day), now.Add(-day), now.Add(30*day)),      // too-old
		wireKey("api_key_nvr1", now.Add(-40*day), time.Time{}, now.Add(30*day)),         // never-used
		wireKey("api_key_new1", now.Add(-2*day), time.Time{}, now.Add(30*day)),          // new, not used yet: fine
		wireKey("api_key_idl1", now.Add(-60*day), now.Add(-45*day), now.Add(30*day)),    // unused
		wireKey("api_key_inf1", now.Add(-10*day), now.Add(-day), time.Time{}),           // no-expiry
		wireKey("api_key_all1", now.Add(-200*day), now.Add(-100*day), time.Time{}),      // too-old, unused, no-expiry
		wireKey("api_key_ok01", now.Add(-10*day), now.Add(-time.Hour), now.Add(80*day)), // fine
		wireKey("api_key_exp1", now.Add(-300*day), time.Time{}, now.Add(-day)),          // expired: not flagged
	}
	return `{"object":"list","data":[` + strings.Join(keys, ",") + `],"list_metadata":{"before":null,"after":null}}`
}

func TestAudit(t *testing.T) {
	t.Run("flags each key with its reasons and exits 1", func(t *testing.T) {
		h := newHarness(t)
		h.srv.Fail(workostest.Reply(200, auditPage()))
		r := h.run(in(""), "audit", "--org", "org_audit")
		requireCode(t, exitNo, r)
		lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
		require.Len(t, lines, 5, r.stdout)
		want := map[string][]string{
			"api_key_old1": {"too-old: created 120d ago, rotate every 90d"},
			"api_key_nvr1": {"never-used: never used in the 40d since its creation"},
			"api_key_idl1": {"unused: last used 45d ago, limit 30d"},
			"api_key_inf1": {"no-expiry: never expires"},
			"api_key_all1": {"too-old: created 200d ago, rotate every 90d", "unused: last used 100d ago, limit 30d", "no-expiry: never expires"},
		}
		for _, l := range lines {
			id := strings.Fields(l)[0]
			require.Contains(t, want, id, l)
			assert.Contains(t, l, "name of "+id)
			assert.True(t, strings.HasSuffix(l, strings.Join(want[id], "; ")), "%q", l)
			delete(want, id)
		}
		assert.Empty(t, want)
		assert.Equal(t, "apikeys audit: 5 of 8 keys in organization org_audit flagged\n", r.stderr)
	})

	t.Run("--json", func(t *testing.T) {
		h := newHarness(t)
		h.srv.Fail(workostest.Reply(200, auditPage()))
		r := h.run(in(""), "audit", "--org", "org_audit", "--json", "--max-age", "180d", "--unused", "0", "--allow-no-expiry")
		requireCode(t, exitNo, r)
		var got []struct {
			ID      string
			Name    string
			Reasons []finding
		}
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &got), r.stdout)
		require.Len(t, got, 1)
		assert.Equal(t, "api_key_all1", got[0].ID)
		assert.Equal(t, "name of api_key_all1", got[0].Name)
		assert.Equal(t, []finding{{"too-old", "created 200d ago, rotate every 180d"}}, got[0].Reasons)
	})

	t.Run("nothing flagged exits 0", func(t *testing.T) {
		h := newHarness(t)
		h.srv.Fail(workostest.Reply(200, auditPage()))
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
