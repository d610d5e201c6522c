package workos

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apikeyauth/apikey"
	"github.com/apikeyauth/apikey/workos/workostest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The tests in this file pin the edges that the other tests leave loose:
// each value sits on one side of a comparison, so that a comparison moved
// by one (> for >=, say) or an operator swapped fails a test. They were
// written against the survivors of a mutation run (see CONTRIBUTING.md).

// An APIError reads the same whichever of its parts are set.
func TestBoundaryAPIErrorText(t *testing.T) {
	tests := []struct {
		err  *APIError
		want string
	}{
		{&APIError{StatusCode: 500}, "workos: HTTP 500"},
		{&APIError{Method: "GET", Path: "/x", StatusCode: 404}, "workos: GET /x: HTTP 404"},
		{&APIError{StatusCode: 422, Code: "invalid", Message: "bad", RequestID: "req_1",
			Errors: []FieldError{{"name", "required"}, {"limit", "range"}}},
			"workos: HTTP 422 invalid: bad; name: required; limit: range (request id req_1)"},
		{&APIError{StatusCode: 429, Message: "slow down"}, "workos: HTTP 429: slow down"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.err.Error())
		})
	}
}

// A secret key or an ID with a space or a control character is refused;
// every other printable byte is allowed.
func TestBoundaryPrintableArguments(t *testing.T) {
	for _, tc := range []struct {
		value string
		ok    bool
	}{
		{"sk_!~", true},
		{"sk x", false},
		{"sk\x1fx", false},
		{"sk\x7fx", false},
		{"sk\x80x", true},
	} {
		t.Run(fmt.Sprintf("%q", tc.value), func(t *testing.T) {
			_, err := New(tc.value)
			assert.Equal(t, tc.ok, err == nil, "New: %v", err)
			err = checkID("key ID", tc.value)
			assert.Equal(t, tc.ok, err == nil, "checkID: %v", err)
		})
	}
	assert.NoError(t, checkID("key ID", strings.Repeat("a", 256)))
	assert.ErrorIs(t, checkID("key ID", strings.Repeat("a", 257)), ErrInvalidArgument)
}

// Text from WorkOS is cut after max bytes, not at max, and loses its
// control characters but not its spaces.
func TestBoundaryClean(t *testing.T) {
	c, err := New(testSecret)
	require.NoError(t, err)
	tests := []struct{ in, want string }{
		{"abcd", "abcd"},
		{"abcde", "abcd…"},
		{"a b\x1f\x7fc", "a bc"},
		{"a\x20\x21", "a !"},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, c.clean(tc.in, 4), "%q", tc.in)
	}
}

// A value is echoed when the text holds it whole, or any 24 bytes of it in
// a row; 16 bytes of a long one are not enough unless the value is that
// short.
func TestBoundaryEchoes(t *testing.T) {
	value := "0123456789abcdefghijklmnopqrstuvwxyzABCD" // 40 bytes
	tests := []struct {
		s, value string
		want     bool
	}{
		{"xx" + value[:16] + "xx", value[:16], true},
		{"xx" + value[:15] + "xx", value[:16], false},
		{value[:24], value, true},
		{value[16:40], value, true},
		{value[10:34], value, true},
		{value[20:36], value, false},
		{value[:23], value[:24], true}, // within 16 bytes from the first window
		{"nothing", value, false},
		{value[24:40], value, true}, // the last window
		{value[:16] + "-" + value[16:24], value[:24], true},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, echoes(tc.s, tc.value), "%q in %q", tc.value, tc.s)
	}
	// Every 24-byte run of a value of any length shows.
	for n := 17; n <= 40; n++ {
		for i := 0; i+24 <= n; i++ {
			require.True(t, echoes(value[i:i+24], value[:n]), "bytes %d to %d of %d", i, i+24, n)
		}
	}
}

// sleepCtx answers a wait of zero or less at once, with the context's
// error.
func TestBoundarySleep(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for range 100 {
		require.ErrorIs(t, sleepCtx(ctx, 0), context.Canceled)
	}
	assert.NoError(t, sleepCtx(context.Background(), 0))
	assert.NoError(t, sleepCtx(context.Background(), -time.Second))
	assert.NoError(t, sleepCtx(context.Background(), time.Nanosecond))
}

// A page limit of 1 and one of 100 are asked for as they are.
func TestBoundaryListLimit(t *testing.T) {
	for _, limit := range []int{1, 100} {
		f := workostest.NewServer(t)
		f.AddKey("sk_boundary_list_00000000001", "k", "org_1")
		for _, err := range newClient(t, f).ListOrganizationKeys(context.Background(), "org_1", &ListOptions{Limit: limit}) {
			require.NoError(t, err)
		}
		reqs := f.Requests()
		require.Len(t, reqs, 1)
		assert.Equal(t, fmt.Sprint(limit), reqs[0].Query.Get("limit"))
	}
}

