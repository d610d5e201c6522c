package workos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apikeyauth/apikey"
	"github.com/apikeyauth/apikey/workos/workostest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestValidateFixtures(t *testing.T) {
	tests := []struct {
		name    string
		fixture string
		want    *apikey.Key
	}{
		{"organization owner", fixtureValidateOrg, &apikey.Key{
			ID: "api_key_01H5JQDV7R7ATEYZDEG0W5PRYS", Name: "Test Api Key", DisplayValue: "sk_…PRYS",
			Owner:       apikey.Owner{Type: "organization", ID: "org_01H5JQDV7R7ATEYZDEG0W5PRYS"},
			Permissions: []string{"read", "write"},
			CreatedAt:   mustTime("2023-07-18T02:07:19.911Z"), UpdatedAt: mustTime("2023-07-18T02:07:19.911Z"),
		}},
		{"user owner", fixtureValidateUser, &apikey.Key{
			ID: "api_key_01H5JQDV7R7ATEYZDEG0W5PRYS", Name: "Test User Api Key", DisplayValue: "sk_…PRYS",
			Owner:       apikey.Owner{Type: "user", ID: "user_01H5JQDV7R7ATEYZDEG0W5PRYS", OrganizationID: "org_01H5JQDV7R7ATEYZDEG0W5PRYS"},
			Permissions: []string{"read", "write"},
			CreatedAt:   mustTime("2023-07-18T02:07:19.911Z"), UpdatedAt: mustTime("2023-07-18T02:07:19.911Z"),
		}},
		{"current spec with expires_at and agent_registration_id", fixtureValidateSpec, &apikey.Key{
			ID: "api_key_01EHZNVPK3SFK441A1RGBFSHRT", Name: "Production API Key", DisplayValue: "sk_...3456",
			Owner:       apikey.Owner{Type: "organization", ID: "org_01EHZNVPK3SFK441A1RGBFSHRT"},
			Permissions: []string{"posts:read", "posts:write"},
			CreatedAt:   mustTime("2026-01-15T12:00:00.000Z"), UpdatedAt: mustTime("2026-01-15T12:00:00.000Z"),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := workostest.NewServer(t)
			f.Fail(workostest.Reply(200, tt.fixture))
			got, err := newClient(t, f).Validate(context.Background(), "sk_example_1234567890abcdef")
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)

			reqs := f.Requests()
			require.Len(t, reqs, 1)
			assert.Equal(t, "POST", reqs[0].Method)
			assert.Equal(t, "/api_keys/validations", reqs[0].Path)
			assert.Equal(t, "Bearer "+testSecret, reqs[0].Header.Get("Authorization"))
			assert.Equal(t, "application/json", reqs[0].Header.Get("Content-Type"))
			assert.Equal(t, DefaultUserAgent, reqs[0].Header.Get("User-Agent"))
			assert.JSONEq(t, `{"value": "sk_example_1234567890abcdef"}`, string(reqs[0].Body))
		})
	}
	t.Run("null is an invalid key", func(t *testing.T) {
		f := workostest.NewServer(t)
		f.Fail(workostest.Reply(200, fixtureValidateNull))
		_, err := newClient(t, f).Validate(context.Background(), "sk_unknown")
		assert.ErrorIs(t, err, apikey.ErrInvalidKey)
	})
}

func TestValidateAgainstFake(t *testing.T) {
	f := workostest.NewServer(t)
	f.AddKey("sk_live_valid_key_000000000001", "Production", "org_1", "posts:read")
	expired := f.AddKey("sk_live_expired_key_00000000002", "Old", "org_1")
	f.SetExpiresAt(expired.ID, time.Now().Add(-time.Minute))
	future := f.AddKey("sk_live_future_key_000000000003", "Soon", "org_1")
	future.ExpiresAt = time.Now().Add(time.Hour).Truncate(time.Millisecond)
	f.SetExpiresAt(future.ID, future.ExpiresAt)
	c := newClient(t, f)

	t.Run("valid", func(t *testing.T) {
		k, err := c.Validate(context.Background(), "sk_live_valid_key_000000000001")
		require.NoError(t, err)
		assert.Equal(t, "Production", k.Name)
		assert.Equal(t, apikey.Owner{Type: "organization", ID: "org_1"}, k.Owner)
		assert.Equal(t, []string{"posts:read"}, k.Permissions)
		assert.True(t, k.ExpiresAt.IsZero())
	})
	t.Run("expiring later is valid and carries its expiry", func(t *testing.T) {
		k, err := c.Validate(context.Background(), "sk_live_future_key_000000000003")
		require.NoError(t, err)
		assert.True(t, future.ExpiresAt.Equal(k.ExpiresAt))
	})
	t.Run("expires_at passed is invalid", func(t *testing.T) {
		_, err := c.Validate(context.Background(), "sk_live_expired_key_00000000002")
		assert.ErrorIs(t, err, apikey.ErrInvalidKey)
	})
	t.Run("unknown is invalid", func(t *testing.T) {
		_, err := c.Validate(context.Background(), "sk_live_nobody")
		assert.ErrorIs(t, err, apikey.ErrInvalidKey)
	})
	t.Run("empty is invalid without a request", func(t *testing.T) {
		n := len(f.Requests())
		_, err := c.Validate(context.Background(), "")
		assert.ErrorIs(t, err, apikey.ErrInvalidKey)
		assert.Len(t, f.Requests(), n)
	})
	t.Run("odd characters are JSON-escaped", func(t *testing.T) {
		_, err := c.Validate(context.Background(), "a\"b\\c\x00\u2028")
		assert.ErrorIs(t, err, apikey.ErrInvalidKey)
	})
}

