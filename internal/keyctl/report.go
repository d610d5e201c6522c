package keyctl

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/apikeyauth/apikey"
	"github.com/apikeyauth/apikey/workos"
)

// errTimedOut is the cause of a command's context when --timeout ends it.
var errTimedOut = errors.New("--timeout reached")

// withTimeout bounds the calls of a command, prompts excluded.
func withTimeout(ctx context.Context, conn *connection) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(ctx, conn.timeout, errTimedOut)
}

// fail reports err on one line of stderr and returns the exit status it
// means (see explain).
func (a *app) fail(ctx context.Context, c *command, err error) int {
	msg, code := a.explain(ctx, err)
	a.errorf(c, "%s", msg)
	return code
}

// explain turns err into a message and an exit status. ctx is the
// command's context (see withTimeout): once it has ended, the message says
// why (interrupted, or --timeout) rather than what the call in flight made
// of it.
func (a *app) explain(ctx context.Context, err error) (string, int) {
	switch {
	case ctx.Err() != nil && errors.Is(context.Cause(ctx), errTimedOut):
		return "no answer from " + a.source + " within --timeout", exitUndecided
	case ctx.Err() != nil:
		return "interrupted", exitUndecided
	case errors.Is(err, apikey.ErrInvalidKey), errors.Is(err, ErrNotFound), errors.Is(err, ErrAlreadyExpired):
		return err.Error(), exitNo
	case errors.Is(err, workos.ErrRouteNotFound):
		return err.Error() + " (check --base-url or WORKOS_BASE_URL: WorkOS's API is " + workos.DefaultBaseURL + ", with no path)", exitUndecided
	case errors.Is(err, apikey.ErrMisconfigured) && a.source != "WorkOS":
		return err.Error() + " (check --store and the store's settings)", exitUndecided
	case errors.Is(err, apikey.ErrMisconfigured):
		return err.Error() + " (check WORKOS_API_KEY or --api-key-file, and WORKOS_BASE_URL)", exitUndecided
	}
	return err.Error(), exitUndecided
}

// errorf prints one line on stderr, prefixed with the command, without any
// key value this run has seen and without control characters.
func (a *app) errorf(c *command, format string, args ...any) {
	fmt.Fprintf(a.stderr, "apikeys %s: %s\n", c.name, clean(a.redact(fmt.Sprintf(format, args...))))
}

// noteSecret records a key value this run handles, so that no message
// can carry it.
func (a *app) noteSecret(value string) {
	if value != "" {
		a.secrets = append(a.secrets, value)
	}
}

func (a *app) redact(s string) string {
	for _, v := range a.secrets {
		s = strings.ReplaceAll(s, v, "[redacted]")
	}
	return s
}

// clean makes text that came from the backend or the command line safe to print
// on a terminal and in a table: control characters (escape sequences,
// tabs, newlines) become spaces.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// when formats a timestamp for people: UTC, to the second; zero as never.
func when(t time.Time, zero string) string {
	if t.IsZero() {
		return zero
	}
	return t.UTC().Format(time.RFC3339)
}

// ago formats a duration in days, hours or minutes, for audit reasons.
func ago(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	case d >= time.Hour:
		return fmt.Sprintf("%dh", d/time.Hour)
	default:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
}
