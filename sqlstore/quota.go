package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/apikeyauth/apikey"
)

// storedQuota is a key's quota as its row holds it: microseconds for the
// interval and the last refill, and a NULL count for a key without quota.
type storedQuota struct {
	remaining  sql.NullInt64
	amount     int64 // the count a refill tops up to; 0 without refill
	interval   int64 // microseconds between refills; 0 without refill
	refilledAt int64 // the last refill, or when the quota was set
}

// at returns q as it stands at now (microseconds): topped up to its
// amount if a refill fell due, its last refill moved on by whole
// intervals, so that the time already run towards the next one is kept.
// The Spend statement computes the same, in SQL.
func (q storedQuota) at(now int64) storedQuota {
	if q.interval > 0 && now >= q.refilledAt+q.interval {
		q.refilledAt += (now - q.refilledAt) / q.interval * q.interval
		q.remaining.Int64 = max(q.remaining.Int64, q.amount)
	}
	return q
}

// quota returns q as an apikey.Quota, nil for a key without quota.
func (q storedQuota) quota() *apikey.Quota {
	if !q.remaining.Valid {
		return nil
	}
	aq := &apikey.Quota{Remaining: q.remaining.Int64}
	if q.interval > 0 {
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
		sq.amount, sq.interval = q.Refill.Amount, q.Refill.Interval.Microseconds()
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
// refill, whose intervals count from now. A nil quota removes it: the key
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
			quota_refill_interval = ?, quota_refilled_at = ?, updated_at = ? WHERE id = ?`),
			sq.remaining, sq.amount, sq.interval, sq.refilledAt, micros(now), id)
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
// twice. Spend does not record a change: caches keep the key, whose
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
		err = s.db.QueryRowContext(ctx, s.dialect.bind(`SELECT quota_remaining, quota_refill_amount, quota_refill_interval,
			quota_refilled_at, expires_at FROM apikey_keys WHERE id = ?`), key.ID).
			Scan(&q.remaining, &q.amount, &q.interval, &q.refilledAt, &expires)
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
	return s.db.QueryRowContext(ctx, s.dialect.spend, now, cost, id).Scan(&q.remaining, &q.amount, &q.interval, &q.refilledAt)
}

// decision describes q, as it stands after a spend at now.
func (s *Store) decision(key *apikey.Key, q storedQuota, now int64, allowed bool) apikey.QuotaDecision {
	d := apikey.QuotaDecision{Allowed: allowed, Remaining: q.remaining.Int64, Limit: q.amount}
	if q.interval > 0 {
		d.Interval = time.Duration(q.interval) * time.Microsecond
		d.RefillAfter = time.Duration(q.refilledAt+q.interval-now) * time.Microsecond
	} else {
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
// $3 the key's ID. Every value comes from the row being updated, never from
// a subquery: on PostgreSQL a writer that waited for another re-checks the
// row it updates, and only that row, so a refill computed elsewhere could
// be computed twice. GREATEST is MAX on SQLite, ${n} ?n.
const spendQuery = `UPDATE apikey_keys SET
	quota_remaining = CASE WHEN {due} THEN GREATEST(quota_remaining, quota_refill_amount) ELSE quota_remaining END - $2,
	quota_refilled_at = CASE WHEN {due}
		THEN quota_refilled_at + ($1 - quota_refilled_at) / quota_refill_interval * quota_refill_interval
		ELSE quota_refilled_at END
	WHERE id = $3 AND quota_remaining IS NOT NULL AND (expires_at = 0 OR expires_at > $1)
		AND CASE WHEN {due} THEN GREATEST(quota_remaining, quota_refill_amount) ELSE quota_remaining END >= $2
	RETURNING quota_remaining, quota_refill_amount, quota_refill_interval, quota_refilled_at`

// spendDue is whether a refill fell due, in spendQuery.
const spendDue = `(quota_refill_interval > 0 AND $1 >= quota_refilled_at + quota_refill_interval)`

// spendFor writes spendQuery in a dialect.
func spendFor(name string) string {
	q := strings.ReplaceAll(spendQuery, "{due}", spendDue)
	if name == "sqlite" {
		q = strings.NewReplacer("GREATEST(", "MAX(", "$", "?").Replace(q)
	}
	return q
}
