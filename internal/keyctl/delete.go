package keyctl

import (
	"context"
	"fmt"
)

var deleteCommand = &command{
	name:    "delete",
	summary: "delete a key for good; requests with it fail from then on",
	help: `Usage: apikeys delete ID [--yes]

Deletes the key: requests with it fail from then on, and it cannot be
undone. On a terminal it asks first, unless --yes; when stdin is not a
terminal (a script, a pipe) it refuses without --yes. A key WorkOS (or the
store) does not know exits with status 1.

Examples:
  apikeys delete api_key_01H5JQDV7R7ATEYZDEG0W5PRYS
  apikeys delete api_key_01H5JQDV7R7ATEYZDEG0W5PRYS --yes    # in a runbook script
`,
	run: runDelete,
}

func runDelete(ctx context.Context, a *app, c *command, args []string) int {
	fs, conn := a.flags(c)
	yes := fs.Bool("yes", false, "delete without asking")
	pos, code, done := a.parse(c, fs, conn, args, 1)
	if done {
		return code
	}
	id := pos[0]
	b, err := a.open(ctx, c, conn)
	if err != nil {
		return a.fail(ctx, c, err)
	}
	defer a.close(c, b)
	if !*yes {
		if _, ok := terminalFd(a.stdin); !ok {
			return a.usage(c, "refusing to delete without --yes: stdin is not a terminal, so no one can confirm")
		}
		ok, err := a.confirm(ctx, fmt.Sprintf("Delete %s for good? Requests with it will fail; this cannot be undone.", clean(id)))
		if err != nil {
			return a.fail(ctx, c, err)
		}
		if !ok {
			fmt.Fprintf(a.stderr, "apikeys %s: not deleted\n", c.name)
			return exitUndecided
		}
	}
	ctx, cancel := withTimeout(ctx, conn)
	defer cancel()
	if err := b.Delete(ctx, id); err != nil {
		return a.fail(ctx, c, err)
	}
	fmt.Fprintf(a.stdout, "%s deleted\n", clean(id))
	return exitOK
}
