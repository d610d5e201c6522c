package redisfleet

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/apikeyauth/apikey"
)

// Quotas is an apikey.QuotaStore that keeps keys' credits in the Fleet's
// Redis, for keys whose own store cannot (WorkOS keys): every replica
// spends from the same count, in one script per request, so no spend is
// lost or counted twice. Build it with Fleet.Quotas and give it to
// apikey.New with apikey.WithQuotas. It is safe for concurrent use.
//
// A key's count starts, the first time the key spends, at its
// Key.Quota.Remaining (so the Key.Quota the validator, or apikey.Enrich
// around it, gives the key is its grant), and refills as Key.Quota.Refill says, on Redis's
// clock: every Interval from the last refill, or monthly on its Day at
// 00:00 UTC, as apikey.MonthlyPeriod has it (the script computes the
// calendar itself, so that replicas whose clocks differ agree). The count is kept for good: run Redis with persistence (AOF or
// RDB), since a Redis that loses it starts the key over from its grant.
//
// Credits are not guessed: when Redis does not answer within the Fleet's
// timeout, Spend fails and the request is refused with 503 (Retry-After),
// never let through.
type Quotas struct{ f *Fleet }

// Quotas returns the Fleet's QuotaStore.
func (f *Fleet) Quotas() *Quotas { return &Quotas{f: f} }

// Spend implements apikey.QuotaStore.
func (q *Quotas) Spend(ctx context.Context, key *apikey.Key, cost int64) (apikey.QuotaDecision, error) {
	if key.Quota == nil {
		return apikey.QuotaDecision{}, fmt.Errorf("redisfleet: key %q has no quota: %w", key.ID, apikey.ErrMisconfigured)
	}
	var amount, interval, day int64
	if r := key.Quota.Refill; r != nil {
		amount, interval, day = r.Amount, r.Interval.Microseconds(), int64(r.Day)
	}
	cctx, cancel := q.f.call(ctx)
	defer cancel()
	res, err := spendScript.Run(cctx, q.f.client, []string{q.key(key.ID)}, cost, key.Quota.Remaining, amount, interval, day).Int64Slice()
	if err != nil {
		return apikey.QuotaDecision{}, &apikey.UnavailableError{RetryAfter: time.Second, Err: fmt.Errorf("redisfleet: spending credits: %w", err)}
	}
	if len(res) != 4 {
		return apikey.QuotaDecision{}, &apikey.UnavailableError{Err: errors.New("redisfleet: the spend script returned an unexpected answer")}
	}
	d := apikey.QuotaDecision{Allowed: res[0] == 1, Remaining: res[1], Limit: key.Quota.Remaining}
	if amount > 0 {
		d.Limit, d.Interval, d.RefillAfter = amount, time.Duration(res[3])*time.Microsecond, time.Duration(res[2])*time.Microsecond
	}
	return d, nil
}

// Remaining returns the credits left to the key with this ID, and false
// when it has not spent any yet (its count has not started).
func (q *Quotas) Remaining(ctx context.Context, keyID string) (int64, bool, error) {
	cctx, cancel := q.f.call(ctx)
	defer cancel()
	n, err := q.f.client.HGet(cctx, q.key(keyID), "remaining").Int64()
	switch {
	case errors.Is(err, redis.Nil):
		return 0, false, nil
	case err != nil:
		return 0, false, err
	}
	return n, true, nil
}

// Set sets the credits left to the key with this ID, for an operator's
// top-up or reset; the refill schedule goes on as it was.
func (q *Quotas) Set(ctx context.Context, keyID string, remaining int64) error {
	if remaining < 0 {
		return fmt.Errorf("redisfleet: the remaining count must not be negative, not %d: %w", remaining, apikey.ErrMisconfigured)
	}
	cctx, cancel := q.f.call(ctx)
	defer cancel()
	return setQuotaScript.Run(cctx, q.f.client, []string{q.key(keyID)}, remaining).Err()
}

func (q *Quotas) key(keyID string) string { return q.f.p + "quota:" + keyID }

// spendScript spends ARGV[1] credits from the hash KEYS[1] {remaining,
// last}, starting it at ARGV[2] credits if it does not exist. With a
// refill of ARGV[3] credits, every ARGV[4] µs or monthly on the day
// ARGV[5], the count is first topped up to ARGV[3] if a refill fell due
// since last: last moves on by whole intervals, or to the start of the
// current monthly period. It returns allowed (1 or 0), the credits left,
// the µs until the next refill and the µs of the current period (0 and 0
// without refill).
var spendScript = redis.NewScript(monthlyLua + `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local cost, grant = tonumber(ARGV[1]), tonumber(ARGV[2])
local amount, interval, day = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local v = redis.call('HMGET', KEYS[1], 'remaining', 'last')
local remaining, last = tonumber(v[1]), tonumber(v[2])
if remaining == nil then
  remaining, last = grant, now
  redis.call('HSET', KEYS[1], 'remaining', remaining, 'last', string.format('%.0f', last))
end
if last == nil then last = now end
local after, period = 0, 0
if day > 0 then
  local start, nxt = monthly_period(now, day)
  if last < start then
    if remaining < amount then remaining = amount end
    last = start
    redis.call('HSET', KEYS[1], 'remaining', remaining, 'last', string.format('%.0f', last))
  end
  after, period = nxt - now, nxt - start
elseif interval > 0 then
  local k = math.floor((now - last) / interval)
  if k >= 1 then
    if remaining < amount then remaining = amount end
    last = last + k * interval
    redis.call('HSET', KEYS[1], 'remaining', remaining, 'last', string.format('%.0f', last))
  end
  after, period = math.ceil(last + interval - now), interval
end
if remaining >= cost then
  remaining = remaining - cost
  redis.call('HSET', KEYS[1], 'remaining', remaining)
  return {1, remaining, after, period}
end
return {0, remaining, after, period}
`)

// monthlyLua defines monthly_period(now, day), apikey.MonthlyPeriod in
// Lua: the start of the monthly period on day (1 to 31) that holds now,
// and the next refill, all in µs since the Unix epoch, UTC. A month
// shorter than day refills on its last day. The calendar arithmetic is
// Howard Hinnant's days_from_civil and civil_from_days, proleptic
// Gregorian, in whole numbers that a double holds exactly.
const monthlyLua = `
local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local doy = math.floor((153 * ((m + 9) % 12) + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end
local function civil_from_days(z)
  z = z + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400
  if m <= 2 then y = y + 1 end
  return y, m
end
local function refill_day(y, m, day)
  if m < 1 then y, m = y - 1, m + 12 elseif m > 12 then y, m = y + 1, m - 12 end
  local first = days_from_civil(y, m, 1)
  local len = (m == 12 and days_from_civil(y + 1, 1, 1) or days_from_civil(y, m + 1, 1)) - first
  return first + math.min(day, len) - 1
end
local function monthly_period(now, day)
  local D = 86400000000
  local y, m = civil_from_days(math.floor(now / D))
  local this = refill_day(y, m, day) * D
  if now < this then return refill_day(y, m - 1, day) * D, this end
  return this, refill_day(y, m + 1, day) * D
end
`

// setQuotaScript sets the remaining count of KEYS[1] to ARGV[1], starting
// its refill schedule now if it had none.
var setQuotaScript = redis.NewScript(`
local t = redis.call('TIME')
redis.call('HSET', KEYS[1], 'remaining', ARGV[1])
redis.call('HSETNX', KEYS[1], 'last', string.format('%.0f', tonumber(t[1]) * 1000000 + tonumber(t[2])))
return 1
`)
