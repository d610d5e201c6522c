// Package keyctl is the apikeys command: validate, list, audit, create,
// rotate, expire and delete API keys from a terminal, a runbook or a cron
// job. The keys live in WorkOS, or in a store that --store names when the
// build registers one (see WithStore): the command in the root module
// knows only WorkOS, the one in the sqlstore module adds SQLite and
// PostgreSQL, and both print the same and exit with the same statuses.
package keyctl

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/apikeyauth/apikey/workos"
)

// The exit statuses, the same for every command.
const (
	exitOK        = 0 // done; the key is valid; the audit flagged nothing
	exitNo        = 1 // the key is invalid, unknown or already expired; the audit flagged keys
	exitUndecided = 2 // no answer: outage, misconfiguration, usage error, timeout, interrupt, half-done rotation
)

// defaultTimeout bounds a command's calls to its backend, prompts excluded.
const defaultTimeout = 2 * time.Minute

const exitCodesHelp = `Exit status:
  0  done; the key is valid; the audit flagged nothing
  1  the key is invalid, unknown or already expired; the audit flagged keys
  2  no answer: WorkOS or the store unreachable, rate limiting, the secret
     key refused, an organization WorkOS does not know, a wrong base URL,
     a usage error, --timeout reached, interrupted, or a rotation left
     half done
`

// connectionHelp describes the flags and variables every command shares.
func (a *app) connectionHelp() string {
	var b strings.Builder
	b.WriteString(`Connection (every command):
  WORKOS_API_KEY       the WorkOS secret key (sk_...); --api-key-file overrides it
  WORKOS_BASE_URL      the API's base URL; --base-url overrides it
  --timeout D          give up after D, prompts excluded (default 2m)
`)
	if len(a.stores) == 0 {
		b.WriteString("  --store DSN          keys in your own database: only in the apikeys built\n" +
			"                       from the sqlstore module (cd sqlstore && go install ./cmd/apikeys)\n")
		return b.String()
	}
	b.WriteString("  --store DSN          keys in your own database instead of WorkOS (default $" + storeEnv + "):\n")
	for _, s := range a.stores {
		b.WriteString("    " + s.Usage + "\n")
	}
	b.WriteString("                       With --store, --org names the keys' owner ID in the store;\n" +
		"                       e.g. apikeys list --store sqlite:apikeys.db --org acme\n")
	return b.String()
}

// Option configures Run and Main.
type Option func(*app)

// WithStore lets --store name s. Default: none, and --store is refused
// with a line saying which build has it.
func WithStore(s Store) Option { return func(a *app) { a.stores = append(a.stores, s) } }

// WithClock sets the clock of expiry times and the audit. Default:
// time.Now.
func WithClock(now func() time.Time) Option { return func(a *app) { a.now = now } }

// Main runs the command line of the process and exits with its status;
// Ctrl-C and SIGTERM stop it cleanly.
func Main(opts ...Option) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv, opts...)
	stop()
	os.Exit(code)
}

// app is one run of the command: its streams, environment and the seams
// tests use.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	env            func(string) string
	now            func() time.Time
	// clientOptions are appended to the WorkOS client's, for tests.
	clientOptions []workos.Option
	// stores are what --store can name.
	stores []Store
	// source names what answers, in messages: WorkOS or the store.
	source string
	// secrets are key values this run has seen: they are cut out of
	// every error it prints, whatever produced the error.
	secrets []string
}

// command is a subcommand: its name, a one-line summary for the overview,
// and its help text (synopsis, description, examples).
type command struct {
	name, summary, help string
	run                 func(ctx context.Context, a *app, c *command, args []string) int
}

var commands = []*command{
	validateCommand, listCommand, auditCommand, createCommand,
	rotateCommand, expireCommand, deleteCommand, revokeCommand, setCommand,
}

// Run runs the command line args (without the program name) with these
// streams and environment, and returns the exit status. Interrupting ctx
// stops it cleanly.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, env func(string) string, opts ...Option) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, env: env, now: time.Now, source: "WorkOS"}
	for _, opt := range opts {
		opt(a)
	}
	return a.run(ctx, args)
}

