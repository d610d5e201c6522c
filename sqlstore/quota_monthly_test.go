package sqlstore

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apikeyauth/apikey"
)

// Set moves the clock to t.
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

func monthly(amount int64, day int) apikey.Refill { return apikey.Refill{Amount: amount, Day: day} }

func day(n int) time.Duration { return time.Duration(n) * 24 * time.Hour }

// A monthly quota goes in with Create, comes back from Get, List and
// Validate, changes with SetQuota, and moves with MoveQuota and Rotate,
// its day with it.
func TestMonthlyQuotaRoundTrip(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			s := openStore(t, b.dsn(t), WithClock(newClock().Now))
			want := quota(100, monthly(1000, 31))
			k, value, err := s.Create(ctx, NewKey{Name: "k", Owner: apikey.Owner{ID: "org_1"}, Quota: quota(100, monthly(1000, 31))})
			require.NoError(t, err)
			assert.Equal(t, want, k.Quota)
			got, err := s.Get(ctx, k.ID)
			require.NoError(t, err)
			assert.Equal(t, k, got, "Get reads what Create returned")
			v, err := s.Validate(ctx, value)
			require.NoError(t, err)
			assert.Equal(t, want, v.Quota)
			page, err := s.List(ctx, "org_1", "", 0)
			require.NoError(t, err)
			require.Len(t, page.Keys, 1)
			assert.Equal(t, want, page.Keys[0].Quota)

			require.NoError(t, s.SetQuota(ctx, k.ID, quota(7, monthly(50, 1))))
			got, err = s.Get(ctx, k.ID)
			require.NoError(t, err)
			assert.Equal(t, quota(7, monthly(50, 1)), got.Quota)
			require.NoError(t, s.SetQuota(ctx, k.ID, quota(7, apikey.Refill{Amount: 50, Interval: time.Hour})))
			got, err = s.Get(ctx, k.ID)
			require.NoError(t, err)
			assert.Equal(t, quota(7, apikey.Refill{Amount: 50, Interval: time.Hour}), got.Quota, "an interval again: no day left over")
			require.NoError(t, s.SetQuota(ctx, k.ID, quota(7, monthly(50, 1))))

			to, _, err := s.Create(ctx, NewKey{Name: "to", Owner: apikey.Owner{ID: "org_1"}})
			require.NoError(t, err)
			require.NoError(t, s.MoveQuota(ctx, k.ID, to.ID))
			got, err = s.Get(ctx, to.ID)
			require.NoError(t, err)
			assert.Equal(t, quota(7, monthly(50, 1)), got.Quota)
			got, err = s.Get(ctx, k.ID)
			require.NoError(t, err)
			assert.Equal(t, quota(0), got.Quota, "the key moved from keeps no refill")

			rotated, _, err := s.Rotate(ctx, to.ID, time.Hour)
			require.NoError(t, err)
			assert.Equal(t, quota(7, monthly(50, 1)), rotated.Quota)

			for name, bad := range map[string]*apikey.Quota{
				"day 32":                quota(1, monthly(1, 32)),
				"a day and an interval": quota(1, apikey.Refill{Amount: 1, Day: 1, Interval: time.Hour}),
				"no amount":             quota(1, monthly(0, 1)),
			} {
				_, _, err := s.Create(ctx, NewKey{Name: "n", Owner: apikey.Owner{ID: "org_1"}, Quota: bad})
				assert.ErrorIs(t, err, ErrInvalidInput, name)
				assert.ErrorIs(t, s.SetQuota(ctx, rotated.ID, bad), ErrInvalidInput, name)
			}
		})
	}
}

