// Package apikey puts API-key authentication in front of net/http handlers.
//
// A [Middleware] extracts the key from each request (by default from
// "Authorization: Bearer <key>"), validates it through a [Validator] behind
// a revocation-aware [Cache], and puts the validated [Key] in the request
// context, where handlers read it with [FromContext] and guards such as
// [RequirePermission] check its permissions.
//
// # Usage
//
//	keys, err := apikey.NewStatic(map[string]apikey.Key{ /* … */ })
//	auth, err := apikey.New(keys)
//	r := chi.NewRouter()
//	r.Use(auth.Handler)
//	r.With(apikey.RequirePermission("posts:write")).Post("/posts", createPost)
//
// On an http.ServeMux, [Middleware.Require] authenticates and checks
// permissions in one wrapper; [Middleware.Optional] lets requests without a
// key through anonymously.
//
// The validator is pluggable: the workos package validates against WorkOS's
// API Keys API, [NewStatic] against a fixed set of keys, and any
// [ValidatorFunc] against a store of your own.
//
// # Outcomes
//
// Every failure has its own answer, and every answer fails closed:
//
//	no key                       401  WWW-Authenticate: Bearer realm="api"
//	malformed key                400  error="invalid_request"
//	unknown, revoked, expired    401  error="invalid_token"
//	lacks a permission           403  error="insufficient_scope", scope="…"
//	over a rate limit or quota   429  Retry-After, RateLimit, RateLimit-Policy
//	over a rate limit or quota   429  Retry-After, RateLimit, RateLimit-Policy
//	validator unavailable        503  Retry-After
//	validator misconfigured      500
//
// Bodies are small JSON objects with error and error_description, sent with
// Cache-Control: no-store. [WithErrorHandler] replaces them, for the
// middleware and the guards behind it; [WriteError] writes them, for an
// error handler that only wants to log, and [SetErrorHeaders] keeps their
// headers (the challenge, Retry-After) under a body of the handler's own.
// No key value is ever written to a response, an error or a log.
//
// # Caching
//
// [New] puts a [Cache] in front of the validator unless told otherwise. It
// keeps valid keys for 30 s by default (never past their expiry) and invalid
// ones for 5 s, by the SHA-256 of the key; it makes one validator call per
// key however many requests wait, and it forgets a key the moment it is told
// to ([Cache.Invalidate]), even if a validation of that key is in flight.
//
// # Observability
//
// A validator that panics, reports itself misconfigured or is unavailable is
// logged to slog.Default(), rate-limited, unless [WithLogger] says otherwise.
// [Hooks], given with [WithHooks], see each request's [RequestEvent], each
// validator call's [ValidationEvent] and each [Invalidation], at no cost when
// unset. On them sit [AuditLog] (a log line per request), [LastUsed] (when
// each key was last used, cache hits included), and, in modules of their own,
// the promapikey and otelapikey adapters.
package apikey