func (a *app) run(ctx context.Context, args []string) int {
	name, rest, found := splitCommand(args)
	switch {
	case !found && slices.ContainsFunc(args, isHelpFlag):
		a.overview(a.stdout)
		return exitOK
	case !found:
		names := make([]string, len(commands))
		for i, c := range commands {
			names[i] = c.name
		}
		fmt.Fprintf(a.stderr, "apikeys: a command is needed (%s); run 'apikeys --help'\n", strings.Join(names, ", "))
		return exitUndecided
	case name == "help":
		if len(rest) > 0 {
			if c := lookup(rest[0]); c != nil {
				return c.run(ctx, a, c, []string{"--help"})
			}
		}
		a.overview(a.stdout)
		return exitOK
	}
	c := lookup(name)
	if c == nil {
		fmt.Fprintf(a.stderr, "apikeys: unknown command %s; run 'apikeys --help'\n", quoteName("", name))
		return exitUndecided
	}
	return c.run(ctx, a, c, rest)
}

// splitCommand finds the command in args, which flags may precede
// ("apikeys --store sqlite:keys.db list"), and returns its name and the
// other arguments in their order, those before it first. The command is
// the first word that is not a flag and is a command's name, or that does
// not follow a flag given without "=", whose value it would be. found is
// false when args hold no such word.
func splitCommand(args []string) (name string, rest []string, found bool) {
	for i, arg := range args {
		if arg == "--" {
			break
		}
		if isFlag(arg) {
			continue
		}
		valueOfFlag := i > 0 && isFlag(args[i-1]) && !strings.Contains(args[i-1], "=")
		if arg == "help" || lookup(arg) != nil || !valueOfFlag {
			return arg, append(slices.Clip(args[:i]), args[i+1:]...), true
		}
	}
	return "", nil, false
}

func isFlag(arg string) bool { return len(arg) > 1 && arg[0] == '-' }

func isHelpFlag(arg string) bool { return arg == "-h" || arg == "-help" || arg == "--help" }

func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

func (a *app) overview(w io.Writer) {
	var b strings.Builder
	if len(a.stores) == 0 {
		b.WriteString("apikeys runs the life of an API key held by WorkOS.\n\nUsage:")
	} else {
		b.WriteString("apikeys runs the life of an API key held by WorkOS, or in your own\ndatabase with --store.\n\nUsage:")
	}
	b.WriteString("\n  apikeys COMMAND [flags]\n  apikeys [flags] COMMAND [flags]   (flags go before or after the command)\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-9s %s\n", c.name, c.summary)
	}
	b.WriteString("\nRun 'apikeys COMMAND --help' for a command's flags and examples.\n")
	b.WriteString("Key values are read from stdin or a hidden prompt, never from the command line.\n\n")
	b.WriteString(a.connectionHelp() + "\n" + exitCodesHelp)
	fmt.Fprint(w, b.String())
}

// connection holds the flags every command has.
type connection struct {
	baseURL, apiKeyFile, store string
	timeout                    time.Duration
}

