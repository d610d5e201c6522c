package keyctl

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/apikeyauth/apikey"
)

var createCommand = &command{
	name:    "create",
	summary: "create a key and print its value, once",
	help: `Usage: apikeys create --org ORG --name NAME [--permission P]... [--expires-in D]
                      [--limit L]... [--quota N [--refill AMOUNT/D]]

Creates a key for the organization and prints its value on stdout, alone on
one line, so that VALUE=$(apikeys create ...) works. The value is shown
this once: store it now. What was created is described on stderr. With a
store (--store), --limit gives the key rate limits and --quota a quota of
credits (see 'apikeys set --help').

Examples:
  apikeys create --org org_01EHZNVPK3SFK441A1RGBFSHRT --name "billing sync" \
      --permission invoices:read --permission invoices:write --expires-in 90d > key.txt
  VALUE=$(apikeys create --org org_01EHZNVPK3SFK441A1RGBFSHRT --name ci)
`,
	run: runCreate,
}

// permissions is a repeatable flag.
type permissions []string

func (p *permissions) String() string { return strings.Join(*p, ",") }
func (p *permissions) Set(s string) error {
	if strings.TrimSpace(s) == "" || strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return errors.New("a permission is empty or has spaces")
	}
	*p = append(*p, s)
	return nil
}

func runCreate(ctx context.Context, a *app, c *command, args []string) int {
	fs, conn := a.flags(c)
	org := fs.String("org", "", a.orgUsage("the organization's `ID` (required)"))
	name := fs.String("name", "", "the key's `NAME` (required)")
	var perms permissions
	fs.Var(&perms, "permission", "a `PERMISSION` to grant; repeat for several")
	var expiresIn time.Duration
	fs.Var(days{&expiresIn}, "expires-in", "the key expires after `D`, e.g. 90d (default: never)")
	lf := addLimitFlags(fs, false)
	if _, code, done := a.parse(c, fs, conn, args, 0); done {
		return code
	}
	switch {
	case *org == "":
		return a.usage(c, "--org is required")
	case strings.TrimSpace(*name) == "":
		return a.usage(c, "--name is required")
	}
	if err := lf.check(); err != nil {
		return a.usage(c, err.Error())
	}
	b, err := a.open(ctx, c, conn)
	if err != nil {
		return a.fail(ctx, c, err)
	}
	defer a.close(c, b)
	if lf.any() {
		if _, err := a.limitsBackend(b); err != nil {
			return a.usage(c, err.Error())
		}
	}
	req := CreateRequest{
		Owner:       apikey.Owner{Type: "organization", ID: *org},
		Name:        *name,
		Permissions: perms,
		Limits:      lf.limits,
		Quota:       lf.quotaValue(),
	}
	if expiresIn > 0 {
		req.ExpiresAt = a.now().Add(expiresIn)
	}
	ctx, cancel := withTimeout(ctx, conn)
	defer cancel()
	key, value, err := b.Create(ctx, req)
	if value == "" {
		if err == nil {
			err = errors.New("the key was created without a value")
		}
		return a.fail(ctx, c, err)
	}
	if code := a.handOver(c, key, value); code != exitOK {
		return code
	}
	if err != nil {
		// The key exists and its value was printed; only its description
		// was odd.
		a.errorf(c, "the key was created and its value printed, but %s's answer was incomplete: %v", a.source, err)
		return exitUndecided
	}
	return exitOK
}

// handOver prints a new key's value, alone on one line of stdout, and
// describes the key on stderr with the warning that the value is shown
// only once.
func (a *app) handOver(c *command, key *apikey.Key, value string) int {
	a.noteSecret(value)
	if _, err := fmt.Fprintln(a.stdout, value); err != nil {
		id := "the new key"
		if key != nil {
			id = clean(key.ID)
		}
		a.errorf(c, "the key was created but its value could not be written to stdout (%v): delete %s and try again", err, id)
		return exitUndecided
	}
	desc := "the new key"
	if key != nil {
		desc = fmt.Sprintf("created %s (%q", clean(key.ID), clean(key.Name))
		if len(key.Permissions) > 0 {
			desc += ", permissions " + clean(strings.Join(key.Permissions, " "))
		}
		if len(key.Limits) > 0 {
			desc += ", limits " + clean(describeLimits(key.Limits))
		}
		if key.Quota != nil {
			desc += ", quota " + describeQuota(key.Quota)
		}
		desc += ", expires " + when(key.ExpiresAt, "never") + ")"
	}
	fmt.Fprintf(a.stderr, "apikeys %s: %s; its value is on stdout and will not be shown again: store it now\n", c.name, desc)
	return exitOK
}
