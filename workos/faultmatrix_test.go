package workos

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apikeyauth/apikey"
	"github.com/apikeyauth/apikey/workos/workostest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var updateDoc = flag.Bool("update-doc", false, "rewrite the fault matrix in ../docs/reliability.md from TestFaultMatrix")

// What WorkOS's answer means under the validator contract, and so what the
// middleware must answer.
type faultClass int

const (
	classValid         faultClass = iota // the key is valid: 200
	classInvalid                         // WorkOS says the key is not valid ("api_key": null, 400, 422): 401
	classMisconfigured                   // WorkOS rejects our secret key (401, 403): 500
	classUnavailable                     // no usable answer: 503 with Retry-After
)

// An upstreamFault is one row of the matrix: how the fake WorkOS (or the
// network in front of it) behaves once the fault is on.
type upstreamFault struct {
	name   string
	class  faultClass
	fault  workostest.Fault // nil: none
	refuse bool             // refuse connections instead
	// retryAfter is the Retry-After a 503 must carry, in seconds.
	retryAfter string
	// budget is the client's validation budget. Default: the client's.
	budget time.Duration
}

func upstreamFaults() []upstreamFault {
	okBody := `{"api_key":null}`
	return []upstreamFault{
		{name: "none (the key is valid)", class: classValid},
		{name: "none (`api_key: null`: revoked or unknown)", class: classInvalid, fault: workostest.Reply(200, `{"api_key":null}`)},
		{name: "slow beyond the validation budget", class: classUnavailable, fault: workostest.Slow(time.Minute), retryAfter: "1", budget: 300 * time.Millisecond},
		{name: "200, body stalls beyond the validation budget", class: classUnavailable, fault: workostest.SlowBody(200, okBody, time.Minute), retryAfter: "1", budget: 300 * time.Millisecond},
		{name: "500", class: classUnavailable, fault: workostest.Reply(500, `{"message":"Internal Server Error"}`), retryAfter: "1"},
		{name: "502", class: classUnavailable, fault: workostest.Reply(502, `<html>Bad Gateway</html>`), retryAfter: "1"},
		{name: "503 with Retry-After: 30", class: classUnavailable, fault: workostest.Reply(503, ``, "Retry-After", "30"), retryAfter: "30"},
		{name: "504", class: classUnavailable, fault: workostest.Reply(504, ``), retryAfter: "1"},
		{name: "429 with Retry-After: 7", class: classUnavailable, fault: workostest.Reply(429, `{"message":"Too Many Requests","code":"rate_limit_exceeded"}`, "Retry-After", "7"), retryAfter: "7"},
		{name: "429 without Retry-After", class: classUnavailable, fault: workostest.Reply(429, `{"message":"Too Many Requests","code":"rate_limit_exceeded"}`), retryAfter: "1"},
		{name: "401 (secret key rejected)", class: classMisconfigured, fault: workostest.Reply(401, `{"message":"Unauthorized","code":"unauthorized"}`)},
		{name: "403 (secret key rejected)", class: classMisconfigured, fault: workostest.Reply(403, `{"message":"Forbidden"}`)},
		{name: "400 (value refused)", class: classInvalid, fault: workostest.Reply(400, `{"message":"Problems parsing JSON","code":"invalid_request_body"}`)},
		{name: "422 (value refused)", class: classInvalid, fault: workostest.Reply(422, `{"message":"Validation failed."}`)},
		{name: "200, malformed JSON", class: classUnavailable, fault: workostest.Reply(200, `{"api_key": {"id": "api_key_0001"`), retryAfter: "1"},
		{name: "200, truncated body", class: classUnavailable, fault: workostest.Truncated(200, okBody), retryAfter: "1"},
		{name: "200, oversized body", class: classUnavailable, fault: workostest.Oversized(validationBodyLimit), retryAfter: "1"},
		{name: "200, `api_key` without an id", class: classUnavailable, fault: workostest.Reply(200, `{"api_key":{"object":"api_key","name":"Production"}}`), retryAfter: "1"},
		{name: "connection reset", class: classUnavailable, fault: workostest.Reset(), retryAfter: "1"},
		{name: "connection refused", class: classUnavailable, refuse: true, retryAfter: "1"},
	}
}

