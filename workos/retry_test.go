package workos

import (
	"context"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/apikeyauth/apikey"
	"github.com/apikeyauth/apikey/workos/workostest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"7", 7 * time.Second},
		{" 12 ", 12 * time.Second},
		{"60", 60 * time.Second},
		{"3600", time.Hour},
		{"3601", time.Hour},
		{"99999999999999999999999", time.Hour},
		{"-3", 0},
		{"1.5", 0},
		{"soon", 0},
		{now.Add(10 * time.Second).Format(http.TimeFormat), 10 * time.Second},
		{now.Add(-10 * time.Second).Format(http.TimeFormat), 0},
		{now.Add(2 * time.Minute).Format(http.TimeFormat), 2 * time.Minute},
		{now.Add(48 * time.Hour).Format(http.TimeFormat), time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			assert.Equal(t, tt.want, parseRetryAfter(tt.in, now, maxReportedRetryAfter))
		})
	}
}

func TestBackoff(t *testing.T) {
	c, err := New(testSecret)
	require.NoError(t, err)
	for n, base := range []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second} {
		for range 50 {
			d := c.backoffFor(n)
			assert.GreaterOrEqual(t, d, base/2, "retry %d", n)
			assert.LessOrEqual(t, d, min(base*3/2, DefaultMaxBackoff), "retry %d", n)
		}
	}
}

