package keyctl

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/apikeyauth/apikey"
)

var listCommand = &command{
	name:    "list",
	summary: "list an organization's keys, across every page",
	help: `Usage: apikeys list --org ORG [--json | --jsonl]

Prints every key of the organization, one line per key starting with its
id, as an aligned table; or one JSON array (--json); or one JSON object per
line (--jsonl), written as pages arrive. Only display values such as
sk_...3456 are shown, never a key. Progress goes to stderr when paging takes
more than a moment. An organization WorkOS does not know exits with
status 2, and so does, with --store, an owner ID that no key has.

Examples:
  apikeys list --org org_01EHZNVPK3SFK441A1RGBFSHRT
  apikeys list --org org_01EHZNVPK3SFK441A1RGBFSHRT --jsonl | jq -r .id
`,
	run: runList,
}

// progressEvery is how long paging runs before progress is shown, and how
// often it is updated.
const progressEvery = 2 * time.Second

func runList(ctx context.Context, a *app, c *command, args []string) int {
	fs, conn := a.flags(c)
	org := fs.String("org", "", a.orgUsage("the organization's `ID` (required)"))
	asJSON := fs.Bool("json", false, "print one JSON array")
	asJSONL := fs.Bool("jsonl", false, "print one JSON object per line, as keys arrive")
	if _, code, done := a.parse(c, fs, conn, args, 0); done {
		return code
	}
	switch {
	case *org == "":
		return a.usage(c, "--org is required")
	case *asJSON && *asJSONL:
		return a.usage(c, "--json and --jsonl exclude each other")
	}
	b, err := a.open(ctx, c, conn)
	if err != nil {
		return a.fail(ctx, c, err)
	}
	defer a.close(c, b)
	ctx, cancel := withTimeout(ctx, conn)
	defer cancel()
	if *asJSONL {
		enc := json.NewEncoder(a.stdout)
		n, err := a.eachKey(ctx, b, *org, func(k *apikey.Key) error { return enc.Encode(k) })
		if err != nil {
			return a.fail(ctx, c, fmt.Errorf("after %d keys: %w", n, err))
		}
		return exitOK
	}
	// The table and the array are printed whole or not at all.
	keys, err := a.allKeys(ctx, b, *org)
	if err != nil {
		return a.fail(ctx, c, err)
	}
	if len(keys) == 0 {
		fmt.Fprintf(a.stderr, "apikeys list: no keys %s\n", a.owner(*org))
	}
	if *asJSON {
		if keys == nil {
			keys = []*apikey.Key{}
		}
		return a.printJSON(c, keys)
	}
	a.printTable(keys)
	return exitOK
}

// allKeys collects every key of the organization.
func (a *app) allKeys(ctx context.Context, b Backend, org string) ([]*apikey.Key, error) {
	var keys []*apikey.Key
	_, err := a.eachKey(ctx, b, org, func(k *apikey.Key) error {
		keys = append(keys, k)
		return nil
	})
	return keys, err
}

// eachKey calls f on every key of the organization, reporting progress on
// stderr once listing has taken progressEvery, and returns how many keys
// it handled.
func (a *app) eachKey(ctx context.Context, b Backend, org string, f func(*apikey.Key) error) (int, error) {
	n := 0
	start := a.now()
	next := start.Add(progressEvery)
	shown := false
	defer func() {
		if shown {
			fmt.Fprintf(a.stderr, "apikeys: listed %d keys in %s\n", n, a.now().Sub(start).Round(time.Millisecond))
		}
	}()
	for k, err := range b.List(ctx, org) {
		if err != nil {
			return n, err
		}
		if err := f(k); err != nil {
			return n, fmt.Errorf("writing the output: %w", err)
		}
		n++
		if now := a.now(); !now.Before(next) {
			fmt.Fprintf(a.stderr, "apikeys: %d keys so far…\n", n)
			next, shown = now.Add(progressEvery), true
		}
	}
	return n, nil
}

// printTable prints keys as an aligned table, one line per key starting
// with its id.
func (a *app) printTable(keys []*apikey.Key) {
	// The limits and quota columns appear when a key has some: WorkOS keys
	// carry neither.
	limited := slices.ContainsFunc(keys, func(k *apikey.Key) bool { return len(k.Limits) > 0 || k.Quota != nil })
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	header := "ID\tNAME\tOWNER\tDISPLAY\tPERMISSIONS\tCREATED\tLAST USED\tEXPIRES"
	if limited {
		header += "\tLIMITS\tQUOTA"
	}
	fmt.Fprintln(tw, header)
	for _, k := range keys {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s",
			clean(k.ID), orDash(clean(k.Name)), clean(k.Owner.Type+":"+k.Owner.ID), orDash(clean(k.DisplayValue)),
			orDash(clean(strings.Join(k.Permissions, ","))),
			when(k.CreatedAt, "-"), when(k.LastUsedAt, "never"), when(k.ExpiresAt, "never"))
		if limited {
			quota := "-"
			if k.Quota != nil {
				quota = describeQuota(k.Quota)
			}
			fmt.Fprintf(tw, "\t%s\t%s", orDash(clean(describeLimits(k.Limits))), quota)
		}
		fmt.Fprintln(tw)
	}
	_ = tw.Flush()
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}
