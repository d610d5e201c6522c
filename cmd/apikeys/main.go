// Command apikeys runs the life of an API key from a terminal, a runbook or
// a cron job: validate, list, audit, create, rotate, expire and delete keys
// held by WorkOS.
//
//	go install github.com/apikeyauth/apikey/cmd/apikeys@latest
//	apikeys --help
//
// It reads WORKOS_API_KEY and WORKOS_BASE_URL from the environment. Key
// values are read from stdin or a hidden prompt, never from the command
// line, and are printed only by create and rotate, once, on stdout.
//
// Exit status: 0 done (the key is valid, nothing flagged); 1 the answer is
// no (the key is invalid, unknown or already expired; the audit flagged
// keys); 2 no answer (WorkOS unreachable or refusing the secret key, a
// usage error, a timeout, an interrupt, or a rotation left half done).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}
