// Package workos validates and manages API keys issued by WorkOS, over
// WorkOS's documented HTTP API, with the standard library only.
//
// A Client is an apikey.Validator: put it behind apikey.New, which caches
// what it answers. It also deletes, lists, creates, expires and rotates keys,
// and it tells a connected cache (SetInvalidator) about
// every key it deletes or expires, so that revoking a key through the client
// takes effect at once in this process. NewWebhookHandler does the same for
// revocations made elsewhere, from WorkOS's signed api_key.revoked and
// api_key.updated events.
//
//	client, err := workos.New(os.Getenv("WORKOS_API_KEY"))
//	m, err := apikey.New(client)
//	client.SetInvalidator(m.Cache())
//	hooks, err := workos.NewWebhookHandler(os.Getenv("WORKOS_WEBHOOK_SECRET"), m.Cache())
//
// Validation is on the request path, so it is tight: a 2 s budget
// (WithValidationBudget) with at most one quick retry, and every failure mapped to the apikey outcome it
// means (invalid key, misconfiguration, or unavailable). Management calls
// retry with exponential backoff, honour Retry-After, and send one
// Idempotency-Key across the retries of a POST.
//
// No key value, created or validated, and never the WorkOS secret key, is
// put in an error, a log line or a response by this package; a Client or
// WebhookHandler prints and logs without its secret, even as a copy.
//
// Tests of code that uses the package can run against
// package workostest, a stand-in for the WorkOS API that can be told to
// fail, and sign webhook deliveries with Sign.
package workos
