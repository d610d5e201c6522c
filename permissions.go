package apikey

import (
	"net/http"
	"slices"
	"strings"
)

// RequirePermission returns middleware that lets a request through only if
// the key in its context grants every one of perms; otherwise it answers 403
// with an insufficient_scope challenge naming the missing permissions. A
// request with no key in its context gets 401: put the guard after the
// authentication middleware.
//
// A key permission "posts:*" grants every "posts:…" permission and "*"
// grants all; the required permissions themselves are literal. The guard
// runs on every request, on the key from the cache: a cache stores identity,
// never an authorization decision. Responses use the default realm; use
// Middleware.RequirePermission to share a middleware's realm and error
// handler.
func RequirePermission(perms ...string) func(http.Handler) http.Handler {
	return defaultResponder.requirePermission(true, perms)
}

// RequireAnyPermission is like RequirePermission but lets the request through
// if the key grants at least one of perms. With no perms it lets no key
// through.
func RequireAnyPermission(perms ...string) func(http.Handler) http.Handler {
	return defaultResponder.requirePermission(false, perms)
}

func (rs *responder) requirePermission(all bool, perms []string) func(http.Handler) http.Handler {
	perms = append([]string(nil), perms...)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			key, ok := FromContext(r.Context())
			if !ok {
				rs.fail(w, r, ErrMissingKey)
				return
			}
			if missing := missingPermissions(key, all, perms); missing != nil {
				rs.fail(w, r, &PermissionError{Missing: missing})
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// missingPermissions returns nil when key satisfies the guard, else the
// permissions to name in the challenge.
func missingPermissions(key *Key, all bool, perms []string) []string {
	var missing []string
	for _, p := range perms {
		granted := HasPermission(key, p)
		if !all && granted {
			return nil
		}
		if all && !granted {
			missing = append(missing, p)
		}
	}
	if !all {
		if len(perms) == 0 {
			return []string{}
		}
		// A copy: the error goes to the error handler, which may keep or
		// change it, and perms is the guard's own.
		return slices.Clone(perms)
	}
	return missing
}

// HasPermission reports whether key grants perm, by the rules of
// RequirePermission. A nil key grants nothing.
func HasPermission(key *Key, perm string) bool {
	if key == nil {
		return false
	}
	for _, g := range key.Permissions {
		if grants(g, perm) {
			return true
		}
	}
	return false
}

// grants reports whether the granted permission g covers the required p.
func grants(g, p string) bool {
	if g == p || g == "*" {
		return true
	}
	prefix, ok := strings.CutSuffix(g, ":*")
	return ok && len(p) > len(prefix)+1 && p[len(prefix)] == ':' && strings.HasPrefix(p, prefix)
}
