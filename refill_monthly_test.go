package apikey

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func utc(y int, m time.Month, d, h, min, s, ns int) time.Time {
	return time.Date(y, m, d, h, min, s, ns, time.UTC)
}

// MonthlyPeriod across month ends, short months, leap years, the turn of
// the year, and the instants either side of a refill.
func TestMonthlyPeriod(t *testing.T) {
	for _, tc := range []struct {
		name        string
		t           time.Time
		day         int
		start, next time.Time
	}{
		{"mid-month, day 1", utc(2027, 5, 17, 9, 30, 0, 0), 1, utc(2027, 5, 1, 0, 0, 0, 0), utc(2027, 6, 1, 0, 0, 0, 0)},
		{"exactly at the refill", utc(2027, 5, 1, 0, 0, 0, 0), 1, utc(2027, 5, 1, 0, 0, 0, 0), utc(2027, 6, 1, 0, 0, 0, 0)},
		{"a nanosecond before the refill", utc(2027, 4, 30, 23, 59, 59, 999_999_999), 1, utc(2027, 4, 1, 0, 0, 0, 0), utc(2027, 5, 1, 0, 0, 0, 0)},
		{"before the day in its month", utc(2027, 5, 10, 0, 0, 0, 0), 15, utc(2027, 4, 15, 0, 0, 0, 0), utc(2027, 5, 15, 0, 0, 0, 0)},
		{"after the day in its month", utc(2027, 5, 20, 0, 0, 0, 0), 15, utc(2027, 5, 15, 0, 0, 0, 0), utc(2027, 6, 15, 0, 0, 0, 0)},
		{"December to January", utc(2027, 12, 31, 23, 0, 0, 0), 1, utc(2027, 12, 1, 0, 0, 0, 0), utc(2028, 1, 1, 0, 0, 0, 0)},
		{"January back to December", utc(2028, 1, 3, 0, 0, 0, 0), 5, utc(2027, 12, 5, 0, 0, 0, 0), utc(2028, 1, 5, 0, 0, 0, 0)},
		{"New Year's instant", utc(2028, 1, 1, 0, 0, 0, 0), 1, utc(2028, 1, 1, 0, 0, 0, 0), utc(2028, 2, 1, 0, 0, 0, 0)},
		{"day 31 in a 31-day month", utc(2027, 1, 31, 12, 0, 0, 0), 31, utc(2027, 1, 31, 0, 0, 0, 0), utc(2027, 2, 28, 0, 0, 0, 0)},
		{"day 31 in April: its last day", utc(2027, 4, 30, 0, 0, 0, 0), 31, utc(2027, 4, 30, 0, 0, 0, 0), utc(2027, 5, 31, 0, 0, 0, 0)},
		{"day 31 on 29 April", utc(2027, 4, 29, 23, 0, 0, 0), 31, utc(2027, 3, 31, 0, 0, 0, 0), utc(2027, 4, 30, 0, 0, 0, 0)},
		{"day 31 in February, common year", utc(2027, 2, 28, 0, 0, 0, 0), 31, utc(2027, 2, 28, 0, 0, 0, 0), utc(2027, 3, 31, 0, 0, 0, 0)},
		{"day 31 in February, leap year", utc(2028, 2, 28, 12, 0, 0, 0), 31, utc(2028, 1, 31, 0, 0, 0, 0), utc(2028, 2, 29, 0, 0, 0, 0)},
		{"day 29 in a leap February", utc(2028, 2, 29, 0, 0, 0, 0), 29, utc(2028, 2, 29, 0, 0, 0, 0), utc(2028, 3, 29, 0, 0, 0, 0)},
		{"day 29 in a common February", utc(2027, 2, 28, 6, 0, 0, 0), 29, utc(2027, 2, 28, 0, 0, 0, 0), utc(2027, 3, 29, 0, 0, 0, 0)},
		{"day 29 before a common February's end", utc(2027, 2, 27, 0, 0, 0, 0), 29, utc(2027, 1, 29, 0, 0, 0, 0), utc(2027, 2, 28, 0, 0, 0, 0)},
		{"day 30 into March", utc(2027, 3, 1, 0, 0, 0, 0), 30, utc(2027, 2, 28, 0, 0, 0, 0), utc(2027, 3, 30, 0, 0, 0, 0)},
		{"2100 is no leap year", utc(2100, 2, 28, 1, 0, 0, 0), 29, utc(2100, 2, 28, 0, 0, 0, 0), utc(2100, 3, 29, 0, 0, 0, 0)},
		{"2000 is a leap year", utc(2000, 2, 28, 1, 0, 0, 0), 29, utc(2000, 1, 29, 0, 0, 0, 0), utc(2000, 2, 29, 0, 0, 0, 0)},
		{"day 0 counts as 1", utc(2027, 5, 17, 0, 0, 0, 0), 0, utc(2027, 5, 1, 0, 0, 0, 0), utc(2027, 6, 1, 0, 0, 0, 0)},
		{"day 40 counts as 31", utc(2027, 5, 17, 0, 0, 0, 0), 40, utc(2027, 4, 30, 0, 0, 0, 0), utc(2027, 5, 31, 0, 0, 0, 0)},
		{"a time elsewhere is read in UTC", time.Date(2027, 6, 1, 1, 0, 0, 0, time.FixedZone("UTC+2", 2*3600)), 1,
			utc(2027, 5, 1, 0, 0, 0, 0), utc(2027, 6, 1, 0, 0, 0, 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start, next := MonthlyPeriod(tc.t, tc.day)
			assert.Equal(t, tc.start, start, "start")
			assert.Equal(t, tc.next, next, "next")
			assert.False(t, tc.t.Before(start), "start is at or before t")
			assert.True(t, next.After(tc.t), "next is after t")
		})
	}
}

