package keyctl

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/apikeyauth/apikey"
)

var rotateCommand = &command{
	name:    "rotate",
	summary: "replace a key: create its successor, retire it after a grace period",
	help: `Usage: apikeys rotate (--org ORG --id ID | < oldkeyfile) [--grace 24h] [--expires-in D]

Creates a key with the same owner, name and permissions as the old one
(and in a store the same rate limits, and the old key's quota, which moves
over: the old key keeps no credit), prints its value on stdout, alone on
one line, then expires the old key
after the grace period, so that clients can switch over; --grace 0 deletes
it at once. The old key is named by --org and --id, or read from stdin (a
hidden prompt on a terminal). The new value is printed as soon as the key
exists: if retiring the old key then fails, the exit status is 2 and stderr
says what to run next. Redirect stdout to a file so that nothing is lost.

Examples:
  umask 077
  apikeys rotate --org org_01EHZNVPK3SFK441A1RGBFSHRT --id api_key_01H5JQDV7R7ATEYZDEG0W5PRYS > new-key.txt
  apikeys rotate --grace 0 < old-key.txt > new-key.txt     # the old key stops at once
  apikeys rotate --grace 7d --expires-in 90d < old-key.txt > new-key.txt
`,
	run: runRotate,
}

// defaultGrace is how long an old key keeps working after its rotation.
const defaultGrace = 24 * time.Hour

func runRotate(ctx context.Context, a *app, c *command, args []string) int {
	fs, conn := a.flags(c)
	org := fs.String("org", "", a.orgUsage("the old key's organization `ID` (with --id)"))
	id := fs.String("id", "", "the old key's `ID` (with --org); without both, the old key is read from stdin")
	grace := defaultGrace
	fs.Var(days{&grace}, "grace", "the old key keeps working for `D`; 0 deletes it at once")
	var expiresIn time.Duration
	fs.Var(days{&expiresIn}, "expires-in", "the new key expires after `D` (default: never)")
	if _, code, done := a.parse(c, fs, conn, args, 0); done {
		return code
	}
	if (*org == "") != (*id == "") {
		return a.usage(c, "--org and --id go together; without them the old key is read from stdin")
	}
	b, err := a.open(ctx, c, conn)
	if err != nil {
		return a.fail(ctx, c, err)
	}
	defer a.close(c, b)
	var value string
	if *id == "" {
		if value, err = a.readKey(ctx, "API key to rotate (not echoed): "); err != nil {
			if ctx.Err() != nil {
				return a.fail(ctx, c, err)
			}
			return a.usage(c, err.Error())
		}
	}
	ctx, cancel := withTimeout(ctx, conn)
	defer cancel()

	var old *apikey.Key
	if value != "" {
		old, err = b.Validate(ctx, value)
	} else {
		old, err = b.Get(ctx, *org, *id)
	}
	if err != nil {
		return a.fail(ctx, c, fmt.Errorf("finding the old key: %w", err))
	}
	now := a.now()
	if !old.ExpiresAt.IsZero() && !now.Before(old.ExpiresAt) {
		return a.fail(ctx, c, &marked{fmt.Errorf("%s expired at %s: create a key instead", clean(old.ID), when(old.ExpiresAt, "")), ErrAlreadyExpired})
	}
	req := CreateRequest{Owner: old.Owner, Name: old.Name, Permissions: old.Permissions, Metadata: old.Metadata}
	lb, _ := b.(LimitsBackend)
	if lb != nil {
		req.Limits = old.Limits
	}
	if expiresIn > 0 {
		req.ExpiresAt = now.Add(expiresIn)
	}
	key, newValue, err := b.Create(ctx, req)
	if newValue == "" {
		if err == nil {
			err = errors.New("the key was created without a value")
		}
		return a.fail(ctx, c, fmt.Errorf("creating the new key (the old one is untouched): %w", err))
	}
	if code := a.handOver(c, key, newValue); code != exitOK {
		return code
	}
	if err != nil {
		// The new key exists, but the backend described it oddly: keep the
		// old one working until someone has looked.
		a.errorf(c, "the new key was created and its value printed, but %s's answer was incomplete (%v); the old key %s still works: check the new one with 'apikeys validate', then run %s",
			a.source, err, clean(old.ID), retireCommand(old.ID, grace, conn.store))
		return exitUndecided
	}
	if lb != nil && old.Quota != nil {
		// Moved, not copied, so that the grace period does not double the
		// credits; the old key keeps working meanwhile, without them.
		if err := lb.MoveQuota(ctx, old.ID, key.ID); err != nil {
			why, _ := a.explain(ctx, err)
			a.errorf(c, "the new key was created and its value printed, but the old key %s's quota was not moved to it (%s); the old key still works: set the new key's quota with 'apikeys set %s --quota N', then run %s",
				clean(old.ID), why, clean(key.ID), retireCommand(old.ID, grace, conn.store))
			return exitUndecided
		}
	}
	return a.retire(ctx, c, conn, b, old, grace, now)
}

// retire expires the old key of a rotation after grace, or deletes it when
// grace is 0, and says what happened on stderr.
func (a *app) retire(ctx context.Context, c *command, conn *connection, b Backend, old *apikey.Key, grace time.Duration, now time.Time) int {
	var err error
	var done string
	at := now.Add(grace)
	switch {
	case grace == 0:
		err = b.Delete(ctx, old.ID)
		done = "deleted"
	case !old.ExpiresAt.IsZero() && !old.ExpiresAt.After(at):
		done = "left to expire at " + when(old.ExpiresAt, "")
	default:
		_, err = b.Expire(ctx, old.ID, at)
		done = "expires at " + when(at, "")
	}
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrAlreadyExpired) {
		err, done = nil, "already gone"
	}
	if err != nil {
		why, _ := a.explain(ctx, err)
		a.errorf(c, "the new key was created and its value printed, but the old key %s was not retired (%s); it still works: run %s",
			clean(old.ID), why, retireCommand(old.ID, grace, conn.store))
		return exitUndecided
	}
	fmt.Fprintf(a.stderr, "apikeys %s: old key %s %s\n", c.name, clean(old.ID), done)
	return exitOK
}

// retireCommand is the command that finishes a rotation by hand, with the
// --store flag of this one: without it, the command would ask WorkOS.
func retireCommand(id string, grace time.Duration, store string) string {
	cmd := "apikeys delete " + clean(id)
	if grace != 0 {
		cmd = "apikeys expire " + clean(id) + " --in " + formatDays(grace)
	}
	if store != "" {
		cmd += ` --store "` + clean(store) + `"`
	}
	return "'" + cmd + "'"
}
