package redisfleet

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apikeyauth/apikey"
)

// periodScript runs the spend script's monthly_period on ARGV[1] µs and
// the day ARGV[2], for the test: Redis's clock cannot be set.
var periodScript = redis.NewScript(monthlyLua + `
local s, n = monthly_period(tonumber(ARGV[1]), tonumber(ARGV[2]))
return {string.format('%.0f', s), string.format('%.0f', n)}
`)

// The spend script's calendar is apikey.MonthlyPeriod's: at every
// boundary, a microsecond either side, and mid-period, for every day a
// refill can have, over years with leap Februaries, years that are not
// (2100) and the turn of each year.
func TestMonthlyLuaAgreesWithMonthlyPeriod(t *testing.T) {
	opt, _ := testRedis(t)
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	ctx := context.Background()
	var times []time.Time
	for _, from := range []time.Time{
		time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2027, 11, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2099, 12, 1, 0, 0, 0, 0, time.UTC),
	} {
		for m := range 28 {
			first := from.AddDate(0, m, 0)
			for d := range first.AddDate(0, 1, -1).Day() {
				day := first.AddDate(0, 0, d)
				times = append(times, day.Add(-time.Microsecond), day, day.Add(time.Microsecond), day.Add(13*time.Hour))
			}
		}
	}
	for _, day := range []int{1, 2, 15, 28, 29, 30, 31} {
		t.Run(strconv.Itoa(day), func(t *testing.T) {
			cmds, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
				for _, at := range times {
					periodScript.Eval(ctx, p, nil, at.UnixMicro(), day) // EVAL: a pipeline cannot fall back from EVALSHA
				}
				return nil
			})
			require.NoError(t, err)
			for i, cmd := range cmds {
				got, err := cmd.(*redis.Cmd).StringSlice()
				require.NoError(t, err)
				start, next := apikey.MonthlyPeriod(times[i], day)
				require.Equal(t, []string{strconv.FormatInt(start.UnixMicro(), 10), strconv.FormatInt(next.UnixMicro(), 10)}, got,
					"at %s", times[i])
			}
		})
	}
}

// A monthly quota in Redis refills to its amount once its last refill is
// before the start of the current period, once, and moves the last refill
// to that start; it says when the next refill comes and how long the
// period is.
func TestQuotasMonthlyRefill(t *testing.T) {
	opt, prefix := testRedis(t)
	f, _ := newTestLimiterFleet(t, opt, prefix)
	admin := redis.NewClient(opt)
	defer admin.Close()
	ctx := context.Background()
	key := &apikey.Key{ID: "key_monthly", Quota: &apikey.Quota{Remaining: 3, Refill: &apikey.Refill{Amount: 10, Day: 31}}}
	before := time.Now()
	d, err := f.Quotas().Spend(ctx, key, 3)
	require.NoError(t, err)
	require.True(t, d.Allowed)
	after := time.Now()
	// The period as MonthlyPeriod has it, at some instant of the call.
	periodOf := func(d apikey.QuotaDecision) (start, next time.Time) {
		t.Helper()
		s1, n1 := apikey.MonthlyPeriod(before, 31)
		s2, n2 := apikey.MonthlyPeriod(after, 31)
		switch d.Interval {
		case n1.Sub(s1):
			return s1, n1
		case n2.Sub(s2):
			return s2, n2
		}
		t.Fatalf("a period of %s: neither %s nor %s", d.Interval, n1.Sub(s1), n2.Sub(s2))
		return
	}
	start, next := periodOf(d)
	assert.Equal(t, int64(10), d.Limit)
	assert.InDelta(t, float64(time.Until(next)), float64(d.RefillAfter), float64(time.Second), "the next refill")
	d, err = f.Quotas().Spend(ctx, key, 1)
	require.NoError(t, err)
	require.False(t, d.Allowed)

	// A last refill at the period's start: nothing due.
	hkey := f.Quotas().key(key.ID)
	require.NoError(t, admin.HSet(ctx, hkey, "last", start.UnixMicro()).Err())
	d, err = f.Quotas().Spend(ctx, key, 1)
	require.NoError(t, err)
	assert.False(t, d.Allowed, "no refill within the period")

	// A microsecond before it, months before it: one refill, to 10.
	for _, last := range []time.Time{start.Add(-time.Microsecond), start.AddDate(0, -5, 0)} {
		require.NoError(t, admin.HSet(ctx, hkey, "remaining", 0, "last", last.UnixMicro()).Err())
		before, after = time.Now(), time.Now()
		d, err = f.Quotas().Spend(ctx, key, 1)
		require.NoError(t, err)
		after = time.Now()
		assert.True(t, d.Allowed)
		assert.Equal(t, int64(9), d.Remaining, "topped up to 10 once, not more")
		start, next = periodOf(d)
		assert.Equal(t, next.Sub(start), d.Interval)
		got, err := admin.HGet(ctx, hkey, "last").Int64()
		require.NoError(t, err)
		assert.Equal(t, start.UnixMicro(), got, "the last refill is the period's start")
	}

	// A grant above the amount is kept.
	require.NoError(t, admin.HSet(ctx, hkey, "remaining", 50, "last", start.Add(-time.Hour).UnixMicro()).Err())
	d, err = f.Quotas().Spend(ctx, key, 1)
	require.NoError(t, err)
	assert.Equal(t, int64(49), d.Remaining)
}