// Walking a refill day by day over four years, every period is a month
// long (28 to 31 days), each starts where the one before ended, and its
// start falls on the day asked or the month's last.
func TestMonthlyPeriodChain(t *testing.T) {
	for _, day := range []int{1, 15, 28, 29, 30, 31} {
		t.Run(strconv.Itoa(day), func(t *testing.T) {
			start, next := MonthlyPeriod(utc(2027, 1, 1, 0, 0, 0, 0), day)
			for at := utc(2027, 1, 1, 0, 0, 0, 0); at.Year() < 2031; at = at.Add(7 * time.Hour) {
				s, n := MonthlyPeriod(at, day)
				if s != start {
					require.Equal(t, next, s, "a new period starts where the last ended, at %s", at)
					start, next = s, n
				}
				require.Equal(t, next, n)
				length := n.Sub(s)
				require.True(t, length >= 28*24*time.Hour && length <= 31*24*time.Hour, "a period of %s", length)
				lastDay := s.AddDate(0, 1, -s.Day()).Day()
				require.Equal(t, min(day, lastDay), s.Day())
			}
		})
	}
}

// A monthly refill reads and writes as JSON with "interval": "monthly" and
// its day, and validates: the day in range, never beside an interval.
func TestMonthlyRefillJSON(t *testing.T) {
	var r Refill
	require.NoError(t, json.Unmarshal([]byte(`{"amount": 1000, "interval": "monthly", "day": 1}`), &r))
	assert.Equal(t, Refill{Amount: 1000, Day: 1}, r)
	assert.True(t, r.Monthly())
	b, err := json.Marshal(r)
	require.NoError(t, err)
	assert.JSONEq(t, `{"amount":1000,"interval":"monthly","day":1}`, string(b))
	b, err = json.Marshal(Refill{Amount: 5, Interval: time.Hour})
	require.NoError(t, err)
	assert.JSONEq(t, `{"amount":5,"interval":"1h0m0s"}`, string(b), "an interval refill writes no day")

	var q Quota
	require.NoError(t, json.Unmarshal([]byte(`{"remaining": 7, "refill": {"amount": 1000, "interval": "monthly", "day": 31}}`), &q))
	assert.Equal(t, Quota{Remaining: 7, Refill: &Refill{Amount: 1000, Day: 31}}, q)
	b, err = json.Marshal(q)
	require.NoError(t, err)
	var again Quota
	require.NoError(t, json.Unmarshal(b, &again))
	assert.Equal(t, q, again, "a monthly quota round-trips")

	for name, bad := range map[string]string{
		"monthly without a day": `{"remaining": 1, "refill": {"amount": 1, "interval": "monthly"}}`,
		"day 0":                 `{"remaining": 1, "refill": {"amount": 1, "interval": "monthly", "day": 0}}`,
		"day 32":                `{"remaining": 1, "refill": {"amount": 1, "interval": "monthly", "day": 32}}`,
		"a negative day":        `{"remaining": 1, "refill": {"amount": 1, "interval": "monthly", "day": -1}}`,
		"a day with a duration": `{"remaining": 1, "refill": {"amount": 1, "interval": "720h", "day": 1}}`,
		"no amount":             `{"remaining": 1, "refill": {"interval": "monthly", "day": 1}}`,
	} {
		assert.ErrorIs(t, json.Unmarshal([]byte(bad), &q), ErrMisconfigured, name)
	}
	for name, bad := range map[string]string{
		"a misspelt day":     `{"remaining": 1, "refill": {"amount": 1, "interval": "monthly", "dya": 1}}`,
		"a day as a string":  `{"remaining": 1, "refill": {"amount": 1, "interval": "monthly", "day": "1"}}`,
		"Monthly, uppercase": `{"remaining": 1, "refill": {"amount": 1, "interval": "Monthly", "day": 1}}`,
		"weekly":             `{"remaining": 1, "refill": {"amount": 1, "interval": "weekly"}}`,
	} {
		assert.Error(t, json.Unmarshal([]byte(bad), &q), name)
	}
}

func TestMonthlyRefillValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    Refill
		ok   bool
	}{
		{"day 1", Refill{Amount: 1, Day: 1}, true},
		{"day 31", Refill{Amount: 1, Day: 31}, true},
		{"day 32", Refill{Amount: 1, Day: 32}, false},
		{"day -1", Refill{Amount: 1, Day: -1}, false},
		{"a day and an interval", Refill{Amount: 1, Day: 1, Interval: time.Hour}, false},
		{"no amount", Refill{Day: 1}, false},
		{"an interval alone, as before", Refill{Amount: 1, Interval: time.Hour}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := Quota{Remaining: 1, Refill: &tc.r}
			if tc.ok {
				assert.NoError(t, q.Validate())
			} else {
				assert.ErrorIs(t, q.Validate(), ErrMisconfigured)
			}
		})
	}
}

// A monthly quota's decision, as a store computes it from MonthlyPeriod,
// makes RateLimit-Policy's w the current month's period and the refused
// request's Retry-After the time to the next refill, never past it.
func TestMonthlyQuotaFields(t *testing.T) {
	now := utc(2027, 2, 27, 12, 0, 0, 0)
	start, next := MonthlyPeriod(now, 1)
	quotas := QuotaStoreFunc(func(context.Context, *Key, int64) (QuotaDecision, error) {
		return QuotaDecision{Limit: 1000, Interval: next.Sub(start), RefillAfter: next.Sub(now)}, nil
	})
	m, err := New(withQuota(&Quota{Remaining: 0, Refill: &Refill{Amount: 1000, Day: 1}}), WithQuotas(quotas))
	require.NoError(t, err)
	w := serve(m.Handler(okHandler), writerValue)
	require.Equal(t, 429, w.Code)
	assert.Equal(t, `"quota";q=1000;w=2419200`, w.Header().Get("RateLimit-Policy"), "February 2027: 28 days")
	assert.Equal(t, `"quota";r=0;t=129600`, w.Header().Get("RateLimit"), "36 hours to 1 March")
	assert.Equal(t, "129600", w.Header().Get("Retry-After"))
}
