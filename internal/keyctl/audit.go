package keyctl

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/apikeyauth/apikey"
)

var auditCommand = &command{
	name:    "audit",
	summary: "flag keys due for rotation, unused, or without expiry",
	help: `Usage: apikeys audit --org ORG [--max-age 90d] [--unused 30d] [--allow-no-expiry] [--json]

Lists the organization's keys and flags, one line per key with its id and
reasons:
  too-old     created longer ago than --max-age: rotate it
  never-used  never used, and created longer ago than --unused
  unused      last used longer ago than --unused
  no-expiry   never expires (unless --allow-no-expiry)
  no-created  the backend did not say when it was created: its age is unknown
Keys that have already expired are not flagged: they no longer work.
A check whose threshold is 0 is off. The exit status is 1 when any key is
flagged, so that the audit can gate a cron job or CI, and 2 for an
organization WorkOS does not know or, with --store, an owner ID that no key
has (a misspelt one, or one whose keys are all deleted). A summary goes to
stderr.

Examples:
  apikeys audit --org org_01EHZNVPK3SFK441A1RGBFSHRT
  apikeys audit --org org_01EHZNVPK3SFK441A1RGBFSHRT --max-age 180d --unused 0 --json
  # crontab: every Monday at 07:00, mail the report only when the exit status is not 0
  0 7 * * 1  out=$(apikeys audit --org org_01EHZNVPK3SFK441A1RGBFSHRT --api-key-file /etc/apikeys/workos 2>&1) || echo "$out"
`,
	run: runAudit,
}

// finding is one reason to look at a key.
type finding struct {
	Code   string `json:"code"`
	Detail string `json:"detail"`
}

// flaggedKey is a key with the reasons it was flagged, as --json prints it.
type flaggedKey struct {
	*apikey.Key
	Reasons []finding `json:"reasons"`
}

// auditPolicy holds the thresholds; zero turns a check off.
type auditPolicy struct {
	maxAge, unused time.Duration
	allowNoExpiry  bool
}

// check returns the reasons to flag k at now; none for an expired key.
func (p auditPolicy) check(k *apikey.Key, now time.Time) []finding {
	if !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt) {
		return nil
	}
	var fs []finding
	age := now.Sub(k.CreatedAt)
	switch {
	case k.CreatedAt.IsZero():
		fs = append(fs, finding{"no-created", "creation time unknown"})
	case p.maxAge > 0 && age > p.maxAge:
		fs = append(fs, finding{"too-old", fmt.Sprintf("created %s ago, rotate every %s", ago(age), formatDays(p.maxAge))})
	}
	if p.unused > 0 {
		switch idle := now.Sub(k.LastUsedAt); {
		case k.LastUsedAt.IsZero() && !k.CreatedAt.IsZero() && age > p.unused:
			fs = append(fs, finding{"never-used", fmt.Sprintf("never used in the %s since its creation", ago(age))})
		case !k.LastUsedAt.IsZero() && idle > p.unused:
			fs = append(fs, finding{"unused", fmt.Sprintf("last used %s ago, limit %s", ago(idle), formatDays(p.unused))})
		}
	}
	if k.ExpiresAt.IsZero() && !p.allowNoExpiry {
		fs = append(fs, finding{"no-expiry", "never expires"})
	}
	return fs
}

func runAudit(ctx context.Context, a *app, c *command, args []string) int {
	fs, conn := a.flags(c)
	org := fs.String("org", "", a.orgUsage("the organization's `ID` (required)"))
	p := auditPolicy{maxAge: 90 * 24 * time.Hour, unused: 30 * 24 * time.Hour}
	fs.Var(days{&p.maxAge}, "max-age", "flag keys created longer than `D` ago; 0 is off")
	fs.Var(days{&p.unused}, "unused", "flag keys unused for longer than `D`; 0 is off")
	fs.BoolVar(&p.allowNoExpiry, "allow-no-expiry", false, "do not flag keys that never expire")
	asJSON := fs.Bool("json", false, "print the flagged keys as one JSON array")
	if _, code, done := a.parse(c, fs, conn, args, 0); done {
		return code
	}
	if *org == "" {
		return a.usage(c, "--org is required")
	}
	b, err := a.open(ctx, c, conn)
	if err != nil {
		return a.fail(ctx, c, err)
	}
	defer a.close(c, b)
	ctx, cancel := withTimeout(ctx, conn)
	defer cancel()
	keys, err := a.allKeys(ctx, b, *org)
	if err != nil {
		return a.fail(ctx, c, err)
	}
	now := a.now()
	flagged := []flaggedKey{}
	for _, k := range keys {
		if reasons := p.check(k, now); len(reasons) > 0 {
			flagged = append(flagged, flaggedKey{k, reasons})
		}
	}
	if *asJSON {
		if code := a.printJSON(c, flagged); code != exitOK {
			return code
		}
	} else {
		tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
		for _, f := range flagged {
			var rs []string
			for _, r := range f.Reasons {
				rs = append(rs, r.Code+": "+r.Detail)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", clean(f.ID), orDash(clean(f.Name)), strings.Join(rs, "; "))
		}
		_ = tw.Flush()
	}
	fmt.Fprintf(a.stderr, "apikeys audit: %d of %d keys %s flagged\n", len(flagged), len(keys), a.owner(*org))
	if len(flagged) > 0 {
		return exitNo
	}
	return exitOK
}
