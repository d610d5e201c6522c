package apikey

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A guard's report carries the digest of the key that authenticated the
// request, or none: never that of a value a handler between the
// middleware and the guard put where the extractor reads (an upstream's
// credential, another client's key), which would attribute the refusal
// to another value in audit logs and traces.
func TestGuardDigestIsTheKeys(t *testing.T) {
	guard := RequirePermission("posts:write")
	setHeader := func(v string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r = r.Clone(r.Context())
			r.Header.Set("Authorization", v)
			guard(okHandler).ServeHTTP(w, r)
		})
	}
	var calls atomic.Int64
	panicsTheSecondTime := WithExtractor(func(r *http.Request) (string, error) {
		if calls.Add(1)%2 == 0 {
			panic("the extractor's bug")
		}
		return FromAuthorizationBearer(r)
	})
	cases := []struct {
		name   string
		opts   []Option
		req    func() *http.Request
		next   http.Handler
		digest string // the value whose digest the guard's event carries; "" for none
	}{
		{name: "untouched", next: guard(okHandler), digest: readerValue},
		{name: "untouched, custom extractor", opts: []Option{WithExtractor(FromAuthorizationBearer)},
			next: guard(okHandler), digest: readerValue},
		{name: "an upstream's credential set in its place", next: setHeader("Bearer upstream_0123456789")},
		{name: "another valid key set in its place", next: setHeader("Bearer " + writerValue)},
		{name: "another key, custom extractor", opts: []Option{WithExtractor(OneOf(FromHeader("X-API-Key"), FromAuthorizationBearer))},
			next: setHeader("Bearer " + writerValue)},
		{name: "another key in the query", opts: []Option{WithExtractor(FromQuery("api_key"))},
			req: func() *http.Request { return httptest.NewRequest(http.MethodGet, "/posts?api_key="+readerValue, nil) },
			next: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				r = r.Clone(r.Context())
				r.URL.RawQuery = "api_key=" + writerValue
				guard(okHandler).ServeHTTP(w, r)
			})},
		{name: "untouched, without a cache: nothing tells", opts: []Option{WithoutCache()}, next: guard(okHandler)},
		{name: "another key, without a cache", opts: []Option{WithoutCache()}, next: setHeader("Bearer " + writerValue)},
		{name: "an extractor that panics when read again", opts: []Option{panicsTheSecondTime, WithLogger(nil)},
			next: guard(okHandler)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			calls.Store(0)
			var rec eventRecorder
			m, err := New(testStatic(), append(tc.opts, WithHooks(rec.hooks()))...)
			require.NoError(t, err)
			req := func() *http.Request { return keyRequest(readerValue) }
			if tc.req != nil {
				req = tc.req
			}
			w := httptest.NewRecorder()
			m.Handler(tc.next).ServeHTTP(w, req())
			assert.Equal(t, http.StatusForbidden, w.Code)
			requests, _ := rec.take()
			require.Len(t, requests, 1)
			assert.Equal(t, OutcomeForbidden, requests[0].Outcome)
			assert.Equal(t, readerKey.ID, requests[0].Key.ID)
			if tc.digest == "" {
				assert.True(t, requests[0].Digest.IsZero(), "no digest, not %s", requests[0].Digest.Fingerprint())
			} else {
				assert.Equal(t, DigestOf(tc.digest).Fingerprint(), requests[0].Digest.Fingerprint())
			}
		})
	}
}

// A guard on a goroutine that the handler does not wait for (which
// net/http forbids, since it writes the response) races the middleware's
// read of the context's responder after next returns: under -race every
// access is atomic, and the request is reported once or, when the guard
// loses, twice, never not at all.
func TestGuardOnALeftGoroutineRaces(t *testing.T) {
	var rec eventRecorder
	m, err := New(testStatic(), WithHooks(rec.hooks()), WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
		SetErrorHeaders(w, r, err) // reads the context's responder, as WriteError does
	}))
	require.NoError(t, err)
	var wg sync.WaitGroup
	h := m.Handler(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		wg.Go(func() { RequirePermission("posts:write")(okHandler).ServeHTTP(&discard{h: http.Header{}}, r) })
	}))
	const n = 200
	for range n {
		h.ServeHTTP(&discard{h: http.Header{}}, keyRequest(readerValue))
	}
	wg.Wait()
	requests, _ := rec.take()
	forbidden := 0
	for _, e := range requests {
		if e.Outcome == OutcomeForbidden {
			forbidden++
		}
	}
	assert.Equal(t, n, forbidden, "every guard reported its refusal")
	assert.GreaterOrEqual(t, len(requests), n)
	assert.LessOrEqual(t, len(requests), 2*n)
}

// Require reports each request once, whether it refuses a key for its
// permissions (before any charge) or lets it through, limited or not.
func TestRequireReportsOnce(t *testing.T) {
	v := withLimitedKey(Key{ID: "key_limited", Permissions: []string{"posts:read"}, Limits: []Limit{{Rate: 1, Period: time.Hour}}})
	var rec eventRecorder
	m, err := New(v, WithHooks(rec.hooks()))
	require.NoError(t, err)
	steps := []struct {
		value   string
		perm    string
		status  int
		outcome Outcome
	}{
		{readerValue, "posts:write", http.StatusForbidden, OutcomeForbidden},
		{writerValue, "posts:write", http.StatusOK, OutcomeAuthenticated},
		{limitedValue, "posts:write", http.StatusForbidden, OutcomeForbidden},
		// The refusal spent nothing: the one request an hour is still there.
		{limitedValue, "posts:read", http.StatusOK, OutcomeAuthenticated},
		{limitedValue, "posts:read", http.StatusTooManyRequests, OutcomeRateLimited},
	}
	for i, s := range steps {
		w := httptest.NewRecorder()
		m.Require(s.perm)(okHandler).ServeHTTP(w, keyRequest(s.value))
		assert.Equal(t, s.status, w.Code, "step %d", i)
		requests, _ := rec.take()
		if assert.Len(t, requests, 1, "step %d", i) {
			assert.Equal(t, s.outcome, requests[0].Outcome, "step %d", i)
			assert.Equal(t, DigestOf(s.value), requests[0].Digest, "step %d", i)
		}
	}
}