// A cacheState is one column of the matrix: what the cache holds for the
// key when the request arrives.
type cacheState struct {
	name  string
	fresh bool // the key was validated as valid, and its entry is within its TTL
	warm  bool // the key was validated as valid, and its entry is past its TTL
	stale bool // WithStaleIfError on
	neg   bool // the key was validated as invalid, and is in the negative cache
}

var cacheStates = []cacheState{
	{name: "cold"},
	{name: "warm, within TTL", fresh: true},
	{name: "warm, past TTL", warm: true},
	{name: "warm, past TTL, stale-if-error", warm: true, stale: true},
	{name: "negative-cached", neg: true},
}

// cell is what one request got.
type cell struct {
	status     int
	retryAfter string
	calls      int64 // validation attempts that reached for WorkOS
	body       string
}

func (c cell) String() string {
	s := fmt.Sprint(c.status)
	if c.retryAfter != "" {
		s += ", Retry-After " + c.retryAfter
	}
	return fmt.Sprintf("%s (%d %s)", s, c.calls, map[bool]string{true: "call", false: "calls"}[c.calls == 1])
}

// TestFaultMatrix drives a real HTTP request through apikey.New(client)
// while the fake WorkOS suffers each upstream fault, in each cache state,
// and checks each answer against the validator contract:
//
//   - a 2xx only for a key WorkOS said was valid: now, within the cache's
//     TTL, or before, when stale-if-error serves it through an outage;
//   - a 401 only for a key WorkOS said was not valid (null, 400, 422), now
//     or within the negative cache's TTL: never for an upstream fault;
//   - a 500 when WorkOS rejects our secret key, stale or not: a deployment
//     problem must be seen, not hidden behind stale entries;
//   - otherwise 503 with WorkOS's Retry-After, or a second.
//
// The table it prints is the one in docs/reliability.md; run
// it with -update-doc to rewrite that table after a change.
func TestFaultMatrix(t *testing.T) {
	const value = "sk_live_faultmatrix_0123456789abcdef"
	faults := upstreamFaults()
	got := make([][]cell, len(faults))
	bad := 0
	for i, f := range faults {
		got[i] = make([]cell, len(cacheStates))
		for j, st := range cacheStates {
			t.Run(f.name+"/"+st.name, func(t *testing.T) {
				c := runCell(t, value, f, st)
				got[i][j] = c
				want, wantCalls := expectCell(f, st)
				assert.Equal(t, want, c.status, "body %s", c.body)
				if c.status/100 == 2 && f.class != classValid && !st.fresh && !(st.stale && f.class == classUnavailable) {
					t.Errorf("2xx for a key not validated as valid")
				}
				if c.status == http.StatusUnauthorized && f.class != classInvalid && !st.neg {
					t.Errorf("401 for an upstream fault")
				}
				if c.status == http.StatusServiceUnavailable {
					assert.Equal(t, f.retryAfter, c.retryAfter, "Retry-After")
				}
				assert.NotContains(t, c.body, value)
				if wantCalls >= 0 {
					assert.EqualValues(t, wantCalls, c.calls, "validation attempts")
				} else {
					assert.Positive(t, c.calls, "validation attempts")
				}
				if t.Failed() {
					bad++
				}
			})
		}
	}
	table := faultMatrixTable(faults, got)
	t.Logf("fault matrix (%d bad cells):\n%s", bad, table)
	assert.Zero(t, bad, "bad cells")
	checkDocTable(t, "../docs/reliability.md", table)
}

// expectCell is the contract's answer for a cell, and how many validation
// attempts it takes (-1: at least one, as the retry policy decides).
func expectCell(f upstreamFault, st cacheState) (status int, calls int) {
	switch {
	case st.fresh:
		return http.StatusOK, 0 // served from the cache: WorkOS is not asked
	case st.neg:
		return http.StatusUnauthorized, 0 // WorkOS is not asked again
	case f.class == classValid:
		return http.StatusOK, 1
	case f.class == classInvalid:
		return http.StatusUnauthorized, 1
	case f.class == classMisconfigured:
		return http.StatusInternalServerError, 1
	case st.stale:
		return http.StatusOK, -1
	}
	return http.StatusServiceUnavailable, -1
}

