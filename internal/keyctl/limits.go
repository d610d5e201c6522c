package keyctl

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"

	"github.com/apikeyauth/apikey"
)

// LimitsBackend is what a Backend that keeps keys' rate limits and quotas
// (the SQL store; WorkOS keeps neither) also does. Errors are as Backend's.
type LimitsBackend interface {
	// SetLimits replaces the key's rate limits (none removes them) and
	// returns the key as it is then.
	SetLimits(ctx context.Context, id string, limits []apikey.Limit) (*apikey.Key, error)
	// SetQuota sets the key's quota afresh (nil removes it) and returns
	// the key as it is then.
	SetQuota(ctx context.Context, id string, q *apikey.Quota) (*apikey.Key, error)
	// MoveQuota moves the quota of the key from to the key to, leaving
	// from none: a rotation's successor takes its credits over.
	MoveQuota(ctx context.Context, from, to string) error
}

// limitFlags are the flags that set a key's rate limits and quota, on
// create and set.
type limitFlags struct {
	limits   limitList
	quota    optionalInt
	refill   refillFlag
	noLimits *bool // set only
	noQuota  *bool // set only
}

// addLimitFlags adds --limit, --quota and --refill to fs, and with
// removable --no-limits and --no-quota.
func addLimitFlags(fs *flag.FlagSet, removable bool) *limitFlags {
	f := &limitFlags{}
	fs.Var(&f.limits, "limit", "a rate `LIMIT` such as default=100/1m,burst=20 or search=10/1s,scope=owner; repeat for several (--store only)")
	fs.Var(&f.quota, "quota", "a quota of `N` credits, each request spending its cost (--store only)")
	fs.Var(&f.refill, "refill", "with --quota, top the credits up to `AMOUNT/D` every D, e.g. 1000/24h, or monthly on a day at 00:00 UTC, e.g. 1000/monthly@1")
	if removable {
		f.noLimits = fs.Bool("no-limits", false, "remove the key's rate limits")
		f.noQuota = fs.Bool("no-quota", false, "remove the key's quota")
	}
	return f
}

// check returns what is wrong with the flags as given, for a usage error.
func (f *limitFlags) check() error {
	switch {
	case f.refill.set && !f.quota.set:
		return errors.New("--refill goes with --quota")
	case f.noLimits != nil && *f.noLimits && len(f.limits) > 0:
		return errors.New("--limit and --no-limits exclude each other")
	case f.noQuota != nil && *f.noQuota && f.quota.set:
		return errors.New("--quota and --no-quota exclude each other")
	}
	if q := f.quotaValue(); q != nil {
		if err := q.Validate(); err != nil {
			return errors.New(strings.TrimPrefix(err.Error(), "apikey: Quota: "))
		}
	}
	return nil
}

// any reports whether the flags set anything.
func (f *limitFlags) any() bool {
	return len(f.limits) > 0 || f.quota.set || (f.noLimits != nil && *f.noLimits) || (f.noQuota != nil && *f.noQuota)
}

// quotaValue returns the quota that --quota and --refill give, or nil.
func (f *limitFlags) quotaValue() *apikey.Quota {
	if !f.quota.set {
		return nil
	}
	q := &apikey.Quota{Remaining: f.quota.n}
	if f.refill.set {
		r := f.refill.r
		q.Refill = &r
	}
	return q
}

// limitList is the repeatable --limit.
type limitList []apikey.Limit

func (l *limitList) String() string { return "" }
func (l *limitList) Set(s string) error {
	lim, err := apikey.ParseLimit(s)
	if err != nil {
		// ParseLimit's errors quote what they were given; a key pasted
		// here must not be printed back.
		return errors.New("a limit is NAME=RATE/PERIOD with optional ,burst=N and ,scope=owner or organization, such as default=100/1m,burst=20")
	}
	*l = append(*l, lim)
	return nil
}

// optionalInt is a non-negative count that records whether it was given.
type optionalInt struct {
	n   int64
	set bool
}

func (o *optionalInt) String() string { return "" }
func (o *optionalInt) Set(s string) error {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return errors.New("a quota is a whole number of credits, 0 or more")
	}
	o.n, o.set = n, true
	return nil
}

// refillFlag is --refill AMOUNT/D, or AMOUNT/monthly@DAY.
type refillFlag struct {
	r   apikey.Refill
	set bool
}

// monthlyRefill is what comes before the day in --refill AMOUNT/monthly@DAY.
const monthlyRefill = "monthly@"