// A monthly refill tops the count up at 00:00 UTC on its day, or the last
// day of a shorter month: not a microsecond earlier, once however many
// months passed, keeping a grant above the amount; and it says when the
// next one comes and how long the month's period is.
func TestSpendMonthlyRefill(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			clk := &clock{now: time.Date(2027, 1, 30, 12, 0, 0, 0, time.UTC)}
			s := openStore(t, b.dsn(t), WithClock(clk.Now))
			k, _, err := s.Create(ctx, NewKey{Name: "k", Owner: apikey.Owner{ID: "org_1"}, Quota: quota(3, monthly(5, 31))})
			require.NoError(t, err)
			spend := func(cost int64) apikey.QuotaDecision {
				t.Helper()
				d, err := s.Spend(ctx, k, cost)
				require.NoError(t, err)
				return d
			}
			remaining := func() int64 {
				t.Helper()
				got, err := s.Get(ctx, k.ID)
				require.NoError(t, err)
				return got.Quota.Remaining
			}
			decision := func(allowed bool, remaining int64, period, after time.Duration) apikey.QuotaDecision {
				return apikey.QuotaDecision{Allowed: allowed, Remaining: remaining, Limit: 5, Interval: period, RefillAfter: after}
			}

			// Set on 30 January: the first refill is 31 January, not a
			// month after the quota was set.
			assert.Equal(t, decision(true, 0, day(31), 12*time.Hour), spend(3), "the period from 31 December")
			clk.Add(12*time.Hour - time.Microsecond)
			assert.Equal(t, decision(false, 0, day(31), time.Microsecond), spend(1), "a microsecond before the refill")
			assert.Equal(t, int64(0), remaining())
			clk.Add(time.Microsecond)
			assert.Equal(t, int64(5), remaining(), "Get at the refill's instant")
			assert.Equal(t, decision(true, 4, day(28), day(28)), spend(1), "31 January: refilled, next on 28 February")

			clk.Set(time.Date(2027, 2, 28, 0, 0, 0, 0, time.UTC).Add(-time.Second))
			assert.Equal(t, decision(false, 4, day(28), time.Second), spend(5))
			clk.Add(time.Second)
			assert.Equal(t, decision(true, 0, day(31), day(31)), spend(5), "28 February is day 31's in 2027")

			// Three months and a half on: refilled to 5 once, never 15.
			clk.Set(time.Date(2027, 6, 15, 0, 0, 0, 0, time.UTC))
			assert.Equal(t, int64(5), remaining())
			assert.Equal(t, decision(false, 5, day(30), day(15)), spend(6), "31 May to 30 June")
			assert.Equal(t, decision(true, 0, day(30), day(15)), spend(5))
			clk.Add(day(15) - time.Microsecond)
			assert.Equal(t, decision(false, 0, day(30), time.Microsecond), spend(1), "30 June is day 31's")

			// A one-off grant above the amount is kept through refills.
			require.NoError(t, s.SetQuota(ctx, k.ID, quota(20, monthly(5, 31))))
			clk.Set(time.Date(2027, 9, 1, 0, 0, 0, 0, time.UTC))
			assert.Equal(t, int64(20), remaining())
			assert.Equal(t, decision(true, 19, day(30), day(29)), spend(1), "31 August to 30 September")
		})
	}
}

// The refill that Spend computes in SQL falls where apikey.MonthlyPeriod
// says, for every day of the month a refill can have and at every
// boundary over two years: a leap February, the turn of the year, months
// shorter than the day. A microsecond before a boundary the credit spent
// is not back; at the boundary it is, once; later in the period it is
// not again. Get, which computes the refill in Go, agrees at each step.
func TestSpendMonthlyBoundaries(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			start := time.Date(2027, 11, 20, 5, 0, 0, 0, time.UTC)
			clk := &clock{now: start}
			s := openStore(t, b.dsn(t), WithClock(clk.Now))
			for _, d := range []int{1, 2, 15, 28, 29, 30, 31} {
				t.Run(strconv.Itoa(d), func(t *testing.T) {
					clk.Set(start)
					k, _, err := s.Create(ctx, NewKey{Name: "k", Owner: apikey.Owner{ID: "org_1"}, Quota: quota(0, monthly(1, d))})
					require.NoError(t, err)
					check := func(allowed bool, what string) {
						t.Helper()
						now := clk.Now()
						got, err := s.Get(ctx, k.ID)
						require.NoError(t, err)
						want := int64(0)
						if allowed {
							want = 1
						}
						require.Equal(t, want, got.Quota.Remaining, "Get %s, at %s", what, now)
						dec, err := s.Spend(ctx, k, 1)
						require.NoError(t, err)
						require.Equal(t, allowed, dec.Allowed, "Spend %s, at %s", what, now)
						ps, pn := apikey.MonthlyPeriod(now, d)
						require.Equal(t, pn.Sub(now), dec.RefillAfter, "the time to the next refill, at %s", now)
						require.Equal(t, pn.Sub(ps), dec.Interval, "the period's length, at %s", now)
					}
					check(false, "before the first refill")
					_, next := apikey.MonthlyPeriod(start, d)
					for range 26 {
						clk.Set(next.Add(-time.Microsecond))
						check(false, "a microsecond before the refill")
						clk.Set(next)
						check(true, "at the refill")
						check(false, "right after the refill, spent")
						_, next = apikey.MonthlyPeriod(next, d)
						clk.Set(next.Add(-day(1)))
						check(false, "a day before the next refill")
					}
				})
			}
		})
	}
}

