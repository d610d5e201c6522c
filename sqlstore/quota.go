package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/apikeyauth/apikey"
)

// storedQuota is a key's quota as its row holds it: microseconds for the
// interval and the last refill, and a NULL count for a key without quota.
type storedQuota struct {
	remaining  sql.NullInt64
	amount     int64 // the count a refill tops up to; 0 without refill
	interval   int64 // microseconds between refills; 0 without refill, or monthly
	day        int64 // the day of a monthly refill (1 to 31); 0 if not monthly
	refilledAt int64 // the last refill, or when the quota was set
}

// quotaColumns are the columns of a storedQuota, in the order of its
// fields and of fields.
const quotaColumns = `quota_remaining, quota_refill_amount, quota_refill_interval, quota_refill_day, quota_refilled_at`

// fields returns q's fields for Scan.
func (q *storedQuota) fields() []any {
	return []any{&q.remaining, &q.amount, &q.interval, &q.day, &q.refilledAt}
}

// at returns q as it stands at now (microseconds): topped up to its
// amount if a refill fell due. An interval refill moves its last refill
// on by whole intervals, so that the time already run towards the next
// one is kept; a monthly one moves it to the start of now's period
// (apikey.MonthlyPeriod). The Spend statement computes the same, in SQL.
func (q storedQuota) at(now int64) storedQuota {
	switch {
	case q.day > 0:
		if start := monthlyStart(now, q.day); q.refilledAt < start {
			q.refilledAt = start
			q.remaining.Int64 = max(q.remaining.Int64, q.amount)
		}
	case q.interval > 0 && now >= q.refilledAt+q.interval:
		q.refilledAt += (now - q.refilledAt) / q.interval * q.interval
		q.remaining.Int64 = max(q.remaining.Int64, q.amount)
	}
	return q
}

// monthlyStart returns the start of the monthly period on day that holds
// now, both in microseconds.
func monthlyStart(now, day int64) int64 {
	start, _ := apikey.MonthlyPeriod(fromMicros(now), int(day))
	return start.UnixMicro()
}

// dayMicros is a day in microseconds, in spendQuery.
const dayMicros = int64(24 * time.Hour / time.Microsecond)

// monthArgs returns what spendQuery needs to find, in SQL, the start of
// the monthly period of any day that holds now (microseconds): the start
// of now's month (UTC) and its count of days, and those of the month
// before. A period starts on its day in now's month (or the month's last
// day) if now has reached it, else on its day in the month before.
func monthArgs(now int64) (thisStart, thisDays, prevStart, prevDays int64) {
	y, m, _ := fromMicros(now).Date()
	this := time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
	prev := this.AddDate(0, -1, 0)
	return this.UnixMicro(), int64(this.AddDate(0, 1, -1).Day()), prev.UnixMicro(), int64(this.AddDate(0, 0, -1).Day())
}

// quota returns q as an apikey.Quota, nil for a key without quota.
func (q storedQuota) quota() *apikey.Quota {
	if !q.remaining.Valid {
		return nil
	}
	aq := &apikey.Quota{Remaining: q.remaining.Int64}
	switch {
	case q.day > 0:
		aq.Refill = &apikey.Refill{Amount: q.amount, Day: int(q.day)}
	case q.interval > 0:
		aq.Refill = &apikey.Refill{Amount: q.amount, Interval: time.Duration(q.interval) * time.Microsecond}
	}
	return aq
}

// storeQuota returns how q is stored from now on (nil: no quota).
func storeQuota(q *apikey.Quota, now time.Time) storedQuota {
	if q == nil {
		return storedQuota{}
	}
	sq := storedQuota{remaining: sql.NullInt64{Int64: q.Remaining, Valid: true}, refilledAt: micros(now)}
	if q.Refill != nil {
		sq.amount, sq.interval, sq.day = q.Refill.Amount, q.Refill.Interval.Microseconds(), int64(q.Refill.Day)
	}
	return sq
}

// maxLimits bounds the rate limits of one key: each is charged on every
// request.
const maxLimits = 10

func checkLimits(limits []apikey.Limit) error {
	if len(limits) > maxLimits {
		return invalidInput("a key has at most %d rate limits, not %d", maxLimits, len(limits))
	}
	names := map[string]bool{}
	for _, l := range limits {
		if err := l.Validate(); err != nil {
			return invalidInput("%s", strings.TrimPrefix(err.Error(), "apikey: "))
		}
		if names[l.NameOrDefault()] {
			return invalidInput("two rate limits are named %q: each needs a name of its own", l.NameOrDefault())
		}
		names[l.NameOrDefault()] = true
	}
	return nil
}

func checkQuota(q *apikey.Quota) error {
	if q == nil {
		return nil
	}
	if err := q.Validate(); err != nil {
		return invalidInput("%s", strings.TrimPrefix(err.Error(), "apikey: "))
	}
	if q.Refill != nil && q.Refill.Interval%time.Microsecond != 0 {
		return invalidInput("the refill interval must be a whole number of microseconds, not %s", q.Refill.Interval)
	}
	return nil
}

