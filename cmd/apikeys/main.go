// Command apikeys runs the life of an API key from a terminal, a runbook or
// a cron job: validate, list, audit, create, rotate, expire and delete (or
// revoke, the same) keys held by WorkOS. Flags go before or after the
// command.
//
//	go install github.com/apikeyauth/apikey/cmd/apikeys@latest
//	apikeys --help
//
// It reads WORKOS_API_KEY and WORKOS_BASE_URL from the environment. Key
// values are read from stdin or a hidden prompt, never from the command
// line, and are printed only by create and rotate, once, on stdout.
//
// This build knows only WorkOS, so that installing it pulls in no database
// driver. The same command with --store sqlite:PATH or --store
// postgres://… for keys kept by the sqlstore module is built from that
// module: cd sqlstore && go install ./cmd/apikeys.
//
// Exit status: 0 done (the key is valid, nothing flagged); 1 the answer is
// no (the key is invalid, unknown or already expired; the audit flagged
// keys); 2 no answer (WorkOS unreachable or refusing the secret key, an
// organization WorkOS does not know, a 404 from a wrong base URL, a usage
// error, a timeout, an interrupt, or a rotation left half done).
package main

import "github.com/apikeyauth/apikey/internal/keyctl"

func main() { keyctl.Main() }
