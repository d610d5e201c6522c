package apikey

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Quota is a key's allowance of credits: each request spends its cost, and
// at zero the key is refused (429, ErrQuotaExhausted) until a refill. A key
// has one when its validator sets Key.Quota; the count itself lives in a
// QuotaStore (WithQuotas), which is the truth: a Key is a cached snapshot.
//
// The zero value is a quota with nothing left and no refill. A Quota is a
// value, safe to copy and to share.
type Quota struct {
	// Remaining is the count of credits left when the key was read, for
	// display. A QuotaStore that holds no count of its own for the key yet
	// (Redis, for keys whose store is elsewhere) starts from it.
	Remaining int64 `json:"remaining"`
	// Refill, if set, tops the count up every Refill.Interval, or monthly
	// on Refill.Day.
	Refill *Refill `json:"refill,omitempty"`
}

// Refill says how a Quota is refilled: every Interval, or monthly on
// Day, the count of credits left is topped up to Amount. Unused credits do
// not pile up past Amount; a count above Amount (a one-off grant) is left
// as it is. A refill has either an Interval or a Day, never both.
//
// The zero value is no valid refill: it has no Amount.
type Refill struct {
	// Amount is the count a refill tops up to. Required, positive.
	Amount int64
	// Interval is the time between two refills, counted from the quota's
	// last refill (or its creation): at least a second, at most 366 days.
	// Required unless Day is set; 0 with Day.
	Interval time.Duration
	// Day, when set, makes the refill a calendar one: monthly, on this day
	// of the month (1 to 31) at 00:00 UTC, however long the month, and
	// whenever the quota was set (the first refill is the next such
	// instant). A month shorter than Day refills on its last day: Day 31
	// refills on 30 April and on 28 or 29 February. MonthlyPeriod computes
	// the refills. Default: 0, a refill every Interval instead.
	Day int
}

// Monthly reports whether r refills monthly, on r.Day.
func (r Refill) Monthly() bool { return r.Day != 0 }

// QuotaName is the name of the quota in the RateLimit and
// RateLimit-Policy response fields, in metrics and in the audit line.
const QuotaName = "quota"

// Validate reports what is wrong with q, as an error matching
// ErrMisconfigured, or nil.
func (q *Quota) Validate() error {
	switch {
	case q.Remaining < 0:
		return configError("Quota", "the remaining count must not be negative, not %d", q.Remaining)
	case q.Refill == nil:
		return nil
	case q.Refill.Amount <= 0:
		return configError("Quota", "the refill amount must be positive, not %d", q.Refill.Amount)
	case q.Refill.Monthly() && q.Refill.Interval != 0:
		return configError("Quota", "a refill is monthly on a day or every interval, not both (day %d, interval %s)", q.Refill.Day, q.Refill.Interval)
	case q.Refill.Monthly() && (q.Refill.Day < 1 || q.Refill.Day > 31):
		return configError("Quota", "the day of a monthly refill must be from 1 to 31, not %d", q.Refill.Day)
	case q.Refill.Monthly():
		return nil
	case q.Refill.Interval < time.Second || q.Refill.Interval > maxLimitPeriod:
		return configError("Quota", "the refill interval must be from 1s to %s, not %s", maxLimitPeriod, q.Refill.Interval)
	}
	return nil
}

// UnmarshalJSON reads a Quota as it marshals, such as
// {"remaining": 100, "refill": {"amount": 100, "interval": "24h"}} or
// {"remaining": 100, "refill": {"amount": 100, "interval": "monthly", "day": 1}}, and
// validates it. A field it does not know is an error, as for a Limit: a
// misspelt "remaining" would otherwise read as a quota of 0.
func (q *Quota) UnmarshalJSON(b []byte) error {
	type fields Quota // the same fields, without this method
	var v fields
	if err := unmarshalKnown(b, &v); err != nil {
		return err
	}
	read := Quota(v)
	if err := read.Validate(); err != nil {
		return err
	}
	*q = read
	return nil
}

// refillJSON is how a Refill reads and writes as JSON: the interval as a
// duration string ("24h"), or "monthly" with the day.
type refillJSON struct {
	Amount   int64  `json:"amount"`
	Interval string `json:"interval"`
	Day      int    `json:"day,omitempty"`
}