// runCell sets up a fake WorkOS, a client, the middleware and an HTTP
// server in front of it; brings the cache into st; turns the fault on;
// and makes one request.
func runCell(t *testing.T, value string, f upstreamFault, st cacheState) cell {
	srv := workostest.NewServer(t)
	if !st.neg {
		srv.AddKey(value, "Production", "org_1", "posts:read")
	}
	// The dialer refuses connections when told to, as a WorkOS that is
	// unreachable does; the transport counts the attempts, refused or not.
	var refuse atomic.Bool
	closed := workostest.ClosedURL()
	var calls atomic.Int64
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		if refuse.Load() {
			addr = strings.TrimPrefix(closed, "http://")
		}
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}
	t.Cleanup(tr.CloseIdleConnections)
	counting := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.URL.Path == validatePath {
			calls.Add(1)
		}
		return tr.RoundTrip(r)
	})
	copts := []Option{WithHTTPClient(&http.Client{Transport: counting}), WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))}
	if f.budget > 0 {
		copts = append(copts, WithValidationBudget(f.budget))
	}
	client := newClient(t, srv, copts...)

	clock := &fakeClock{t: time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)}
	opts := []apikey.Option{apikey.WithClock(clock.now), apikey.WithCacheTTL(30 * time.Second), apikey.WithNegativeCacheTTL(10 * time.Second)}
	if st.stale {
		opts = append(opts, apikey.WithStaleIfError(time.Hour))
	}
	m, err := apikey.New(client, opts...)
	require.NoError(t, err)
	api := httptest.NewServer(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k, ok := apikey.FromContext(r.Context())
		require.True(t, ok)
		fmt.Fprint(w, k.ID)
	})))
	t.Cleanup(api.Close)
	hc := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(hc.CloseIdleConnections)
	get := func() cell {
		req, err := http.NewRequest(http.MethodGet, api.URL+"/posts", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+value)
		resp, err := hc.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return cell{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), body: b.String()}
	}

	switch {
	case st.fresh:
		require.Equal(t, http.StatusOK, get().status, "warming the cache")
		clock.advance(time.Second)
	case st.warm:
		require.Equal(t, http.StatusOK, get().status, "warming the cache")
		clock.advance(31 * time.Second)
	case st.neg:
		require.Equal(t, http.StatusUnauthorized, get().status, "filling the negative cache")
		clock.advance(time.Second)
	}
	before := calls.Load()
	refuse.Store(f.refuse)
	tr.CloseIdleConnections() // an unreachable WorkOS drops the open ones too
	srv.FailAll(f.fault)
	c := get()
	c.calls = calls.Load() - before
	return c
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// faultMatrixTable renders the results as a markdown table.
func faultMatrixTable(faults []upstreamFault, got [][]cell) string {
	var b strings.Builder
	b.WriteString("| upstream fault |")
	for _, st := range cacheStates {
		b.WriteString(" " + st.name + " |")
	}
	b.WriteString("\n|---|")
	for range cacheStates {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for i, f := range faults {
		b.WriteString("| " + f.name + " |")
		for _, c := range got[i] {
			b.WriteString(" " + c.String() + " |")
		}
		b.WriteString("\n")
	}
	return b.String()
}

const (
	matrixBegin = "<!-- fault-matrix:begin (generated by: go test ./workos -run TestFaultMatrix -update-doc) -->"
	matrixEnd   = "<!-- fault-matrix:end -->"
)

// checkDocTable checks that the file at path holds table between its markers,
// or with -update-doc writes it there.
func checkDocTable(t *testing.T, path, table string) {
	t.Helper()
	doc, err := os.ReadFile(path)
	require.NoError(t, err)
	s := string(doc)
	begin, end := strings.Index(s, matrixBegin), strings.Index(s, matrixEnd)
	require.True(t, begin >= 0 && end > begin, "%s has no fault-matrix markers", path)
	updated := s[:begin+len(matrixBegin)] + "\n" + table + s[end:]
	if *updateDoc {
		if updated != s {
			require.NoError(t, os.WriteFile(path, []byte(updated), 0o644))
		}
		return
	}
	assert.Equal(t, updated, s, "%s: the fault matrix is out of date: go test ./workos -run TestFaultMatrix -update-doc", path)
}