// encodeLimits returns the limits column: a JSON array, or "" for none.
func encodeLimits(limits []apikey.Limit) string {
	if len(limits) == 0 {
		return ""
	}
	b, _ := json.Marshal(limits) // valid limits always marshal
	return string(b)
}

func decodeLimits(s string) ([]apikey.Limit, error) {
	if s == "" {
		return nil, nil
	}
	var limits []apikey.Limit
	if err := json.Unmarshal([]byte(s), &limits); err != nil {
		return nil, err
	}
	if len(limits) == 0 {
		return nil, nil
	}
	return limits, nil
}

// SetLimits replaces the key's rate limits; none removes them. Every
// process's cache forgets the key (see Watch), so the new limits apply
// from its next request.
func (s *Store) SetLimits(ctx context.Context, id string, limits []apikey.Limit) error {
	if err := checkLimits(limits); err != nil {
		return err
	}
	return wrap("SetLimits", s.set1(ctx, id, "limits", encodeLimits(limits)))
}

// SetQuota sets the key's quota: Remaining credits from now on, and the
// refill, whose intervals count from now (a monthly refill's first is on
// its next day of the month). A nil quota removes it: the key
// spends no credits any more. Every process's cache forgets the key (see
// Watch).
func (s *Store) SetQuota(ctx context.Context, id string, q *apikey.Quota) error {
	if err := checkQuota(q); err != nil {
		return err
	}
	now := s.set.now()
	sq := storeQuota(q, now)
	err := s.change(ctx, id, func(ctx context.Context, tx *sql.Tx) (sql.Result, error) {
		return tx.ExecContext(ctx, s.dialect.bind(`UPDATE apikey_keys SET quota_remaining = ?, quota_refill_amount = ?,
			quota_refill_interval = ?, quota_refill_day = ?, quota_refilled_at = ?, updated_at = ? WHERE id = ?`),
			sq.remaining, sq.amount, sq.interval, sq.day, sq.refilledAt, micros(now), id)
	})
	return wrap("SetQuota", err)
}

// Spend takes cost credits from the quota of key (by key.ID) if it has
// that many left, after any refill due, and nothing otherwise: it makes
// the Store an apikey.QuotaStore, for apikey.WithQuotas.
//
// It is one conditional UPDATE of the key's row, which computes the refill
// from the row's own columns, so that concurrent spends from any number of
// processes neither lose nor count a credit twice, and never refill twice:
// the database serializes writers of a row, and each re-reads the row its
// predecessor wrote. Refills follow the Store's clock (WithClock); across
// processes, a clock ahead of the others refills that much earlier, never
// twice. A monthly refill (apikey.Refill.Day) falls due once the row's last
// refill is before the start of the current period on the row's own day,
// which the statement finds from the month the clock is in (passed to it),
// and moves the last refill to that start: one refill per period. Spend does not record a change: caches keep the key, whose
// Quota.Remaining is only what it was when read.
//
// A key that the Store no longer holds, or that has expired, is an error
// matching apikey.ErrInvalidKey; a key whose quota was removed since it
// was read spends nothing and is allowed. A database error is an
// *apikey.UnavailableError.
func (s *Store) Spend(ctx context.Context, key *apikey.Key, cost int64) (apikey.QuotaDecision, error) {
	if cost < 1 {
		return apikey.QuotaDecision{}, fmt.Errorf("%w: sqlstore: Spend: the cost must be at least 1, not %d", apikey.ErrMisconfigured, cost)
	}
	if key == nil || !storable(key.ID) {
		return apikey.QuotaDecision{}, apikey.ErrInvalidKey
	}
	// A refusal reads the row again to say what is left; a refill or a new
	// quota landing between the two statements can make it enough after
	// all, and then the spend is tried again.
	for range 3 {
		now := micros(s.set.now())
		var q storedQuota
		err := s.spend(ctx, now, cost, key.ID, &q)
		switch {
		case err == nil:
			return s.decision(key, q, now, true), nil
		case !errors.Is(err, sql.ErrNoRows):
			return apikey.QuotaDecision{}, unavailable(err)
		}
		var expires int64
		err = s.db.QueryRowContext(ctx, s.dialect.bind(`SELECT `+quotaColumns+`, expires_at FROM apikey_keys WHERE id = ?`), key.ID).
			Scan(append(q.fields(), &expires)...)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return apikey.QuotaDecision{}, fmt.Errorf("sqlstore: Spend: key %s: %w", key.ID, apikey.ErrInvalidKey)
		case err != nil:
			return apikey.QuotaDecision{}, unavailable(err)
		case expires != 0 && now >= expires:
			return apikey.QuotaDecision{}, fmt.Errorf("sqlstore: Spend: key %s has expired: %w", key.ID, apikey.ErrInvalidKey)
		case !q.remaining.Valid:
			return apikey.QuotaDecision{Allowed: true}, nil
		}
		if q = q.at(now); q.remaining.Int64 < cost {
			return s.decision(key, q, now, false), nil
		}
	}
	return apikey.QuotaDecision{}, unavailable(errors.New("the quota kept changing under the spend"))
}