func TestValidateDecoding(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		wantErr error // nil: a key
	}{
		{"unknown fields tolerated", `{"api_key":{"id":"k1","owner":{"type":"organization","id":"o","extra":1},"new_field":{"x":[1]}},"more":true}`, nil},
		{"only id", `{"api_key":{"id":"k1"}}`, nil},
		{"nulls everywhere", `{"api_key":{"id":"k1","owner":null,"name":null,"permissions":null,"last_used_at":null,"expires_at":null,"created_at":null}}`, nil},
		{"odd timestamps other than expiry ignored", `{"api_key":{"id":"k1","created_at":"yesterday","last_used_at":"?"}}`, nil},
		{"unreadable expires_at fails closed", `{"api_key":{"id":"k1","expires_at":"soon"}}`, apikey.ErrUnavailable},
		{"no id", `{"api_key":{"name":"x"}}`, apikey.ErrUnavailable},
		{"no api_key member", `{}`, apikey.ErrUnavailable},
		{"top-level null", `null`, apikey.ErrUnavailable},
		{"array", `[]`, apikey.ErrUnavailable},
		{"api_key is a string", `{"api_key":"sk_x"}`, apikey.ErrUnavailable},
		{"wrong field type", `{"api_key":{"id":"k1","permissions":"all"}}`, apikey.ErrUnavailable},
		{"malformed JSON", `{"api_key":{`, apikey.ErrUnavailable},
		{"empty body", ``, apikey.ErrUnavailable},
		{"api_key null with spaces", `{ "api_key" : null }`, apikey.ErrInvalidKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := workostest.NewServer(t)
			f.Fail(workostest.Reply(200, tt.body))
			k, err := newClient(t, f).Validate(context.Background(), "sk_some_value")
			if tt.wantErr == nil {
				require.NoError(t, err)
				assert.Equal(t, "k1", k.ID)
				assert.NotNil(t, k.Permissions)
				return
			}
			assert.ErrorIs(t, err, tt.wantErr)
			assert.Nil(t, k)
			assert.Len(t, f.Requests(), 1, "a bad 200 body is not retried")
		})
	}
}