// monthlyInterval is the "interval" of a monthly refill in JSON.
const monthlyInterval = "monthly"

// MarshalJSON writes r as {"amount":100,"interval":"24h0m0s"}, or for a
// monthly refill {"amount":100,"interval":"monthly","day":1}.
func (r Refill) MarshalJSON() ([]byte, error) {
	if r.Monthly() {
		return json.Marshal(refillJSON{r.Amount, monthlyInterval, r.Day})
	}
	return json.Marshal(refillJSON{r.Amount, r.Interval.String(), 0})
}

// UnmarshalJSON reads what MarshalJSON writes, such as
// {"amount": 100, "interval": "24h"} or
// {"amount": 100, "interval": "monthly", "day": 1}. A field it does not
// know is an error, as for a Limit, and so is a "day" without "monthly"
// or "monthly" without a day from 1 to 31: a day that went unread would
// make a monthly refill one every interval, or none.
func (r *Refill) UnmarshalJSON(b []byte) error {
	var j refillJSON
	if err := unmarshalKnown(b, &j); err != nil {
		return err
	}
	if j.Interval == monthlyInterval {
		if j.Day < 1 || j.Day > 31 {
			return configError("Refill", `a monthly refill needs its "day", from 1 to 31, not %d`, j.Day)
		}
		*r = Refill{Amount: j.Amount, Day: j.Day}
		return nil
	}
	d, err := time.ParseDuration(j.Interval)
	if err != nil {
		return fmt.Errorf(`apikey: the refill interval %q is neither a duration such as 1h or 24h nor "monthly"`, j.Interval)
	}
	if j.Day != 0 {
		return configError("Refill", `a refill's "day" goes with "interval": "monthly", not with %q`, j.Interval)
	}
	*r = Refill{Amount: j.Amount, Interval: d}
	return nil
}

// QuotaStore keeps the count of credits of keys that have a Quota. Give
// one with WithQuotas; the middleware calls it only for keys whose
// Key.Quota is set, after they were authenticated and passed their rate
// limits, so that a refused key never spends a credit.
//
// Implementations must be safe for concurrent use, across processes too:
// no spend may be lost or counted twice. The sqlstore package keeps the
// count in its keys table; redisfleet keeps one in Redis for keys whose
// store cannot (WorkOS keys).
type QuotaStore interface {
	// Spend takes cost credits from key's quota if it has that many left,
	// after any refill that fell due, and takes nothing otherwise. cost is
	// at least 1. key.Quota is set; the store may use it to start a count
	// it does not hold yet.
	//
	// An error means the count could not be read or written: the request
	// is refused with 503, never let through. A store that no longer knows
	// the key returns an error matching ErrInvalidKey (401).
	Spend(ctx context.Context, key *Key, cost int64) (QuotaDecision, error)
}

// QuotaDecision is a QuotaStore's answer to one Spend.
type QuotaDecision struct {
	// Allowed reports whether the credits were taken.
	Allowed bool
	// Remaining is the count left after the spend, or, when refused, the
	// count left (less than the cost).
	Remaining int64
	// Limit is the size of the allowance, for the q parameter of
	// RateLimit-Policy: the refill's Amount, or for a quota without refill
	// the count it was granted (Remaining when unknown).
	Limit int64
	// Interval is the refill interval; zero without refill. For a monthly
	// refill (Refill.Day) it is the length of the current period, from the
	// last refill due to the next (28 to 31 days): the w of
	// RateLimit-Policy, over which Limit credits are granted.
	Interval time.Duration
	// RefillAfter is the time until the next refill; zero without refill.
	// A refused request is told to retry no later than that.
	RefillAfter time.Duration
}

// QuotaStoreFunc adapts a function to the QuotaStore interface.
type QuotaStoreFunc func(ctx context.Context, key *Key, cost int64) (QuotaDecision, error)

// Spend calls f(ctx, key, cost).
func (f QuotaStoreFunc) Spend(ctx context.Context, key *Key, cost int64) (QuotaDecision, error) {
	return f(ctx, key, cost)
}

// cloneQuota returns a deep copy of q, so that a caller's later changes do
// not reach a key that was handed out.
func cloneQuota(q *Quota) *Quota {
	c := *q
	if q.Refill != nil {
		r := *q.Refill
		c.Refill = &r
	}
	return &c
}
