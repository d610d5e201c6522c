package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apikeyauth/apikey"
)

// create and set give keys rate limits and a quota; list, validate and
// set show them; rotate moves the quota to the new key.
func TestLimitsAndQuota(t *testing.T) {
	for _, db := range databases {
		t.Run(db.name, func(t *testing.T) {
			h := newHarness(t, db.open(t))
			id, value := created(t, h, "--org", "acme", "--name", "metered",
				"--limit", "default=100/1m,burst=20", "--limit", "daily=10000/24h,scope=owner",
				"--quota", "1000", "--refill", "1000/24h")
			limits := []apikey.Limit{
				{Name: "default", Rate: 100, Period: time.Minute, Burst: 20},
				{Name: "daily", Rate: 10000, Period: 24 * time.Hour, Scope: apikey.ScopeOwner},
			}
			quota := &apikey.Quota{Remaining: 1000, Refill: &apikey.Refill{Amount: 1000, Interval: 24 * time.Hour}}
			keys := listed(t, h, "acme")
			require.Len(t, keys, 1)
			assert.Equal(t, limits, keys[0].Limits)
			assert.Equal(t, quota, keys[0].Quota)

			r := h.run("", "list", "--org", "acme")
			requireCode(t, exitOK, r)
			assert.Contains(t, r.stdout, "LIMITS")
			assert.Contains(t, r.stdout, "default=100/1m0s,burst=20; daily=10000/24h0m0s,scope=owner")
			assert.Contains(t, r.stdout, "1000 left, topped up to 1000 every 1d")

			r = h.run(value+"\n", "validate")
			requireCode(t, exitOK, r)
			assert.Regexp(t, `(?m)^limits +default=100/1m0s,burst=20; daily=10000/24h0m0s,scope=owner$`, r.stdout)
			assert.Regexp(t, `(?m)^quota +1000 left, topped up to 1000 every 1d$`, r.stdout)

			r = h.run("", "set", id, "--quota", "5")
			requireCode(t, exitOK, r)
			assert.Regexp(t, `(?m)^quota +5 left$`, r.stdout)
			r = h.run("", "set", id, "--limit", "search=10/1s")
			requireCode(t, exitOK, r)
			assert.Regexp(t, `(?m)^limits +search=10/1s$`, r.stdout)
			keys = listed(t, h, "acme")
			assert.Equal(t, []apikey.Limit{{Name: "search", Rate: 10, Period: time.Second}}, keys[0].Limits)
			assert.Equal(t, &apikey.Quota{Remaining: 5}, keys[0].Quota)

			// rotate: the limits are kept, the quota moves.
			r = h.run("", "rotate", "--org", "acme", "--id", id)
			requireCode(t, exitOK, r)
			keys = listed(t, h, "acme")
			require.Len(t, keys, 2)
			old, successor := keys[0], keys[1]
			if old.ID != id {
				old, successor = successor, old
			}
			assert.Equal(t, &apikey.Quota{Remaining: 0}, old.Quota, "the old key keeps no credit")
			assert.Equal(t, &apikey.Quota{Remaining: 5}, successor.Quota)
			assert.Equal(t, old.Limits, successor.Limits)

			r = h.run("", "set", successor.ID, "--no-limits", "--no-quota")
			requireCode(t, exitOK, r)
			assert.NotContains(t, r.stdout, "quota")
			for _, k := range listed(t, h, "acme") {
				if k.ID == successor.ID {
					assert.Nil(t, k.Limits)
					assert.Nil(t, k.Quota)
				}
			}

			for _, tc := range []struct {
				name string
				args []string
				code int
			}{
				{"nothing to set", []string{"set", id}, exitUndecided},
				{"a refill without a quota", []string{"set", id, "--refill", "10/1d"}, exitUndecided},
				{"a limit that does not parse", []string{"set", id, "--limit", "lots"}, exitUndecided},
				{"a limit the store refuses", []string{"set", id, "--limit", "a=1/1s", "--limit", "a=2/1s"}, exitUndecided},
				{"a negative quota", []string{"set", id, "--quota", "-1"}, exitUndecided},
				{"a refill of 0", []string{"set", id, "--quota", "1", "--refill", "0/1d"}, exitUndecided},
				{"a refill each millisecond", []string{"set", id, "--quota", "1", "--refill", "1/1ms"}, exitUndecided},
				{"both --quota and --no-quota", []string{"set", id, "--quota", "1", "--no-quota"}, exitUndecided},
				{"an unknown key", []string{"set", "key_unknown", "--quota", "1"}, exitNo},
				{"create with a refill without a quota", []string{"create", "--org", "acme", "--name", "x", "--refill", "1/1d"}, exitUndecided},
			} {
				t.Run(tc.name, func(t *testing.T) {
					r := h.run("", tc.args...)
					requireCode(t, tc.code, r)
					assert.Empty(t, r.stdout)
				})
			}
			assert.Len(t, listed(t, h, "acme"), 2, "no refused create made a key")
		})
	}
}

// --refill AMOUNT/monthly@DAY gives a key a monthly refill, which list,
// validate and set show, and --json carries; a day out of range or left
// out is a usage error.
func TestMonthlyRefill(t *testing.T) {
	for _, db := range databases {
		t.Run(db.name, func(t *testing.T) {
			h := newHarness(t, db.open(t))
			id, value := created(t, h, "--org", "acme", "--name", "metered", "--quota", "1000", "--refill", "1000/monthly@31")
			keys := listed(t, h, "acme")
			require.Len(t, keys, 1)
			assert.Equal(t, &apikey.Quota{Remaining: 1000, Refill: &apikey.Refill{Amount: 1000, Day: 31}}, keys[0].Quota)

			r := h.run("", "list", "--org", "acme")
			requireCode(t, exitOK, r)
			assert.Contains(t, r.stdout, "1000 left, topped up to 1000 monthly on day 31 (or the month's last) at 00:00 UTC")
			r = h.run(value+"\n", "validate")
			requireCode(t, exitOK, r)
			assert.Regexp(t, `(?m)^quota +1000 left, topped up to 1000 monthly on day 31 \(or the month's last\) at 00:00 UTC$`, r.stdout)

			r = h.run("", "set", id, "--quota", "7", "--refill", "50/monthly@1")
			requireCode(t, exitOK, r)
			assert.Regexp(t, `(?m)^quota +7 left, topped up to 50 monthly on day 1 at 00:00 UTC$`, r.stdout)
			keys = listed(t, h, "acme")
			assert.Equal(t, &apikey.Quota{Remaining: 7, Refill: &apikey.Refill{Amount: 50, Day: 1}}, keys[0].Quota)

			for _, bad := range []string{"1/monthly", "1/monthly@", "1/monthly@0", "1/monthly@32", "1/monthly@1st", "0/monthly@1", "1/monthly@-1"} {
				t.Run(bad, func(t *testing.T) {
					r := h.run("", "set", id, "--quota", "1", "--refill", bad)
					requireCode(t, exitUndecided, r)
					assert.Empty(t, r.stdout)
				})
			}
			keys = listed(t, h, "acme")
			assert.Equal(t, &apikey.Quota{Remaining: 7, Refill: &apikey.Refill{Amount: 50, Day: 1}}, keys[0].Quota, "nothing refused was set")
		})
	}
}
