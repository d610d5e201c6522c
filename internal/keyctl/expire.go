package keyctl

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"
)

var expireCommand = &command{
	name:    "expire",
	summary: "make a key stop working now, or at a time",
	help: `Usage: apikeys expire ID [--at TIME | --in D]

Expires the key now, or schedules its expiry at TIME (RFC 3339, such as
2026-12-31T23:59:00Z, or a date, 2026-12-31, meaning midnight UTC) or after
D (such as 24h or 7d). A key that has already expired, or that WorkOS (or the
store) does not know, exits with status 1.

Examples:
  apikeys expire api_key_01H5JQDV7R7ATEYZDEG0W5PRYS
  apikeys expire api_key_01H5JQDV7R7ATEYZDEG0W5PRYS --in 7d
  apikeys expire api_key_01H5JQDV7R7ATEYZDEG0W5PRYS --at 2026-12-31T23:59:00Z
`,
	run: runExpire,
}

func runExpire(ctx context.Context, a *app, c *command, args []string) int {
	fs, conn := a.flags(c)
	atFlag := fs.String("at", "", "expire at `TIME` (RFC 3339, or a date YYYY-MM-DD in UTC)")
	var in time.Duration
	fs.Var(days{&in}, "in", "expire after `D`, e.g. 24h or 7d")
	pos, code, done := a.parse(c, fs, conn, args, 1)
	if done {
		return code
	}
	inSet := false
	fs.Visit(func(f *flag.Flag) { inSet = inSet || f.Name == "in" })
	var at time.Time
	switch {
	case *atFlag != "" && inSet:
		return a.usage(c, "--at and --in exclude each other")
	case *atFlag != "":
		t, err := parseTime(*atFlag)
		if err != nil {
			return a.usage(c, err.Error())
		}
		if !t.After(a.now()) {
			return a.usage(c, "--at is not in the future; without --at the key expires now")
		}
		at = t
	case inSet && in == 0:
		return a.usage(c, "--in must be positive; without --in the key expires now")
	case inSet:
		at = a.now().Add(in)
	}
	b, err := a.open(ctx, c, conn)
	if err != nil {
		return a.fail(ctx, c, err)
	}
	defer a.close(c, b)
	ctx, cancel := withTimeout(ctx, conn)
	defer cancel()
	key, err := b.Expire(ctx, pos[0], at)
	if err != nil {
		return a.fail(ctx, c, err)
	}
	exp := at
	if key != nil && !key.ExpiresAt.IsZero() {
		exp = key.ExpiresAt
	}
	if exp.IsZero() {
		fmt.Fprintf(a.stdout, "%s expired\n", clean(pos[0]))
	} else {
		fmt.Fprintf(a.stdout, "%s expires at %s\n", clean(pos[0]), when(exp, ""))
	}
	return exitOK
}

// parseTime reads an RFC 3339 time or a date (midnight UTC).
func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, errors.New("--at is neither an RFC 3339 time (2026-12-31T23:59:00Z) nor a date (2026-12-31)")
}