// flags returns c's flag set, with the connection flags on it.
func (a *app) flags(c *command) (*flag.FlagSet, *connection) {
	fs := flag.NewFlagSet("apikeys "+c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported on one line by parse
	conn := &connection{timeout: defaultTimeout}
	fs.StringVar(&conn.baseURL, "base-url", "", "the WorkOS API's base `URL` (default $WORKOS_BASE_URL, else https://api.workos.com)")
	fs.StringVar(&conn.apiKeyFile, "api-key-file", "", "read the WorkOS secret key from `FILE` instead of $WORKOS_API_KEY")
	storeUsage := "keys in the database `DSN` names instead of WorkOS (default $" + storeEnv + ")"
	if len(a.stores) == 0 {
		storeUsage = "keys in the database `DSN` names: only in the apikeys built from the sqlstore module"
	}
	fs.StringVar(&conn.store, "store", "", storeUsage)
	fs.Var(days{&conn.timeout}, "timeout", "give up after `D`, prompts excluded")
	return fs, conn
}

// orgUsage is the help of --org: a WorkOS organization, or with --store
// the owner ID the store lists keys by.
func (a *app) orgUsage(workos string) string {
	if len(a.stores) == 0 {
		return workos
	}
	return workos + "; with --store, the keys' owner ID"
}

// owner names what --org named, in messages: "in organization ORG", or
// "of owner ORG" in a store.
func (a *app) owner(org string) string {
	if a.source == "WorkOS" {
		return "in organization " + clean(org)
	}
	return "of owner " + clean(org)
}

// parse parses args with fs, accepting flags after positional arguments
// too ("expire ID --in 24h"), and returns the positional arguments. done
// is true when the command must stop with code: after --help (0) or a
// usage error (2), both already reported.
//
// It parses by itself rather than with fs.Parse, whose errors quote the
// value given: a key pasted as a flag's value would be printed back. Its
// errors name the flag, never its value, and name an unknown flag only
// when it reads as a flag name. Every positional argument is an ID, as are
// --org and --id: one shaped like a key is refused before anything is
// sent (see looksLikeKey), and so is such a --base-url, --name or
// --permission.
func (a *app) parse(c *command, fs *flag.FlagSet, conn *connection, args []string, positional int) (pos []string, code int, done bool) {
	for len(args) > 0 {
		arg := args[0]
		args = args[1:]
		if arg == "--" {
			pos = append(pos, args...)
			break
		}
		if len(arg) < 2 || arg[0] != '-' {
			pos = append(pos, arg)
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimPrefix(arg[1:], "-"), "=")
		if name == "h" || name == "help" {
			a.help(c, fs)
			return nil, exitOK, true
		}
		f := fs.Lookup(name)
		if f == nil {
			return nil, a.usage(c, "unknown flag "+quoteName("--", name)), true
		}
		isBool := false
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok {
			isBool = b.IsBoolFlag()
		}
		switch {
		case isBool && !hasValue:
			value = "true"
		case !hasValue && len(args) == 0:
			return nil, a.usage(c, "--"+name+" needs a value"), true
		case !hasValue:
			value, args = args[0], args[1:]
		}
		if err := fs.Set(name, value); err != nil {
			msg := "--" + name + ": " + err.Error()
			if isBool {
				msg = "--" + name + " takes no value (or =true, =false)"
			} else if value != "" && strings.Contains(msg, value) {
				msg = "--" + name + ": invalid value"
			}
			return nil, a.usage(c, msg), true
		}
	}
	if len(pos) != positional {
		want := "no arguments"
		if positional == 1 {
			want = "one argument"
		}
		msg := fmt.Sprintf("takes %s, got %d", want, len(pos))
		if slices.ContainsFunc(pos, a.looksLikeKey) {
			msg += "; keys are read from stdin, never from the command line"
		}
		return nil, a.usage(c, msg), true
	}
	for _, id := range pos {
		if a.looksLikeKey(id) {
			a.noteSecret(id)
			return nil, a.usage(c, "the ID given looks like an API key, not a key's ID; it was not sent anywhere "+
				"(to find a key's ID from its value, pipe the key into 'apikeys validate')"), true
		}
	}
	// --base-url too: it would be printed back if it does not parse; and
	// --name and --permission, which are sent, stored and printed back.
	for _, name := range []string{"org", "id", "base-url", "name", "permission"} {
		if f := fs.Lookup(name); f != nil && a.looksLikeKey(f.Value.String()) {
			a.noteSecret(f.Value.String())
			return nil, a.usage(c, "--"+name+": the value given looks like an API key; it was not sent anywhere"), true
		}
	}
	if conn.timeout <= 0 {
		return nil, a.usage(c, "--timeout must be positive"), true
	}
	return pos, 0, false
}

// quoteName returns prefix+name quoted, when name reads as a command or
// flag name (lowercase letters and dashes, at most 24 bytes), else
// "given": anything else may be a key pasted in the wrong place, which
// must not be printed back.
func quoteName(prefix, name string) string {
	if name == "" || len(name) > 24 || strings.Trim(name, "abcdefghijklmnopqrstuvwxyz-") != "" {
		return "given"
	}
	return strconv.Quote(prefix + name)
}

func (a *app) help(c *command, fs *flag.FlagSet) {
	var b strings.Builder
	b.WriteString(c.help + "\nFlags:\n")
	fs.SetOutput(&b)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	b.WriteString("\n" + a.connectionHelp() + "\n" + exitCodesHelp)
	fmt.Fprint(a.stdout, b.String())
}

// usage reports a usage error on one line and returns exitUndecided.
func (a *app) usage(c *command, msg string) int {
	fmt.Fprintf(a.stderr, "apikeys %s: %s (see 'apikeys %s --help')\n", c.name, a.redact(msg), c.name)
	return exitUndecided
}
