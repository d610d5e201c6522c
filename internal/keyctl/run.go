// Package keyctl is the apikeys command: validate, list, audit, create,
// rotate, expire and delete API keys from a terminal, a runbook or a cron
// job. The keys live in WorkOS, or in a store that --store names when the
// build registers one (see WithStore): the command in the root module
// knows only WorkOS, the one in the sqlstore module adds SQLite and
// PostgreSQL, and both print the same and exit with the same statuses.
package keyctl

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
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
     key refused, a usage error, --timeout reached, interrupted, or a
     rotation left half done
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
	rotateCommand, expireCommand, deleteCommand,
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
	if len(args) == 0 {
		names := make([]string, len(commands))
		for i, c := range commands {
			names[i] = c.name
		}
		fmt.Fprintf(a.stderr, "apikeys: a command is needed (%s); run 'apikeys --help'\n", strings.Join(names, ", "))
		return exitUndecided
	}
	switch name := args[0]; name {
	case "-h", "-help", "--help", "help":
		if len(args) > 1 && name == "help" {
			if c := lookup(args[1]); c != nil {
				return c.run(ctx, a, c, []string{"--help"})
			}
		}
		a.overview(a.stdout)
		return exitOK
	default:
		c := lookup(name)
		if c == nil {
			// Echo only what looks like a mistyped command: a pasted key
			// must not be printed back.
			if len(name) > 16 || strings.Trim(name, "abcdefghijklmnopqrstuvwxyz-") != "" {
				name = "given"
			} else {
				name = strconv.Quote(name)
			}
			fmt.Fprintf(a.stderr, "apikeys: unknown command %s; run 'apikeys --help'\n", name)
			return exitUndecided
		}
		return c.run(ctx, a, c, args[1:])
	}
}

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
	b.WriteString("\n  apikeys COMMAND [flags]\n\nCommands:\n")
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
	fs.DurationVar(&conn.timeout, "timeout", defaultTimeout, "give up after `D`, prompts excluded")
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
func (a *app) parse(c *command, fs *flag.FlagSet, conn *connection, args []string, positional int) (pos []string, code int, done bool) {
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				a.help(c, fs)
				return nil, exitOK, true
			}
			return nil, a.usage(c, err.Error()), true
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	switch {
	case len(pos) != positional:
		want := "no arguments"
		if positional == 1 {
			want = "one argument"
		}
		return nil, a.usage(c, fmt.Sprintf("takes %s, got %d", want, len(pos))), true
	case conn.timeout <= 0:
		return nil, a.usage(c, "--timeout must be positive"), true
	}
	return pos, 0, false
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