// Many goroutines over two Stores, at the instant a monthly refill falls
// due for all of them, spend exactly the refill, none lost and none twice.
func TestSpendMonthlyConcurrently(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			dsn := b.dsn(t)
			clk := &clock{now: time.Date(2027, 12, 31, 23, 0, 0, 0, time.UTC)}
			s1 := openStore(t, dsn, WithClock(clk.Now))
			s2 := openStore(t, dsn, WithClock(clk.Now))
			k, _, err := s1.Create(ctx, NewKey{Name: "k", Owner: apikey.Owner{ID: "org_1"}, Quota: quota(100, monthly(60, 1))})
			require.NoError(t, err)
			race := func() int64 { return spendRace(t, k, s1, s2) }
			assert.Equal(t, int64(100), race(), "16×15 tries at 100 credits")
			clk.Set(time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC))
			assert.Equal(t, int64(60), race(), "one refill to 60 on 1 January, due for every spender at once")
			got, err := s1.Get(ctx, k.ID)
			require.NoError(t, err)
			assert.Equal(t, int64(0), got.Quota.Remaining)
		})
	}
}

// A database migrated up to 0003, holding a key refilled every interval,
// takes 0004: the key keeps its refill, and can be made monthly.
func TestMigrateMonthlyFrom0003(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			s, err := Open(ctx, b.dsn(t), WithKeyFormat(testFormat))
			require.NoError(t, err)
			t.Cleanup(func() { s.Close() })
			migrateUpTo(t, s, 3)
			assert.ErrorIs(t, s.CheckSchema(ctx), ErrSchemaOutdated)
			_, err = s.db.Exec(s.dialect.bind(`INSERT INTO apikey_keys (id, digest, name, owner_type, owner_id,
				owner_organization_id, display_value, permissions, metadata, created_at, updated_at, expires_at, last_used_at,
				quota_remaining, quota_refill_amount, quota_refill_interval, quota_refilled_at)
				VALUES ('key_1', ?, 'k', 'organization', 'org_1', '', '', '[]', '{}', 1, 1, 0, 0, 3, 5, 3600000000, ?)`),
				[]byte{1}, micros(time.Now()))
			require.NoError(t, err)
			require.NoError(t, s.Migrate(ctx))
			require.NoError(t, s.CheckSchema(ctx))
			k, err := s.Get(ctx, "key_1")
			require.NoError(t, err)
			assert.Equal(t, quota(3, apikey.Refill{Amount: 5, Interval: time.Hour}), k.Quota)
			require.NoError(t, s.SetQuota(ctx, k.ID, quota(3, monthly(5, 1))))
			k, err = s.Get(ctx, "key_1")
			require.NoError(t, err)
			assert.Equal(t, quota(3, monthly(5, 1)), k.Quota)
			_, err = s.db.Exec(s.dialect.bind("UPDATE apikey_keys SET quota_refill_day = 32 WHERE id = ?"), k.ID)
			assert.Error(t, err, "the column holds days of the month only")
		})
	}
}