func TestManagementRetries(t *testing.T) {
	t.Run("three retries, then the last error", func(t *testing.T) {
		f := workostest.NewServer(t)
		f.Fail(workostest.Reply(500, ``), workostest.Reply(502, ``), workostest.Reply(503, ``), workostest.Reply(504, `{"message":"gateway"}`, "X-Request-ID", "req_last"))
		s := &recordingSleep{}
		err := newClient(t, f, withSleep(s.sleep)).DeleteKey(context.Background(), "api_key_1")
		assert.ErrorIs(t, err, apikey.ErrUnavailable)
		var ae *APIError
		require.ErrorAs(t, err, &ae)
		assert.Equal(t, 504, ae.StatusCode)
		assert.Equal(t, "req_last", ae.RequestID)
		assert.Len(t, f.Requests(), 4)
		assert.Len(t, s.all(), 3)
	})
	t.Run("Retry-After is honoured and capped", func(t *testing.T) {
		f := workostest.NewServer(t)
		f.Fail(workostest.Reply(429, ``, "Retry-After", "2"), workostest.Reply(429, ``, "Retry-After", "600"),
			workostest.Reply(429, ``, "Retry-After", time.Now().Add(5*time.Second).UTC().Format(http.TimeFormat)))
		s := &recordingSleep{}
		f.AddKey("sk_x_000000000000000000000001", "k", "org_1")
		err := newClient(t, f, withSleep(s.sleep)).DeleteKey(context.Background(), "api_key_0001")
		require.NoError(t, err)
		w := s.all()
		require.Len(t, w, 3)
		assert.Equal(t, 2*time.Second, w[0])
		assert.Equal(t, DefaultMaxRetryAfter, w[1])
		assert.InDelta(t, 5, w[2].Seconds(), 1.5)
	})
	t.Run("the wait is capped, the reported Retry-After is not", func(t *testing.T) {
		f := workostest.NewServer(t)
		f.Fail(workostest.Reply(429, ``, "Retry-After", "600"), workostest.Reply(429, ``, "Retry-After", "600"))
		s := &recordingSleep{}
		err := newClient(t, f, withSleep(s.sleep), WithRetries(1, time.Millisecond, time.Millisecond)).DeleteKey(context.Background(), "api_key_1")
		var ae *APIError
		require.ErrorAs(t, err, &ae)
		assert.Equal(t, 10*time.Minute, ae.RetryAfter, "what WorkOS asked for")
		assert.Equal(t, []time.Duration{DefaultMaxRetryAfter}, s.all(), "what the client slept")
	})
	t.Run("only an attempt without an answer makes a later 404 success", func(t *testing.T) {
		// After a hang-up the first attempt may have deleted the key, so a
		// 404 is its doing; a 5xx is an answer, so a 404 after it means the
		// key never existed (a typo must not read as deleted).
		for _, tt := range []struct {
			name    string
			first   workostest.Fault
			wantErr error
		}{
			{"hang-up, 5xx, 404", workostest.HangUp(), nil},
			{"5xx, 5xx, 404", workostest.Reply(500, ``), ErrNotFound},
		} {
			t.Run(tt.name, func(t *testing.T) {
				f := workostest.NewServer(t)
				f.Fail(tt.first, workostest.Reply(502, ``))
				err := newClient(t, f).DeleteKey(context.Background(), "api_key_typo")
				if tt.wantErr == nil {
					assert.NoError(t, err)
				} else {
					assert.ErrorIs(t, err, tt.wantErr)
				}
				assert.Len(t, f.Requests(), 3)
			})
		}
	})
	t.Run("429 without Retry-After backs off", func(t *testing.T) {
		f := workostest.NewServer(t)
		f.Fail(workostest.Reply(429, `{"message":"Too Many Requests","code":"rate_limit_exceeded"}`))
		s := &recordingSleep{}
		_ = newClient(t, f, withSleep(s.sleep)).DeleteKey(context.Background(), "api_key_1")
		require.Len(t, s.all(), 1)
		assert.InDelta(t, 0.5, s.all()[0].Seconds(), 0.26)
	})
	t.Run("no retry for 4xx", func(t *testing.T) {
		for _, status := range []int{400, 401, 403, 404, 409, 422} {
			f := workostest.NewServer(t)
			f.Fail(workostest.Reply(status, `{"message":"no"}`))
			_, err := newClient(t, f).ExpireKey(context.Background(), "api_key_1")
			assert.Error(t, err)
			assert.Len(t, f.Requests(), 1, "status %d", status)
		}
	})
	t.Run("a wait past the deadline is not started", func(t *testing.T) {
		f := workostest.NewServer(t)
		f.Fail(workostest.Reply(503, ``, "Retry-After", "20"))
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		s := &recordingSleep{}
		err := newClient(t, f, withSleep(s.sleep)).DeleteKey(ctx, "api_key_1")
		assert.ErrorIs(t, err, apikey.ErrUnavailable)
		assert.Empty(t, s.all())
		assert.Len(t, f.Requests(), 1)
	})
	t.Run("cancelled while waiting", func(t *testing.T) {
		f := workostest.NewServer(t)
		f.Fail(workostest.Reply(503, ``), workostest.Reply(503, ``))
		ctx, cancel := context.WithCancel(context.Background())
		sleep := func(ctx context.Context, d time.Duration) error { cancel(); return context.Canceled }
		err := newClient(t, f, withSleep(sleep)).DeleteKey(ctx, "api_key_1")
		assert.Error(t, err)
		assert.Len(t, f.Requests(), 1)
	})
	t.Run("real sleep honours the context", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		assert.ErrorIs(t, sleepCtx(ctx, time.Minute), context.DeadlineExceeded)
		assert.NoError(t, sleepCtx(context.Background(), time.Millisecond))
	})
	t.Run("connection refused is unavailable after retries", func(t *testing.T) {
		s := &recordingSleep{}
		c, err := New(testSecret, WithBaseURL(workostest.ClosedURL()), withSleep(s.sleep))
		require.NoError(t, err)
		_, err = c.CreateOrganizationKey(context.Background(), "org_1", CreateKeyParams{Name: "x"})
		assert.ErrorIs(t, err, apikey.ErrUnavailable)
		assert.Len(t, s.all(), 3)
		assert.Contains(t, err.Error(), "POST /organizations/org_1/api_keys: no answer from WorkOS")
		assert.NotContains(t, err.Error(), "validator", "no validation was involved")
	})
	t.Run("slow attempts time out and are retried", func(t *testing.T) {
		f := workostest.NewServer(t)
		f.AddKey("sk_x_000000000000000000000001", "k", "org_1")
		f.Fail(workostest.Slow(5 * time.Second))
		err := newClient(t, f, WithRequestTimeout(100*time.Millisecond)).DeleteKey(context.Background(), "api_key_0001")
		assert.NoError(t, err)
		assert.Len(t, f.Requests(), 2)
	})
	t.Run("retries off", func(t *testing.T) {
		f := workostest.NewServer(t)
		f.Fail(workostest.Reply(500, ``))
		err := newClient(t, f, WithRetries(0, 0, 0)).DeleteKey(context.Background(), "api_key_1")
		assert.ErrorIs(t, err, apikey.ErrUnavailable)
		assert.Len(t, f.Requests(), 1)
	})
}

