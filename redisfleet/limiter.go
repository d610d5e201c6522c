package redisfleet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/apikeyauth/apikey"
)

// Limiter is an apikey.Limiter that counts for the whole fleet in the
// Fleet's Redis: every replica charges the same buckets, so a limit holds
// across them as it would in one process. Build one with Fleet.Limiter and
// give it to apikey.New with apikey.WithLimiter. It is safe for concurrent
// use.
//
// Each request is one round trip: one script charges all of the request's
// limits at once (all or nothing), by the generic cell rate algorithm
// (GCRA) on Redis's own clock, so that replicas whose clocks differ still
// agree. A bucket is one Redis string, which expires once the bucket is
// full again.
//
// On Redis trouble the Limiter waits no longer than the Fleet's timeout
// (WithTimeout), then falls back (see LimiterFallback); after a failure it
// does not try Redis again for a second, so that a Redis that does not
// answer costs one timeout now and then rather than one per request. It
// never lets a request through uncounted.
type Limiter struct {
	f        *Fleet
	fallback LimiterFallback
	replicas int // fixed by WithReplicas; 0: as seen in Redis
	logger   *slog.Logger

	seen      atomic.Int64 // replicas seen charging in Redis lately
	beatAt    atomic.Int64 // when this replica last said it is alive, unix ns
	downUntil atomic.Int64 // unix ns: skip Redis until then
	down      atomic.Bool  // the last call failed: logged once per outage
	fallbacks atomic.Uint64
	localFor  atomic.Pointer[sharedLocal] // the fallback's limiter, by share
}

// LimiterFallback says what a Limiter does when Redis does not answer in
// time.
type LimiterFallback int

const (
	// FallbackLocal counts in this process, at this replica's share of each
	// limit: 1/N of the rate and the burst, where N is WithReplicas, or
	// else the number of replicas that charged limits in Redis within the
	// last ten seconds before it went away (at least 1). The fleet then
	// keeps each limit approximately, if load is spread evenly. The default.
	FallbackLocal LimiterFallback = iota
	// FallbackRefuse refuses the request, with 503 and Retry-After, as when
	// the validator is unavailable: for limits that must never be exceeded.
	FallbackRefuse
)

// LimiterOption configures Fleet.Limiter.
type LimiterOption func(*Limiter)

// WithFallback sets what the Limiter does when Redis does not answer within
// the Fleet's timeout. Default: FallbackLocal.
func WithFallback(fb LimiterFallback) LimiterOption {
	return func(l *Limiter) { l.fallback = fb }
}

// WithReplicas fixes the number of replicas that share the limits, for
// FallbackLocal's share. Default: the number seen in Redis.
func WithReplicas(n int) LimiterOption {
	return func(l *Limiter) { l.replicas = n }
}

// The Limiter's timing.
const (
	// limiterDownFor is how long a Limiter leaves Redis alone after a call
	// failed.
	limiterDownFor = time.Second
	// heartbeatEvery is how often a replica tells Redis it is alive, in
	// the script of a request; replicaWindow how long it counts as alive.
	heartbeatEvery = time.Second
	replicaWindow  = 10 * time.Second
)

// Limiter returns a Limiter that counts in the Fleet's Redis, under the
// Fleet's prefix. An invalid option is an error matching
// apikey.ErrMisconfigured.
func (f *Fleet) Limiter(opts ...LimiterOption) (*Limiter, error) {
	l := &Limiter{f: f, logger: f.s.logger}
	for i, o := range opts {
		if o == nil {
			return nil, misconfigured(fmt.Sprintf("Limiter: option %d is nil", i))
		}
		o(l)
	}
	switch {
	case l.fallback != FallbackLocal && l.fallback != FallbackRefuse:
		return nil, misconfigured(fmt.Sprintf("Limiter: unknown fallback %d", l.fallback))
	case l.replicas < 0:
		return nil, misconfigured(fmt.Sprintf("Limiter: the number of replicas must not be negative, not %d", l.replicas))
	}
	l.seen.Store(1)
	return l, nil
}

