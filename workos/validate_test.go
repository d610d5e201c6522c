package workos

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/apikeyauth/apikey"
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
			ID: "api_key_01H5JQDV7R7ATEYZDEG0W5PRYS", Name: "Test Api Key", ObfuscatedValue: "sk_…PRYS",
			Owner:       apikey.Owner{Type: "organization", ID: "org_01H5JQDV7R7ATEYZDEG0W5PRYS"},
			Permissions: []string{"read", "write"},
			CreatedAt:   mustTime("2023-07-18T02:07:19.911Z"), UpdatedAt: mustTime("2023-07-18T02:07:19.911Z"),
		}},
		{"user owner", fixtureValidateUser, &apikey.Key{
			ID: "api_key_01H5JQDV7R7ATEYZDEG0W5PRYS", Name: "Test User Api Key", ObfuscatedValue: "sk_…PRYS",
			Owner:       apikey.Owner{Type: "user", ID: "user_01H5JQDV7R7ATEYZDEG0W5PRYS", OrganizationID: "org_01H5JQDV7R7ATEYZDEG0W5PRYS"},
			Permissions: []string{"read", "write"},
			CreatedAt:   mustTime("2023-07-18T02:07:19.911Z"), UpdatedAt: mustTime("2023-07-18T02:07:19.911Z"),
		}},
		{"current spec with expires_at and agent_registration_id", fixtureValidateSpec, &apikey.Key{
			ID: "api_key_01EHZNVPK3SFK441A1RGBFSHRT", Name: "Production API Key", ObfuscatedValue: "sk_...3456",
			Owner:       apikey.Owner{Type: "organization", ID: "org_01EHZNVPK3SFK441A1RGBFSHRT"},
			Permissions: []string{"posts:read", "posts:write"},
			CreatedAt:   mustTime("2026-01-15T12:00:00.000Z"), UpdatedAt: mustTime("2026-01-15T12:00:00.000Z"),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			f.fail(reply(200, tt.fixture))
			got, err := f.client(t).Validate(context.Background(), "sk_example_1234567890abcdef")
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)

			reqs := f.recorded()
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
		f := newFake(t)
		f.fail(reply(200, fixtureValidateNull))
		_, err := f.client(t).Validate(context.Background(), "sk_unknown")
		assert.ErrorIs(t, err, apikey.ErrInvalidKey)
	})
}

func TestValidateAgainstFake(t *testing.T) {
	f := newFake(t)
	f.addKey("sk_live_valid_key_000000000001", "Production", "org_1", "posts:read")
	expired := f.addKey("sk_live_expired_key_00000000002", "Old", "org_1")
	expired.expiresAt = time.Now().Add(-time.Minute)
	future := f.addKey("sk_live_future_key_000000000003", "Soon", "org_1")
	future.expiresAt = time.Now().Add(time.Hour).Truncate(time.Millisecond)
	c := f.client(t)

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
		assert.True(t, future.expiresAt.Equal(k.ExpiresAt))
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
		n := len(f.recorded())
		_, err := c.Validate(context.Background(), "")
		assert.ErrorIs(t, err, apikey.ErrInvalidKey)
		assert.Len(t, f.recorded(), n)
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
			f := newFake(t)
			f.fail(reply(200, tt.body))
			k, err := f.client(t).Validate(context.Background(), "sk_some_value")
			if tt.wantErr == nil {
				require.NoError(t, err)
				assert.Equal(t, "k1", k.ID)
				assert.NotNil(t, k.Permissions)
				return
			}
			assert.ErrorIs(t, err, tt.wantErr)
			assert.Nil(t, k)
			assert.Len(t, f.recorded(), 1, "a bad 200 body is not retried")
		})
	}
}