func (f *refillFlag) String() string { return "" }
func (f *refillFlag) Set(s string) error {
	amount, interval, ok := strings.Cut(s, "/")
	n, err := strconv.ParseInt(amount, 10, 64)
	if !ok || err != nil || n <= 0 {
		return errors.New("a refill is AMOUNT/D, a positive amount every D, such as 1000/24h or 50000/30d, or AMOUNT/monthly@DAY, such as 1000/monthly@1")
	}
	if day, monthly := strings.CutPrefix(interval, monthlyRefill); monthly || interval == "monthly" {
		// The day is not optional: a refill on the 1st by default would
		// surprise whoever meant the day the key was made.
		d, err := strconv.Atoi(day)
		if err != nil || d < 1 || d > 31 {
			return errors.New("a monthly refill is AMOUNT/monthly@DAY, DAY from 1 to 31 (a shorter month refills on its last day), such as 1000/monthly@1")
		}
		f.r, f.set = apikey.Refill{Amount: n, Day: d}, true
		return nil
	}
	d, err := parseDays(interval)
	if err != nil {
		return err
	}
	f.r, f.set = apikey.Refill{Amount: n, Interval: d}, true
	return nil
}

// limitsBackend returns b as a LimitsBackend, or a usage error naming the
// flags that need one.
func (a *app) limitsBackend(b Backend) (LimitsBackend, error) {
	lb, ok := b.(LimitsBackend)
	if !ok {
		return nil, fmt.Errorf("%s keeps no rate limits or quotas: --limit, --quota and --refill are for keys in a store (--store)", a.source)
	}
	return lb, nil
}

// describeLimits writes limits as ParseLimits reads them.
func describeLimits(limits []apikey.Limit) string {
	s := make([]string, len(limits))
	for i, l := range limits {
		s[i] = l.String()
	}
	return strings.Join(s, "; ")
}

// describeQuota writes a quota for people: "7 left, topped up to 1000
// every 1d", or "7 left, topped up to 1000 monthly on day 1 at 00:00 UTC".
func describeQuota(q *apikey.Quota) string {
	s := strconv.FormatInt(q.Remaining, 10) + " left"
	switch r := q.Refill; {
	case r == nil:
	case r.Monthly():
		s += ", topped up to " + strconv.FormatInt(r.Amount, 10) + " monthly on day " + strconv.Itoa(r.Day)
		if r.Day > 28 {
			s += " (or the month's last)"
		}
		s += " at 00:00 UTC"
	default:
		s += ", topped up to " + strconv.FormatInt(r.Amount, 10) + " every " + formatDays(r.Interval)
	}
	return s
}

var setCommand = &command{
	name:    "set",
	summary: "set a key's rate limits or quota (--store only)",
	help: `Usage: apikeys set ID [--limit L]... [--no-limits] [--quota N [--refill AMOUNT/D]] [--no-quota]

Sets the rate limits or the quota of a key kept in a store (--store): WorkOS
keeps neither. --limit replaces every limit of the key (repeat it for
several); --quota sets the credits left, afresh, and --refill tops them up
to AMOUNT every D, counted from now, or with AMOUNT/monthly@DAY monthly on
DAY (1 to 31; a shorter month on its last day) at 00:00 UTC, the first
time on the next such day. Prints the key as it is then. Every
process serving the store applies the change within its poll interval.

Examples:
  apikeys set key_0190b2c1d3e4f5a6b7c8d9e0f1 --limit default=100/1m,burst=20 --limit daily=10000/24h
  apikeys set key_0190b2c1d3e4f5a6b7c8d9e0f1 --quota 1000 --refill 1000/24h
  apikeys set key_0190b2c1d3e4f5a6b7c8d9e0f1 --quota 1000 --refill 1000/monthly@1
  apikeys set key_0190b2c1d3e4f5a6b7c8d9e0f1 --no-quota
`,
	run: runSet,
}

func runSet(ctx context.Context, a *app, c *command, args []string) int {
	fs, conn := a.flags(c)
	lf := addLimitFlags(fs, true)
	pos, code, done := a.parse(c, fs, conn, args, 1)
	if done {
		return code
	}
	if err := lf.check(); err != nil {
		return a.usage(c, err.Error())
	}
	if !lf.any() {
		return a.usage(c, "nothing to set: give --limit, --no-limits, --quota or --no-quota")
	}
	id := pos[0]
	b, err := a.open(ctx, c, conn)
	if err != nil {
		return a.fail(ctx, c, err)
	}
	defer a.close(c, b)
	lb, err := a.limitsBackend(b)
	if err != nil {
		return a.usage(c, err.Error())
	}
	ctx, cancel := withTimeout(ctx, conn)
	defer cancel()
	var k *apikey.Key
	if len(lf.limits) > 0 || *lf.noLimits {
		if k, err = lb.SetLimits(ctx, id, lf.limits); err != nil {
			return a.fail(ctx, c, err)
		}
	}
	if lf.quota.set || *lf.noQuota {
		if k, err = lb.SetQuota(ctx, id, lf.quotaValue()); err != nil {
			return a.fail(ctx, c, err)
		}
	}
	a.printKey(k)
	return exitOK
}