// A validation answer of exactly the body limit is read; one byte more is
// oversized, and unavailable.
func TestBoundaryValidationBodyLimit(t *testing.T) {
	body := func(n int) string {
		prefix, suffix := `{"api_key":null,"pad":"`, `"}`
		return prefix + strings.Repeat("x", n-len(prefix)-len(suffix)) + suffix
	}
	for _, tc := range []struct {
		n       int
		wantErr error
	}{
		{validationBodyLimit, apikey.ErrInvalidKey},
		{validationBodyLimit + 1, apikey.ErrUnavailable},
	} {
		t.Run(fmt.Sprint(tc.n), func(t *testing.T) {
			f := workostest.NewServer(t)
			f.Fail(workostest.Reply(200, body(tc.n)))
			_, err := newClient(t, f).Validate(context.Background(), "sk_test_value")
			assert.ErrorIs(t, err, tc.wantErr)
		})
	}
}

// An error answer, from status 300 on, is read up to 64 KiB only, even on
// a management call whose successes may be larger.
func TestBoundaryErrorBodyLimit(t *testing.T) {
	for _, status := range []int{300, 400} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			f := workostest.NewServer(t)
			pad := strings.Repeat("x", errorBodyLimit)
			f.Fail(workostest.Reply(status, `{"pad":"`+pad+`","message":"after the limit"}`))
			err := newClient(t, f).DeleteKey(context.Background(), "key_1")
			var ae *APIError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, status, ae.StatusCode)
			assert.Empty(t, ae.Message, "the message lies past the limit")
		})
	}
}

// A Retry-After too large for a Duration is the limit, not a negative or
// tiny wait.
func TestBoundaryRetryAfterOverflow(t *testing.T) {
	now := time.Unix(0, 0)
	for _, v := range []string{"9223372037", "9999999999999", "18446744073709551615", "3601", "3600"} {
		assert.Equal(t, time.Hour, parseRetryAfter(v, now, time.Hour), v)
	}
	assert.Equal(t, 59*time.Second, parseRetryAfter("59", now, time.Minute))
	assert.Equal(t, time.Minute, parseRetryAfter("61", now, time.Minute))
}

// The backoff doubles up to the cap and no further: past it, the jitter
// still spreads the waits below the cap.
func TestBoundaryBackoffCap(t *testing.T) {
	c, err := New(testSecret, WithRetries(10, time.Second, 8*time.Second))
	require.NoError(t, err)
	below := 0
	for range 100 {
		d := c.backoffFor(9)
		require.GreaterOrEqual(t, d, 4*time.Second)
		require.LessOrEqual(t, d, 8*time.Second)
		if d < 8*time.Second {
			below++
		}
	}
	assert.Greater(t, below, 20, "half the jitter falls below the cap")
	for range 100 {
		d := c.backoffFor(0)
		require.GreaterOrEqual(t, d, 500*time.Millisecond)
		require.LessOrEqual(t, d, 1500*time.Millisecond)
	}
}

// A signature header of 4096 bytes is read; one byte more is refused. A
// timestamp of 16 digits is read; 17 are refused. A tolerance of zero is
// the default.
func TestBoundarySignatureLimits(t *testing.T) {
	now := time.UnixMilli(1768478400000)
	body := []byte(`{}`)
	h := Sign(body, "whsec", now)
	pad := func(n int) string { return h + ", x=" + strings.Repeat("y", n-len(h)-len(", x=")) }
	require.NoError(t, VerifySignature(pad(4096), body, "whsec", now, 0))
	assert.ErrorIs(t, VerifySignature(pad(4097), body, "whsec", now, 0), ErrInvalidSignature)

	_, err := parseSignature("t=1234567890123456, v1=" + strings.Repeat("0", 64))
	assert.NoError(t, err)
	_, err = parseSignature("t=12345678901234567, v1=" + strings.Repeat("0", 64))
	assert.ErrorIs(t, err, ErrInvalidSignature)

	assert.NoError(t, VerifySignature(h, body, "whsec", now.Add(DefaultWebhookTolerance), 0))
	assert.NoError(t, VerifySignature(h, body, "whsec", now.Add(time.Minute), -time.Second))
	assert.ErrorIs(t, VerifySignature(h, body, "whsec", now.Add(2*time.Second), time.Second), ErrStaleSignature)
}

