package apikey

import (
	"net/http"
	"slices"
)

// RequirePermission returns middleware that lets a request through only if
// the key in its context grants every one of perms (see Key.HasPermission);
// otherwise it answers 403 with an insufficient_scope challenge naming the
// missing permissions. A request with no key in its context gets 401: put
// the guard behind the authentication middleware. The guard answers with
// the realm and error handler of the Middleware that authenticated the
// request, so it is written the same way whatever the middleware's options.
//
// The guard runs on every request, on the key from the cache: a cache
// stores identity, never an authorization decision.
//
// A guard that requires nothing would let every key through, so
// RequirePermission panics when perms is empty or holds an empty string: a
// mistake in the program, caught when the route is built, as chi does with
// a bad route.
func RequirePermission(perms ...string) func(http.Handler) http.Handler {
	return requirePermission("RequirePermission", true, perms)
}

// RequireAnyPermission is like RequirePermission but lets the request
// through if the key grants at least one of perms. It too panics when perms
// is empty or holds an empty string.
func RequireAnyPermission(perms ...string) func(http.Handler) http.Handler {
	return requirePermission("RequireAnyPermission", false, perms)
}

func requirePermission(name string, all bool, perms []string) func(http.Handler) http.Handler {
	if len(perms) == 0 || slices.Contains(perms, "") {
		panic("apikey: " + name + " needs at least one permission, and no empty one")
	}
	perms = slices.Clone(perms)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			key, ok := FromContext(r.Context())
			if !ok {
				responderFrom(r.Context()).refuse(w, r, nil, ErrMissingKey)
				return
			}
			if missing := missingPermissions(key, all, perms); missing != nil {
				responderFrom(r.Context()).refuse(w, r, key, &PermissionError{Missing: missing})
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// missingPermissions returns nil when key satisfies the guard, else the
// permissions to name in the challenge: a new slice, since the error goes
// to the error handler, which may keep or change it.
func missingPermissions(key *Key, all bool, perms []string) []string {
	var missing []string
	for _, p := range perms {
		granted := key.HasPermission(p)
		if !all && granted {
			return nil
		}
		if all && !granted {
			missing = append(missing, p)
		}
	}
	if !all {
		return slices.Clone(perms)
	}
	return missing
}