func TestValidateStatuses(t *testing.T) {
	date := time.Now().Add(20 * time.Second).UTC().Format(http.TimeFormat)
	tests := []struct {
		name           string
		faults         []fault
		wantErr        []error
		wantRetryAfter time.Duration // approximate for HTTP-dates
		wantRequestID  string
		wantRequests   int
	}{
		{"401 is misconfiguration", []fault{reply(401, `{"message":"Unauthorized","code":"unauthorized"}`)}, []error{apikey.ErrMisconfigured, ErrUnauthorized}, 0, "", 1},
		{"403 is misconfiguration", []fault{reply(403, `{"message":"Forbidden"}`)}, []error{apikey.ErrMisconfigured, ErrUnauthorized}, 0, "", 1},
		{"404 is a wrong base URL", []fault{reply(404, `{"message":"Not Found"}`)}, []error{apikey.ErrMisconfigured}, 0, "", 1},
		{"302 is a wrong base URL", []fault{reply(302, ``, "Location", "https://example.com/")}, []error{apikey.ErrMisconfigured}, 0, "", 1},
		{"422 is an invalid key", []fault{reply(422, `{"message":"value must be a string"}`)}, []error{apikey.ErrInvalidKey}, 0, "", 1},
		{"400 is an invalid key", []fault{reply(400, `{"message":"Problems parsing JSON","code":"invalid_request_body"}`)}, []error{apikey.ErrInvalidKey}, 0, "", 1},
		{"429 with Retry-After seconds, not retried", []fault{reply(429, `{"message":"Too Many Requests","code":"rate_limit_exceeded"}`, "Retry-After", "7", "X-Request-ID", "req_429")}, []error{apikey.ErrUnavailable, ErrRateLimited}, 7 * time.Second, "req_429", 1},
		{"429 with Retry-After date", []fault{reply(429, ``, "Retry-After", date)}, []error{apikey.ErrUnavailable}, 20 * time.Second, "", 1},
		{"429 without Retry-After", []fault{reply(429, `{"message":"Too Many Requests","code":"rate_limit_exceeded"}`)}, []error{apikey.ErrUnavailable}, 0, "", 1},
		{"429 Retry-After beyond the retry cap is reported as sent", []fault{reply(429, ``, "Retry-After", "60")}, []error{apikey.ErrUnavailable}, 60 * time.Second, "", 1},
		{"429 Retry-After bounded at an hour", []fault{reply(429, ``, "Retry-After", "86400")}, []error{apikey.ErrUnavailable}, time.Hour, "", 1},
		{"500 twice", []fault{reply(500, `oops`), reply(502, `<html>`, "Retry-After", "3", "X-Request-ID", "req_2")}, []error{apikey.ErrUnavailable}, 3 * time.Second, "req_2", 2},
		{"503 then valid", []fault{reply(503, ``)}, nil, 0, "", 2},
		{"hang-up then valid", []fault{hangUp()}, nil, 0, "", 2},
		{"hang-up twice", []fault{hangUp(), hangUp()}, []error{apikey.ErrUnavailable}, 0, "", 2},
		{"418 is unavailable", []fault{reply(418, ``)}, []error{apikey.ErrUnavailable}, 0, "", 1},
		{"oversized body", []fault{oversized(validationBodyLimit)}, []error{apikey.ErrUnavailable, ErrMalformedResponse}, 0, "", 1},
		{"malformed JSON", []fault{reply(200, `{"api_key": {"id": "k1"`)}, []error{apikey.ErrUnavailable, ErrMalformedResponse}, 0, "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			f.addKey("sk_live_valid_key_000000000001", "Production", "org_1")
			f.fail(tt.faults...)
			var logs bytes.Buffer
			c := f.client(t, WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			k, err := c.Validate(context.Background(), "sk_live_valid_key_000000000001")
			assert.Len(t, f.recorded(), tt.wantRequests)
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
			if errorsAs(err, &ue) {
				assert.InDelta(t, tt.wantRetryAfter.Seconds(), ue.RetryAfter.Seconds(), 2)
				assert.Equal(t, tt.wantRequestID, ue.RequestID)
			}
			if assertIs(err, apikey.ErrMisconfigured) {
				// Logged loudly, once.
				_, _ = c.Validate(context.Background(), "sk_live_valid_key_000000000001")
				assert.Equal(t, 1, strings.Count(logs.String(), "level=ERROR"), logs.String())
			}
		})
	}
}

func TestValidateTimeouts(t *testing.T) {
	t.Run("slow answer ends at the budget", func(t *testing.T) {
		f := newFake(t)
		f.addKey("sk_live_valid_key_000000000001", "Production", "org_1")
		f.fail(slow(5 * time.Second))
		c := f.client(t, WithValidationTimeout(200*time.Millisecond))
		start := time.Now()
		_, err := c.Validate(context.Background(), "sk_live_valid_key_000000000001")
		assert.ErrorIs(t, err, apikey.ErrUnavailable)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Less(t, time.Since(start), 2*time.Second)
		assert.Len(t, f.recorded(), 1, "no retry once the budget is spent")
	})
	t.Run("slow but within the budget", func(t *testing.T) {
		f := newFake(t)
		f.addKey("sk_live_valid_key_000000000001", "Production", "org_1")
		f.fail(slow(50 * time.Millisecond))
		_, err := f.client(t).Validate(context.Background(), "sk_live_valid_key_000000000001")
		assert.NoError(t, err)
	})
	t.Run("caller's context ends first", func(t *testing.T) {
		f := newFake(t)
		f.fail(slow(5 * time.Second))
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := f.client(t).Validate(ctx, "sk_x")
		assert.ErrorIs(t, err, apikey.ErrUnavailable)
	})
	t.Run("no retry when the budget is nearly spent", func(t *testing.T) {
		f := newFake(t)
		f.fail(func(w http.ResponseWriter, r *http.Request) bool {
			time.Sleep(150 * time.Millisecond)
			return reply(500, ``)(w, r)
		})
		c := f.client(t, WithValidationTimeout(200*time.Millisecond))
		_, err := c.Validate(context.Background(), "sk_x")
		assert.ErrorIs(t, err, apikey.ErrUnavailable)
		assert.Len(t, f.recorded(), 1)
	})
	t.Run("connection refused", func(t *testing.T) {
		c, err := New(testSecret, WithBaseURL(closedURL(t)), WithSleep(noSleep))
		require.NoError(t, err)
		_, err = c.Validate(context.Background(), "sk_x")
		assert.ErrorIs(t, err, apikey.ErrUnavailable)
	})
}

func TestValidateJSONRoundTrip(t *testing.T) {
	// The request body is exactly {"value": ...}, whatever the value.
	for _, v := range []string{"sk_plain", `sk_"quoted"`, "sk_\u00e9\u2028", "sk_<html>&"} {
		f := newFake(t)
		_, _ = f.client(t).Validate(context.Background(), v)
		reqs := f.recorded()
		require.Len(t, reqs, 1)
		var got map[string]string
		require.NoError(t, json.Unmarshal(reqs[0].Body, &got))
		assert.Equal(t, map[string]string{"value": v}, got)
	}
}
