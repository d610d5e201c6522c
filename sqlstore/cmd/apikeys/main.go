// Command apikeys is the apikeys command of the root module with the SQL
// store: besides WorkOS, --store sqlite:PATH or --store postgres://… runs
// validate, list, audit, create, rotate, expire and delete (or revoke) on keys kept by
// the sqlstore package, with the same output and exit statuses. --org then
// names the keys' owner ID; an owner ID that no key has is an error (exit
// status 2), as an organization WorkOS does not know is. Keys in a store also carry rate limits and a
// quota: create takes --limit, --quota and --refill, set changes them, and
// list and validate show them.
//
// Build it from a clone (the module's replace directive points at the
// root module until a release):
//
//	cd sqlstore && go install ./cmd/apikeys
//	apikeys create --store sqlite:apikeys.db --org acme --name ci --permission posts:read
//
// create makes the tables, or brings them up to date, as Store.Migrate
// does; the other commands never change them, and refuse tables that are
// missing or older than the command's. create and rotate issue keys of the
// format the database records (the application's, recorded by its
// Store.Migrate; sk_ in a new database). APIKEYS_KEY_PREFIX sets it
// instead, and a prefix other than the database's is refused.
// APIKEYS_PEPPER_FILE names the file holding the pepper of an HMAC digest,
// which must match the application's.
package main

import (
	"time"

	"github.com/apikeyauth/apikey/internal/keyctl"
)

func main() { keyctl.Main(withStores(time.Now)...) }
