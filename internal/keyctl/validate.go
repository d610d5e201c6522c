package keyctl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/apikeyauth/apikey"
)

var validateCommand = &command{
	name:    "validate",
	summary: "check a key read from stdin and print what it is",
	help: `Usage: apikeys validate [--json] < keyfile

Reads one key from stdin, or from a hidden prompt on a terminal (never from
the command line, which shell history and ps would keep), asks WorkOS (or
the store of --store) about it, and prints its id, name, owner, permissions, expiry and last use.

Examples:
  apikeys validate                      # prompts, without echo
  apikeys validate < key.txt
  pass show api/prod | apikeys validate --json
`,
	run: runValidate,
}

func runValidate(ctx context.Context, a *app, c *command, args []string) int {
	fs, conn := a.flags(c)
	asJSON := fs.Bool("json", false, "print the key as a JSON object")
	if _, code, done := a.parse(c, fs, conn, args, 0); done {
		return code
	}
	b, err := a.open(ctx, c, conn)
	if err != nil {
		return a.fail(ctx, c, err)
	}
	defer a.close(c, b)
	value, err := a.readKey(ctx, "API key (not echoed): ")
	if err != nil {
		if ctx.Err() != nil {
			return a.fail(ctx, c, err)
		}
		return a.usage(c, err.Error())
	}
	ctx, cancel := withTimeout(ctx, conn)
	defer cancel()
	key, err := b.Validate(ctx, value)
	if errors.Is(err, apikey.ErrInvalidKey) {
		err = fmt.Errorf("not a valid key: unknown, deleted or expired (%w)", err)
	}
	if err != nil {
		return a.fail(ctx, c, err)
	}
	if *asJSON {
		return a.printJSON(c, key)
	}
	a.printKey(key)
	return exitOK
}

// printKey prints a key's fields, one per line.
func (a *app) printKey(k *apikey.Key) {
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	owner := k.Owner.Type + " " + k.Owner.ID
	if k.Owner.OrganizationID != "" {
		owner += " (organization " + k.Owner.OrganizationID + ")"
	}
	for _, row := range [][2]string{
		{"id", k.ID},
		{"name", k.Name},
		{"owner", owner},
		{"display", k.DisplayValue},
		{"permissions", strings.Join(k.Permissions, " ")},
		{"expires", when(k.ExpiresAt, "never")},
		{"last used", when(k.LastUsedAt, "never")},
		{"created", when(k.CreatedAt, "unknown")},
	} {
		fmt.Fprintf(tw, "%s\t%s\n", row[0], clean(row[1]))
	}
	// WorkOS keys carry neither: their rows would say nothing.
	if len(k.Limits) > 0 {
		fmt.Fprintf(tw, "limits\t%s\n", clean(describeLimits(k.Limits)))
	}
	if k.Quota != nil {
		fmt.Fprintf(tw, "quota\t%s\n", describeQuota(k.Quota))
	}
	_ = tw.Flush()
}

// printJSON prints v as indented JSON on stdout.
func (a *app) printJSON(c *command, v any) int {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		a.errorf(c, "writing the output: %v", err)
		return exitUndecided
	}
	return exitOK
}