func TestNewOptions(t *testing.T) {
	tests := []struct {
		name   string
		secret string
		opts   []Option
	}{
		{"empty secret", "", nil},
		{"blank secret", "  ", nil},
		{"secret with newline", "sk_a\nb", nil},
		{"relative base URL", testSecret, []Option{WithBaseURL("/v1")}},
		{"ftp base URL", testSecret, []Option{WithBaseURL("ftp://x")}},
		{"base URL with query", testSecret, []Option{WithBaseURL("https://x/?a=b")}},
		{"base URL with user info", testSecret, []Option{WithBaseURL("https://u:p@x/")}},
		{"unparsable base URL", testSecret, []Option{WithBaseURL("http://[::1")}},
		{"nil HTTP client", testSecret, []Option{WithHTTPClient(nil)}},
		{"bad user agent", testSecret, []Option{WithUserAgent("a\r\nb")}},
		{"zero validation budget", testSecret, []Option{WithValidationBudget(0)}},
		{"zero request timeout", testSecret, []Option{WithRequestTimeout(0)}},
		{"negative retries", testSecret, []Option{WithRetries(-1, 0, 0)}},
		{"negative backoff", testSecret, []Option{WithRetries(1, -time.Second, 0)}},
		{"negative Retry-After cap", testSecret, []Option{WithMaxRetryAfter(-1)}},
		{"a bad option before good ones", testSecret, []Option{WithValidationBudget(-time.Second), WithBaseURL("https://x"), WithLogger(slog.Default())}},
		{"nil logger", testSecret, []Option{WithLogger(nil)}},
		{"nil clock", testSecret, []Option{WithClock(nil)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.secret, tt.opts...)
			assert.Nil(t, c)
			assert.ErrorIs(t, err, apikey.ErrMisconfigured)
			assert.ErrorIs(t, err, ErrInvalidArgument)
			if tt.secret != "" {
				assert.NotContains(t, err.Error(), tt.secret)
			}
			assert.NotContains(t, err.Error(), "u:p")
		})
	}
	t.Run("defaults", func(t *testing.T) {
		c, err := New(testSecret, nil)
		require.NoError(t, err)
		assert.Equal(t, DefaultBaseURL, c.baseURL)
		assert.Equal(t, 2*time.Second, c.validationBudget)
		assert.Equal(t, 3, c.maxRetries)
	})
	t.Run("options only record: the last of each wins, whatever came before", func(t *testing.T) {
		c, err := New(testSecret, WithBaseURL("not a URL"), WithValidationBudget(0), WithBaseURL("https://x/"), WithValidationBudget(time.Second))
		require.NoError(t, err)
		assert.Equal(t, "https://x", c.baseURL)
		assert.Equal(t, time.Second, c.validationBudget)
	})
	t.Run("the error names the problem", func(t *testing.T) {
		_, err := New(testSecret, WithValidationBudget(-time.Second))
		assert.EqualError(t, err, "workos: New: the validation budget must be positive, not -1s")
	})
	t.Run("trailing slash", func(t *testing.T) {
		c, err := New(testSecret, WithBaseURL("http://127.0.0.1:1/prefix/"))
		require.NoError(t, err)
		assert.Equal(t, "http://127.0.0.1:1/prefix", c.baseURL)
	})
	t.Run("user HTTP client and user agent are used", func(t *testing.T) {
		f := workostest.NewServer(t)
		c := newClient(t, f, WithHTTPClient(&http.Client{}), WithUserAgent("my-app/1.0"))
		_, _ = c.Validate(context.Background(), "sk_x")
		assert.Equal(t, "my-app/1.0", f.Requests()[0].Header.Get("User-Agent"))
	})
	t.Run("SetInvalidator with a typed nil disconnects", func(t *testing.T) {
		c, err := New(testSecret)
		require.NoError(t, err)
		c.SetInvalidator((*apikey.Cache)(nil))
		assert.NotPanics(t, func() { c.invalidate("x") })
	})
}
