package keyctl

import (
	"context"
	"fmt"
	"strings"
)

var deleteCommand = &command{
	name:    "delete",
	summary: "delete a key for good; requests with it fail from then on",
	help:    "Usage: apikeys delete ID [--yes]\n       apikeys revoke ID [--yes]     (the same command)\n" + deleteHelp,
	run:     runDelete,
}

// revokeCommand is delete under the word of sqlstore's Store.Revoke and
// of the examples' admin route.
var revokeCommand = &command{
	name:    "revoke",
	summary: "the same as delete",
	help:    "Usage: apikeys revoke ID [--yes]\n       apikeys delete ID [--yes]     (the same command)\n" + deleteHelp,
	run:     runDelete,
}

// deleteHelp is the help of delete and revoke, after their usage lines.
const deleteHelp = `
Deletes (revokes) the key: requests with it fail from then on, and it
cannot be undone. On a terminal it asks first, unless --yes; when stdin is
not a terminal (a script, a pipe) it refuses without --yes. A key WorkOS
(or the store) does not know exits with status 1.

Examples:
  apikeys delete api_key_01H5JQDV7R7ATEYZDEG0W5PRYS
  apikeys delete api_key_01H5JQDV7R7ATEYZDEG0W5PRYS --yes    # in a runbook script
`

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
			return a.usage(c, "refusing to "+c.name+" without --yes: stdin is not a terminal, so no one can confirm")
		}
		verb := strings.ToUpper(c.name[:1]) + c.name[1:]
		ok, err := a.confirm(ctx, fmt.Sprintf("%s %s for good? Requests with it will fail; this cannot be undone.", verb, clean(id)))
		if err != nil {
			return a.fail(ctx, c, err)
		}
		if !ok {
			fmt.Fprintf(a.stderr, "apikeys %s: not %sd\n", c.name, c.name)
			return exitUndecided
		}
	}
	ctx, cancel := withTimeout(ctx, conn)
	defer cancel()
	if err := b.Delete(ctx, id); err != nil {
		return a.fail(ctx, c, err)
	}
	fmt.Fprintf(a.stdout, "%s %sd\n", clean(id), c.name)
	return exitOK
}
