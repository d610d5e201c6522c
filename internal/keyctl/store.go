package keyctl

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Store is a kind of key store that --store can name, registered with
// WithStore by the build that links its driver: the command in the root
// module knows only WorkOS, so that installing it pulls in no database
// driver.
type Store struct {
	// Name says what answers, in messages: "SQLite", "PostgreSQL".
	Name string
	// Prefixes are how the --store values it takes begin: "sqlite:".
	Prefixes []string
	// Usage is the line of the connection help that shows its --store
	// value and what it means.
	Usage string
	// Open connects to the store that req.DSN names. Errors are reported
	// as they are, on one line, with exit status 2.
	Open func(ctx context.Context, req OpenRequest) (Backend, error)
}

// OpenRequest is what Store.Open gets.
type OpenRequest struct {
	// DSN is the --store value, prefix included.
	DSN string
	// Env reads the environment.
	Env func(string) string
	// Creates is true for the commands that make keys: a store that does
	// not exist yet may be made for them, and only for them.
	Creates bool
}

// storeEnv is the environment variable --store defaults to.
const storeEnv = "APIKEYS_STORE"

// errNoStores is the answer of a build without stores to --store.
var errNoStores = errors.New("--store needs the apikeys command built with the SQL store: from a clone of github.com/apikeyauth/apikey, run 'cd sqlstore && go install ./cmd/apikeys'")

// storeFor returns the registered store that takes dsn.
func (a *app) storeFor(dsn string) (Store, error) {
	if len(a.stores) == 0 {
		return Store{}, errNoStores
	}
	var known []string
	for _, s := range a.stores {
		for _, p := range s.Prefixes {
			if strings.HasPrefix(dsn, p) {
				return s, nil
			}
			known = append(known, p)
		}
	}
	return Store{}, fmt.Errorf("--store must begin with %s", strings.Join(known, ", "))
}

// dsnPassword returns the password a URL-shaped DSN carries, so that no
// message prints it.
func dsnPassword(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return ""
	}
	p, _ := u.User.Password()
	return p
}