// spend runs the Spend statement. SQLite writes one transaction at a time
// and hands its lock to waiting writers in no particular order: many
// writers of one process could leave one of them waiting out the busy
// timeout (an error, 503) behind the others. So a process sends it one
// spend at a time, and only the processes contend for the lock.
func (s *Store) spend(ctx context.Context, now, cost int64, id string, q *storedQuota) error {
	if !s.dialect.postgres() {
		s.spendMu.Lock()
		defer s.spendMu.Unlock()
	}
	thisStart, thisDays, prevStart, prevDays := monthArgs(now)
	return s.db.QueryRowContext(ctx, s.dialect.spend, now, cost, id, thisStart, thisDays, prevStart, prevDays).Scan(q.fields()...)
}

// decision describes q, as it stands after a spend at now.
func (s *Store) decision(key *apikey.Key, q storedQuota, now int64, allowed bool) apikey.QuotaDecision {
	d := apikey.QuotaDecision{Allowed: allowed, Remaining: q.remaining.Int64, Limit: q.amount}
	switch {
	case q.day > 0:
		// The period is now's on the Store's clock, whatever another
		// process's clock wrote in the row.
		start, next := apikey.MonthlyPeriod(fromMicros(now), int(q.day))
		d.Interval = next.Sub(start)
		d.RefillAfter = time.Duration(next.UnixMicro()-now) * time.Microsecond
	case q.interval > 0:
		d.Interval = time.Duration(q.interval) * time.Microsecond
		d.RefillAfter = time.Duration(q.refilledAt+q.interval-now) * time.Microsecond
	default:
		// Without refill the store keeps no record of the count granted:
		// the count when the key was read stands for it.
		d.Limit = d.Remaining
		if key.Quota != nil {
			d.Limit = max(d.Limit, key.Quota.Remaining)
		}
	}
	return d
}

// spendQuery is Spend's statement: $1 the time (microseconds), $2 the cost,
// $3 the key's ID, $4 to $7 monthArgs. Every value comes from the row being
// updated and the parameters, never from a subquery: on PostgreSQL a
// writer that waited for another re-checks the row it updates, and only
// that row, so a refill computed elsewhere could be computed twice. An
// interval refill moves quota_refilled_at on by whole intervals; a monthly
// one sets it to the start of the current period ({start}), so that the
// period refills once. GREATEST is MAX on SQLite, LEAST MIN, ${n} ?n.
const spendQuery = `UPDATE apikey_keys SET
	quota_remaining = CASE WHEN {due} THEN GREATEST(quota_remaining, quota_refill_amount) ELSE quota_remaining END - $2,
	quota_refilled_at = CASE
		WHEN {dueInterval} THEN quota_refilled_at + ($1 - quota_refilled_at) / quota_refill_interval * quota_refill_interval
		WHEN {dueMonthly} THEN {start}
		ELSE quota_refilled_at END
	WHERE id = $3 AND quota_remaining IS NOT NULL AND (expires_at = 0 OR expires_at > $1)
		AND CASE WHEN {due} THEN GREATEST(quota_remaining, quota_refill_amount) ELSE quota_remaining END >= $2
	RETURNING ` + quotaColumns

// The parts of spendQuery: whether a refill fell due, every interval or
// monthly, and the start of the row's monthly period at $1: its day (or
// the month's last) in $1's month if $1 has reached it, else in the month
// before, as apikey.MonthlyPeriod has it.
const (
	spendDue         = `({dueInterval} OR {dueMonthly})`
	spendDueInterval = `(quota_refill_interval > 0 AND $1 >= quota_refilled_at + quota_refill_interval)`
	spendDueMonthly  = `(quota_refill_day > 0 AND quota_refilled_at < {start})`
	spendStart       = `(CASE WHEN $1 >= $4 + (LEAST(quota_refill_day, $5) - 1) * {day}
		THEN $4 + (LEAST(quota_refill_day, $5) - 1) * {day}
		ELSE $6 + (LEAST(quota_refill_day, $7) - 1) * {day} END)`
)

// spendFor writes spendQuery in a dialect.
func spendFor(name string) string {
	q := strings.NewReplacer("{due}", spendDue).Replace(spendQuery)
	q = strings.NewReplacer("{dueInterval}", spendDueInterval, "{dueMonthly}", spendDueMonthly).Replace(q)
	q = strings.NewReplacer("{start}", spendStart).Replace(q)
	q = strings.ReplaceAll(q, "{day}", strconv.FormatInt(dayMicros, 10))
	if name == "sqlite" {
		q = strings.NewReplacer("GREATEST(", "MAX(", "LEAST(", "MIN(", "$", "?").Replace(q)
	}
	return q
}
