// Package workostest runs a stand-in for the WorkOS API keys API, for
// tests: an httptest server that speaks the wire format of the endpoints
// the workos package uses (validate, delete, expire, list and create keys),
// checks the shape of every request it receives, and can be told to fail
// the way a real upstream fails: any status with any headers and body,
// slow answers, oversized or truncated bodies, hang-ups and connection
// resets.
//
//	srv := workostest.NewServer(t)
//	srv.AddKey("sk_live_alice", "Alice's key", "org_1", "posts:read")
//	client, err := workos.New(workostest.SecretKey, workos.WithBaseURL(srv.URL))
//	...
//	srv.Fail(workostest.Reply(503, ""))       // the next request gets a 503
//	srv.FailAll(workostest.Reset())           // every request, until FailAll(nil)
//
// It never talks to the real WorkOS, and it is not a complete emulator:
// it knows organizations only through the keys added to it, and it does not
// rate-limit unless told to.
package workostest