// Validate retries once after a 5xx only if the budget leaves time for it.
func TestBoundaryQuickRetryBudget(t *testing.T) {
	for _, tc := range []struct {
		budget   time.Duration
		attempts int
	}{
		{quickRetryDelay + minRetryBudget - 30*time.Millisecond, 1},
		{2 * time.Second, 2},
	} {
		t.Run(tc.budget.String(), func(t *testing.T) {
			f := workostest.NewServer(t)
			f.Fail(workostest.Reply(500, ``), workostest.Reply(500, ``))
			_, err := newClient(t, f, WithValidationBudget(tc.budget)).Validate(context.Background(), "sk_test_value")
			assert.ErrorIs(t, err, apikey.ErrUnavailable)
			assert.Len(t, f.Requests(), tc.attempts)
		})
	}
}

// urlRecorder is a transport that records the URLs it is asked for and
// answers each with an empty list.
type urlRecorder struct{ urls []string }

func (u *urlRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	u.urls = append(u.urls, r.URL.String())
	return &http.Response{StatusCode: 200, Header: http.Header{}, Request: r,
		Body: io.NopCloser(strings.NewReader(`{"api_key":null,"data":[],"list_metadata":{}}`))}, nil
}

// A request without query parameters has no '?'; one with them has them
// after it.
func TestBoundaryRequestURL(t *testing.T) {
	rec := &urlRecorder{}
	c, err := New(testSecret, WithBaseURL("https://workos.test"), WithHTTPClient(&http.Client{Transport: rec}))
	require.NoError(t, err)
	_, err = c.Validate(context.Background(), "sk_test_value")
	require.ErrorIs(t, err, apikey.ErrInvalidKey)
	for _, err := range c.ListOrganizationKeys(context.Background(), "org_1", nil) {
		require.NoError(t, err)
	}
	assert.Equal(t, []string{
		"https://workos.test/api_keys/validations",
		"https://workos.test/organizations/org_1/api_keys?limit=100",
	}, rec.urls)
}

// A rotation prints and logs the old key's ID when there is one, and an
// empty one otherwise.
func TestBoundaryRotationText(t *testing.T) {
	created := CreatedKey{Key: &apikey.Key{ID: "api_key_new", Name: "sync"}, Value: "sk_secret_value"}
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		rot     *Rotation
		text    string
		logText string
	}{
		{&Rotation{New: created}, `workos.Rotation{New: workos.CreatedKey{ID: "api_key_new", Value: [shown once, not printed]}, Old: ""}`,
			`[new=[id=api_key_new name=sync]]`},
		{&Rotation{New: created, Old: &apikey.Key{ID: "api_key_old"}, OldExpiresAt: at},
			`workos.Rotation{New: workos.CreatedKey{ID: "api_key_new", Value: [shown once, not printed]}, Old: "api_key_old", OldExpiresAt: 2030-01-01T00:00:00Z}`,
			`[new=[id=api_key_new name=sync] old_id=api_key_old old_expires_at=2030-01-01 00:00:00 +0000 UTC]`},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.text, tc.rot.String())
		assert.Equal(t, tc.logText, tc.rot.LogValue().Resolve().String())
	}
}

// A v1 of the wrong length is refused in words that say how long it must be.
func TestBoundarySignatureV1Length(t *testing.T) {
	_, err := parseSignature("t=1, v1=00")
	assert.EqualError(t, err, "workos: invalid webhook signature: v1 is not 64 hex digits")
}

// A validation that got no answer keeps the transport's cause in its
// chain.
func TestBoundaryValidationKeepsTheCause(t *testing.T) {
	c, err := New(testSecret, WithBaseURL(workostest.ClosedURL()), withSleep(noSleep))
	require.NoError(t, err)
	_, err = c.Validate(context.Background(), "sk_test_value")
	assert.ErrorIs(t, err, apikey.ErrUnavailable)
	assert.ErrorIs(t, err, syscall.ECONNREFUSED)
}

// A rejected secret key's error names the response's request ID when
// there is one, and no request ID otherwise.
func TestBoundaryMisconfiguredRequestID(t *testing.T) {
	for _, tc := range []struct {
		headers []string
		want    string
	}{
		{[]string{"X-Request-ID", "req_9"}, ": validation: HTTP 401 (request id req_9)"},
		{nil, ": validation: HTTP 401"},
	} {
		f := workostest.NewServer(t)
		f.Fail(workostest.Reply(401, ``, tc.headers...))
		_, err := newClient(t, f, WithLogger(slog.New(slog.DiscardHandler))).Validate(context.Background(), "sk_test_value")
		require.ErrorIs(t, err, apikey.ErrMisconfigured)
		assert.True(t, strings.HasSuffix(err.Error(), tc.want), "%q does not end in %q", err, tc.want)
	}
}