func TestValidateStatuses(t *testing.T) {
	date := time.Now().Add(20 * time.Second).UTC().Format(http.TimeFormat)
	tests := []struct {
		name           string
		faults         []workostest.Fault
		wantErr        []error
		wantRetryAfter time.Duration // approximate for HTTP-dates
		wantRequestID  string
		wantRequests   int
	}{
		{"401 is misconfiguration", []workostest.Fault{workostest.Reply(401, `{"message":"Unauthorized","code":"unauthorized"}`)}, []error{apikey.ErrMisconfigured, ErrUnauthorized}, 0, "", 1},
		{"403 is misconfiguration", []workostest.Fault{workostest.Reply(403, `{"message":"Forbidden"}`)}, []error{apikey.ErrMisconfigured, ErrUnauthorized}, 0, "", 1},
		{"404 is a wrong base URL", []workostest.Fault{workostest.Reply(404, `{"message":"Not Found"}`)}, []error{apikey.ErrMisconfigured}, 0, "", 1},
		{"302 is a wrong base URL", []workostest.Fault{workostest.Reply(302, ``, "Location", "https://example.com/")}, []error{apikey.ErrMisconfigured}, 0, "", 1},
		{"422 is an invalid key", []workostest.Fault{workostest.Reply(422, `{"message":"value must be a string"}`)}, []error{apikey.ErrInvalidKey}, 0, "", 1},
		{"400 is an invalid key", []workostest.Fault{workostest.Reply(400, `{"message":"Problems parsing JSON","code":"invalid_request_body"}`)}, []error{apikey.ErrInvalidKey}, 0, "", 1},
		{"429 with Retry-After seconds, not retried", []workostest.Fault{workostest.Reply(429, `{"message":"Too Many Requests","code":"rate_limit_exceeded"}`, "Retry-After", "7", "X-Request-ID", "req_429")}, []error{apikey.ErrUnavailable, ErrRateLimited}, 7 * time.Second, "req_429", 1},
		{"429 with Retry-After date", []workostest.Fault{workostest.Reply(429, ``, "Retry-After", date)}, []error{apikey.ErrUnavailable}, 20 * time.Second, "", 1},
		{"429 without Retry-After", []workostest.Fault{workostest.Reply(429, `{"message":"Too Many Requests","code":"rate_limit_exceeded"}`)}, []error{apikey.ErrUnavailable}, 0, "", 1},
		{"429 Retry-After beyond the retry cap is reported as sent", []workostest.Fault{workostest.Reply(429, ``, "Retry-After", "60")}, []error{apikey.ErrUnavailable}, 60 * time.Second, "", 1},
		{"429 Retry-After bounded at an hour", []workostest.Fault{workostest.Reply(429, ``, "Retry-After", "86400")}, []error{apikey.ErrUnavailable}, time.Hour, "", 1},
		{"500 twice", []workostest.Fault{workostest.Reply(500, `oops`), workostest.Reply(502, `<html>`, "Retry-After", "3", "X-Request-ID", "req_2")}, []error{apikey.ErrUnavailable}, 3 * time.Second, "req_2", 2},
		{"503 then valid", []workostest.Fault{workostest.Reply(503, ``)}, nil, 0, "", 2},
		{"hang-up then valid", []workostest.Fault{workostest.HangUp()}, nil, 0, "", 2},
		{"hang-up twice", []workostest.Fault{workostest.HangUp(), workostest.HangUp()}, []error{apikey.ErrUnavailable}, 0, "", 2},
		{"418 is unavailable", []workostest.Fault{workostest.Reply(418, ``)}, []error{apikey.ErrUnavailable}, 0, "", 1},
		{"oversized body", []workostest.Fault{workostest.Oversized(validationBodyLimit)}, []error{apikey.ErrUnavailable, ErrMalformedResponse}, 0, "", 1},
		{"malformed JSON", []workostest.Fault{workostest.Reply(200, `{"api_key": {"id": "k1"`)}, []error{apikey.ErrUnavailable, ErrMalformedResponse}, 0, "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := workostest.NewServer(t)
			f.AddKey("sk_live_valid_key_000000000001", "Production", "org_1")
			f.Fail(tt.faults...)
			var logs bytes.Buffer
			c := newClient(t, f, WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			k, err := c.Validate(context.Background(), "sk_live_valid_key_000000000001")
			assert.Len(t, f.Requests(), tt.wantRequests)
			if tt.wantErr == nil {
				require.NoError(t, err)
				assert.Equal(t, "Production", k.Name)
				return
			}
			require.Error(t, err)
			assert.Nil(t, k)
			for _, want := range tt.wantErr {
				assert.ErrorIs(t, err, want)
			}
			var ue *apikey.UnavailableError
			if slices.Contains(tt.wantErr, apikey.ErrUnavailable) {
				require.ErrorAs(t, err, &ue)
				assert.InDelta(t, tt.wantRetryAfter.Seconds(), ue.RetryAfter.Seconds(), 2)
				assert.Equal(t, tt.wantRequestID, ue.RequestID)
			} else {
				assert.False(t, errors.As(err, &ue), "not unavailable: %v", err)
			}
			if slices.Contains(tt.wantErr, apikey.ErrMisconfigured) {
				// Logged loudly, once.
				_, _ = c.Validate(context.Background(), "sk_live_valid_key_000000000001")
				assert.Equal(t, 1, strings.Count(logs.String(), "level=ERROR"), logs.String())
			} else {
				assert.NotErrorIs(t, err, apikey.ErrMisconfigured)
				assert.Empty(t, logs.String())
			}
		})
	}
}