// Allow implements apikey.Limiter.
func (l *Limiter) Allow(ctx context.Context, key *apikey.Key, limits []apikey.Limit, cost int, decisions []apikey.Decision) error {
	for _, lim := range limits {
		if cost > lim.BurstOrDefault() {
			return fmt.Errorf("redisfleet: the cost %d exceeds the burst %d of limit %q, so no request could ever pass: %w",
				cost, lim.BurstOrDefault(), lim.NameOrDefault(), apikey.ErrMisconfigured)
		}
	}
	if time.Now().UnixNano() >= l.downUntil.Load() {
		err := l.charge(ctx, key, limits, cost, decisions)
		if err == nil {
			if l.down.CompareAndSwap(true, false) {
				l.logger.Info("redisfleet: the limiter reaches Redis again", "prefix", l.f.s.prefix)
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err() // the request went away: nothing to fall back for
		}
		l.downUntil.Store(time.Now().Add(limiterDownFor).UnixNano())
		if l.down.CompareAndSwap(false, true) {
			l.logger.Warn("redisfleet: the limiter cannot reach Redis; falling back", "prefix", l.f.s.prefix,
				"fallback", l.fallback.String(), "error", err)
		}
	}
	l.fallbacks.Add(1)
	if l.fallback == FallbackRefuse {
		return &apikey.UnavailableError{RetryAfter: limiterDownFor, Err: fmt.Errorf("redisfleet: the limiter cannot reach Redis")}
	}
	err := l.localLimiter().Allow(ctx, key, limits, cost, decisions)
	if errors.Is(err, apikey.ErrMisconfigured) {
		// The cost fits the limits (checked above) but not this replica's
		// share of one: a request Redis would let through, so not the
		// program's fault, and no Retry-After of a refusal could be kept.
		return &apikey.UnavailableError{RetryAfter: limiterDownFor, Err: fmt.Errorf("redisfleet: the limiter cannot reach Redis, and the cost %d exceeds this replica's share of a limit", cost)}
	}
	return err
}

// Fallbacks counts the requests the Limiter counted without Redis.
func (l *Limiter) Fallbacks() uint64 { return l.fallbacks.Load() }

func (fb LimiterFallback) String() string {
	switch fb {
	case FallbackLocal:
		return "local"
	case FallbackRefuse:
		return "refuse"
	}
	return "LimiterFallback(" + strconv.Itoa(int(fb)) + ")"
}

// localLimiter returns the fallback's LocalLimiter at this replica's share,
// building a new one when the share changed. Buckets start full: a replica
// that falls back lets its share of a burst through.
func (l *Limiter) localLimiter() *apikey.LocalLimiter {
	n := l.replicas
	if n == 0 {
		n = int(max(1, l.seen.Load()))
	}
	p := l.localFor.Load()
	if p != nil && p.n == n {
		return p.l
	}
	ll, err := apikey.NewLocalLimiter(apikey.WithLimiterShare(1 / float64(n)))
	if err != nil { // cannot happen: the share is in (0, 1]
		panic(err)
	}
	l.localFor.Store(&sharedLocal{n: n, l: ll})
	return ll
}

// charge runs limitScript for the request, filling in decisions.
func (l *Limiter) charge(ctx context.Context, key *apikey.Key, limits []apikey.Limit, cost int, decisions []apikey.Decision) error {
	keys := make([]string, len(limits)+1)
	keys[0] = l.f.p + "replicas"
	args := make([]any, 0, 3+2*len(limits))
	beat := ""
	if now := time.Now().UnixNano(); now-l.beatAt.Load() >= int64(heartbeatEvery) {
		l.beatAt.Store(now)
		beat = l.f.self
	}
	args = append(args, cost, beat, replicaWindow.Microseconds())
	for i, lim := range limits {
		keys[i+1] = l.f.p + "rl:" + apikey.BucketOf(key, lim).String()
		interval := float64(lim.Period) / float64(time.Microsecond) / float64(lim.Rate)
		args = append(args, strconv.FormatFloat(interval, 'g', -1, 64), strconv.FormatFloat(interval*float64(lim.BurstOrDefault()), 'g', -1, 64))
	}
	cctx, cancel := l.f.call(ctx)
	defer cancel()
	res, err := limitScript.Run(cctx, l.f.client, keys, args...).Int64Slice()
	if err != nil {
		return err
	}
	if len(res) != 1+4*len(limits) {
		return fmt.Errorf("redisfleet: the limit script returned %d values, not %d", len(res), 1+4*len(limits))
	}
	if res[0] > 0 {
		l.seen.Store(res[0])
	}
	for i := range limits {
		r := res[1+4*i:]
		decisions[i] = apikey.Decision{
			Allowed:    r[0] == 1,
			Remaining:  int(r[1]),
			RetryAfter: time.Duration(r[2]) * time.Microsecond,
			ResetAfter: time.Duration(r[3]) * time.Microsecond,
		}
	}
	return nil
}

// sharedLocal is the fallback's LocalLimiter for a number of replicas.
type sharedLocal struct {
	n int
	l *apikey.LocalLimiter
}

// limitScript charges ARGV[1] (the cost) to each bucket KEYS[2..], all or
// nothing, by GCRA on Redis's clock, in microseconds. ARGV[4+2i] and
// ARGV[5+2i] are bucket i's emission interval and tolerance (interval ×
// burst). ARGV[2], when not empty, is this replica's name: it is recorded
// in the sorted set KEYS[1] as alive now, and replicas not seen within
// ARGV[3] µs are dropped. It returns the number of replicas alive (0 when
// not counted), then per bucket: allowed (1 or 0), remaining, retry after
// and reset after (µs). A bucket holds its theoretical arrival time and
// expires when it is full again; a refusal writes nothing.
var limitScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local cost = tonumber(ARGV[1])
local alive = 0
if ARGV[2] ~= '' then
  redis.call('ZADD', KEYS[1], now, ARGV[2])
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[3]))
  redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[3]) / 1000))
  alive = redis.call('ZCARD', KEYS[1])
end
local n = #KEYS - 1
local state = {}
local ok = true
for i = 1, n do
  local interval = tonumber(ARGV[2 + 2 * i])
  local tolerance = tonumber(ARGV[3 + 2 * i])
  local tat = tonumber(redis.call('GET', KEYS[i + 1]) or '0') or 0
  if tat < now then tat = now end
  local nxt = tat + cost * interval
  state[i] = {tat, nxt, interval, tolerance}
  if nxt - now > tolerance then ok = false end
end
local out = {alive}
for i = 1, n do
  local tat, nxt, interval, tolerance = state[i][1], state[i][2], state[i][3], state[i][4]
  local fits = nxt - now <= tolerance
  if ok then
    redis.call('SET', KEYS[i + 1], string.format('%.17g', nxt), 'PX', math.ceil((nxt - now) / 1000) + 1)
    tat = nxt
  end
  local remaining = math.floor((tolerance - (tat - now)) / interval)
  if remaining < 0 then remaining = 0 end
  local retry = 0
  if not fits then retry = math.ceil(nxt - tolerance - now) end
  out[#out + 1] = fits and 1 or 0
  out[#out + 1] = remaining
  out[#out + 1] = retry
  out[#out + 1] = math.ceil(tat - now)
end
return out
`)