func TestValidateTimeouts(t *testing.T) {
	t.Run("slow answer ends at the budget", func(t *testing.T) {
		f := workostest.NewServer(t)
		f.AddKey("sk_live_valid_key_000000000001", "Production", "org_1")
		f.Fail(workostest.Slow(5 * time.Second))
		c := newClient(t, f, WithValidationBudget(200*time.Millisecond))
		start := time.Now()
		_, err := c.Validate(context.Background(), "sk_live_valid_key_000000000001")
		assert.ErrorIs(t, err, apikey.ErrUnavailable)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Less(t, time.Since(start), 2*time.Second)
		assert.Len(t, f.Requests(), 1, "no retry once the budget is spent")
	})
	t.Run("slow but within the budget", func(t *testing.T) {
		f := workostest.NewServer(t)
		f.AddKey("sk_live_valid_key_000000000001", "Production", "org_1")
		f.Fail(workostest.Slow(50 * time.Millisecond))
		_, err := newClient(t, f).Validate(context.Background(), "sk_live_valid_key_000000000001")
		assert.NoError(t, err)
	})
	t.Run("caller's context ends first", func(t *testing.T) {
		f := workostest.NewServer(t)
		f.Fail(workostest.Slow(5 * time.Second))
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := newClient(t, f).Validate(ctx, "sk_x")
		assert.ErrorIs(t, err, apikey.ErrUnavailable)
	})
	t.Run("no retry when the budget is nearly spent", func(t *testing.T) {
		f := workostest.NewServer(t)
		f.Fail(func(w http.ResponseWriter, r *http.Request) bool {
			time.Sleep(150 * time.Millisecond)
			return workostest.Reply(500, ``)(w, r)
		})
		c := newClient(t, f, WithValidationBudget(200*time.Millisecond))
		_, err := c.Validate(context.Background(), "sk_x")
		assert.ErrorIs(t, err, apikey.ErrUnavailable)
		assert.Len(t, f.Requests(), 1)
	})
	t.Run("connection refused", func(t *testing.T) {
		c, err := New(testSecret, WithBaseURL(workostest.ClosedURL()), withSleep(noSleep))
		require.NoError(t, err)
		_, err = c.Validate(context.Background(), "sk_x")
		assert.ErrorIs(t, err, apikey.ErrUnavailable)
	})
}

func TestValidateJSONRoundTrip(t *testing.T) {
	// The request body is exactly {"value": ...}, whatever the value.
	for _, v := range []string{"sk_plain", `sk_"quoted"`, "sk_\u00e9\u2028", "sk_<html>&"} {
		f := workostest.NewServer(t)
		_, _ = newClient(t, f).Validate(context.Background(), v)
		reqs := f.Requests()
		require.Len(t, reqs, 1)
		var got map[string]string
		require.NoError(t, json.Unmarshal(reqs[0].Body, &got))
		assert.Equal(t, map[string]string{"value": v}, got)
	}
}

// TestRequestIDNeverEchoesTheKey: an upstream or proxy that echoes the key
// into X-Request-ID, whole or in part and however long, leaves no piece of
// it in the error or the log. The check is made before the request ID is
// cut to its length limit, so a long echoed key cannot leave its first
// bytes behind.
func TestRequestIDNeverEchoesTheKey(t *testing.T) {
	long := "sk_live_" + strings.Repeat("LONGKEY0123456789", 30) // 518 bytes
	echo := map[string]func(v string) string{
		"whole":             func(v string) string { return v },
		"whole, prefixed":   func(v string) string { return "req_" + v },
		"first 128 bytes":   func(v string) string { return v[:min(len(v), 128)] },
		"a middle 24 bytes": func(v string) string { return "req-" + v[len(v)/4:len(v)/4+24] },
		"last 24 bytes":     func(v string) string { return v[len(v)-24:] },
	}
	for _, value := range []string{long, "sk_live_short_key_0123456789abcd"} {
		for name, mk := range echo {
			for _, status := range []int{401, 503} {
				t.Run(fmt.Sprintf("%d bytes, %s, %d", len(value), name, status), func(t *testing.T) {
					f := workostest.NewServer(t)
					f.FailAll(workostest.Reply(status, `{}`, "X-Request-ID", mk(value)))
					var logs bytes.Buffer
					c := newClient(t, f, WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
					_, err := c.Validate(context.Background(), value)
					require.Error(t, err)
					out := err.Error() + fmt.Sprintf(" %+v ", err) + logs.String()
					for i := 0; i+16 <= len(value); i++ {
						require.NotContains(t, out, value[i:i+16], "a piece of the key at %d", i)
					}
					assert.Contains(t, out, redacted, "the request ID is replaced, not dropped silently")
				})
			}
		}
	}
	t.Run("an ordinary long request ID is kept, cut", func(t *testing.T) {
		f := workostest.NewServer(t)
		id := "req_" + strings.Repeat("a", 300)
		f.Fail(workostest.Reply(429, `{}`, "X-Request-ID", id))
		_, err := newClient(t, f).Validate(context.Background(), long)
		var ue *apikey.UnavailableError
		require.ErrorAs(t, err, &ue)
		assert.Equal(t, id[:requestIDLimit]+"…", ue.RequestID)
	})
}
