package workos

import (
	"context"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/apikeyauth/apikey"
	"github.com/apikeyauth/apikey/workos/workostest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCreateOrganizationKey(t *testing.T) {
	t.Run("fixtures", func(t *testing.T) {
		for _, tt := range []struct {
			fixture, value, id string
			expires            time.Time
		}{
			{fixtureCreateNode, "sk_live_abc123xyz789", "api_key_01H5JQDV7R7ATEYZDEG0W5PRYV", time.Time{}},
			{fixtureCreateSpec, "sk_abcdefghijklmnop123456", "api_key_01EHZNVPK3SFK441A1RGBFSHRT", mustTime("2030-01-01T00:00:00.000Z")},
		} {
			t.Run(tt.id, func(t *testing.T) {
				f := workostest.NewServer(t)
				f.Fail(workostest.Reply(201, tt.fixture))
				got, err := newClient(t, f).CreateOrganizationKey(context.Background(), "org_01EHT88Z8J8795GZNQ4ZP1J81T",
					CreateKeyParams{Name: "New API Key", Permissions: []string{"read", "write"}})
				require.NoError(t, err)
				assert.Equal(t, tt.value, got.Value)
				assert.Equal(t, tt.id, got.Key.ID)
				assert.Equal(t, "organization", got.Key.Owner.Type)
				assert.True(t, tt.expires.Equal(got.Key.ExpiresAt))
				assert.NotContains(t, fmt.Sprint(got), tt.value)
				assert.NotContains(t, fmt.Sprintf("%+v %#v %s %v", got, got, *got, []any{got}), tt.value)

				reqs := f.Requests()
				require.Len(t, reqs, 1)
				assert.Equal(t, "POST", reqs[0].Method)
				assert.Equal(t, "/organizations/org_01EHT88Z8J8795GZNQ4ZP1J81T/api_keys", reqs[0].Path)
				assert.JSONEq(t, `{"name":"New API Key","permissions":["read","write"]}`, string(reqs[0].Body))
				assert.NotEmpty(t, reqs[0].Header.Get("Idempotency-Key"))
			})
		}
	})
	t.Run("against the fake, the value then validates", func(t *testing.T) {
		f := workostest.NewServer(t)
		f.AddKey("sk_existing_0000000000000001", "Existing", "org_1")
		c := newClient(t, f)
		exp := time.Now().Add(24 * time.Hour).UTC().Truncate(time.Millisecond)
		got, err := c.CreateOrganizationKey(context.Background(), "org_1",
			CreateKeyParams{Name: "CI", Permissions: []string{"posts:read"}, ExpiresAt: exp, IdempotencyKey: "idem-1"})
		require.NoError(t, err)
		reqs := f.Requests()
		assert.JSONEq(t, fmt.Sprintf(`{"name":"CI","permissions":["posts:read"],"expires_at":%q}`, exp.Format(millisUTC)), string(reqs[0].Body))
		assert.Equal(t, "idem-1", reqs[0].Header.Get("Idempotency-Key"))
		k, err := c.Validate(context.Background(), got.Value)
		require.NoError(t, err)
		assert.Equal(t, got.Key.ID, k.ID)
		assert.True(t, exp.Equal(k.ExpiresAt))
	})
	t.Run("retries carry one Idempotency-Key and make one key", func(t *testing.T) {
		f := workostest.NewServer(t)
		f.AddKey("sk_existing_0000000000000001", "Existing", "org_1")
		// The first attempt creates the key but its answer is lost.
		f.Fail(f.LostAnswer(), workostest.Reply(500, ``), workostest.Reply(503, ``, "Retry-After", "1"))
		s := &recordingSleep{}
		got, err := newClient(t, f, withSleep(s.sleep)).CreateOrganizationKey(context.Background(), "org_1", CreateKeyParams{Name: "CI"})
		require.NoError(t, err)
		var idem []string
		for _, r := range f.Requests() {
			if r.Method == "POST" {
				idem = append(idem, r.Header.Get("Idempotency-Key"))
			}
		}
		require.Len(t, idem, 4)
		for _, k := range idem {
			assert.Equal(t, idem[0], k)
		}
		n := 0
		for k := range newClient(t, f).ListOrganizationKeys(context.Background(), "org_1", nil) {
			if k.Name == "CI" {
				n++
				assert.Equal(t, got.Key.ID, k.ID)
			}
		}
		assert.Equal(t, 1, n)
		assert.Len(t, s.all(), 3)
		assert.Equal(t, time.Second, s.all()[2], "Retry-After is honoured")
	})
	t.Run("validation failure", func(t *testing.T) {
		f := workostest.NewServer(t)
		f.Fail(workostest.Reply(422, `{"message":"Validation failed.","errors":[{"code":"required","field":"name"}]}`, "X-Request-ID", "req_422"))
		_, err := newClient(t, f).CreateOrganizationKey(context.Background(), "org_1", CreateKeyParams{Name: "x"})
		assert.ErrorIs(t, err, ErrBadRequest)
		var ae *APIError
		require.ErrorAs(t, err, &ae)
		assert.Equal(t, 422, ae.StatusCode)
		assert.Equal(t, "Validation failed.", ae.Message)
		assert.Equal(t, []FieldError{{Field: "name", Code: "required"}}, ae.Errors)
		assert.Equal(t, "req_422", ae.RequestID)
		assert.Len(t, f.Requests(), 1)
	})
	t.Run("unknown organization", func(t *testing.T) {
		f := workostest.NewServer(t)
		_, err := newClient(t, f).CreateOrganizationKey(context.Background(), "org_nope", CreateKeyParams{Name: "x"})
		assert.ErrorIs(t, err, ErrNotFound)
	})
	t.Run("no value in the answer fails", func(t *testing.T) {
		f := workostest.NewServer(t)
		f.Fail(workostest.Reply(201, `{"id":"api_key_1","name":"x"}`))
		_, err := newClient(t, f).CreateOrganizationKey(context.Background(), "org_1", CreateKeyParams{Name: "x"})
		assert.ErrorIs(t, err, ErrMalformedResponse)
	})
	t.Run("a malformed answer with a value keeps the value", func(t *testing.T) {
		// WorkOS made the key and showed its value once: an odd other field
		// must not make the client drop it.
		requested := time.Date(2031, 2, 3, 4, 5, 6, 0, time.UTC)
		const rest = `"owner":{"type":"organization","id":"org_1"},"name":"n","obfuscated_value":"sk_...9999","value":"sk_created_value_9999"`
		tests := []struct {
			name, body  string
			id          string
			wantExpires time.Time
		}{
			{"date-only expires_at", `{"id":"api_key_9","expires_at":"2030-01-01",` + rest + `}`, "api_key_9", requested},
			{"expires_at of the wrong type", `{"id":"api_key_9","expires_at":20300101,` + rest + `}`, "api_key_9", requested},
			{"permissions of the wrong type", `{"id":"api_key_9","permissions":"all","expires_at":"2030-01-01T00:00:00.000Z",` + rest + `}`, "api_key_9", mustTime("2030-01-01T00:00:00.000Z")},
			{"no id", `{` + rest + `}`, "", requested},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				f := workostest.NewServer(t)
				f.Fail(workostest.Reply(201, tt.body))
				got, err := newClient(t, f).CreateOrganizationKey(context.Background(), "org_1", CreateKeyParams{Name: "n", ExpiresAt: requested})
				require.NotNil(t, got, "the key exists: its one-time value must be returned")
				assert.ErrorIs(t, err, ErrMalformedResponse)
				assert.Equal(t, "sk_created_value_9999", got.Value)
				assert.Equal(t, tt.id, got.Key.ID)
				assert.Equal(t, "n", got.Key.Name)
				assert.True(t, tt.wantExpires.Equal(got.Key.ExpiresAt), "expiry %v", got.Key.ExpiresAt)
				assert.NotContains(t, err.Error(), got.Value)
			})
		}
	})
	t.Run("not JSON or no value returns no key", func(t *testing.T) {
		for _, body := range []string{`{"id":"api_key_1","value":`, `{"id":"api_key_1","value":""}`, `[]`} {
			f := workostest.NewServer(t)
			f.Fail(workostest.Reply(201, body))
			got, err := newClient(t, f).CreateOrganizationKey(context.Background(), "org_1", CreateKeyParams{Name: "x"})
			assert.Nil(t, got, body)
			assert.ErrorIs(t, err, ErrMalformedResponse, body)
		}
	})
	t.Run("bad arguments send nothing", func(t *testing.T) {
		f := workostest.NewServer(t)
		c := newClient(t, f)
		_, err := c.CreateOrganizationKey(context.Background(), "", CreateKeyParams{Name: "x"})
		assert.ErrorIs(t, err, ErrInvalidArgument)
		_, err = c.CreateOrganizationKey(context.Background(), "org_1", CreateKeyParams{})
		assert.ErrorIs(t, err, ErrInvalidArgument)
		assert.Empty(t, f.Requests())
	})
}

func TestDeleteKey(t *testing.T) {
	f := workostest.NewServer(t)
	k := f.AddKey("sk_to_delete_000000000000001", "Doomed", "org_1")
	inv := &recordingInvalidator{}
	c := connect(newClient(t, f), inv)

	t.Run("deletes and invalidates", func(t *testing.T) {
		require.NoError(t, c.DeleteKey(context.Background(), k.ID))
		reqs := f.Requests()
		assert.Equal(t, "DELETE", reqs[len(reqs)-1].Method)
		assert.Equal(t, "/api_keys/"+k.ID, reqs[len(reqs)-1].Path)
		assert.Equal(t, []string{k.ID}, inv.all())
		_, err := c.Validate(context.Background(), "sk_to_delete_000000000000001")
		assert.ErrorIs(t, err, apikey.ErrInvalidKey)
	})
	t.Run("again is not found, and still invalidates", func(t *testing.T) {
		err := c.DeleteKey(context.Background(), k.ID)
		assert.ErrorIs(t, err, ErrNotFound)
		var ae *APIError
		require.ErrorAs(t, err, &ae)
		assert.Equal(t, "not_found", ae.Code)
		assert.Equal(t, []string{k.ID, k.ID}, inv.all())
	})
	t.Run("404 on a retry is success", func(t *testing.T) {
		k2 := f.AddKey("sk_to_delete_000000000000002", "Doomed too", "org_1")
		f.Fail(f.LostAnswer())
		assert.NoError(t, c.DeleteKey(context.Background(), k2.ID))
	})
	t.Run("404 after a 5xx is not found", func(t *testing.T) {
		// A 5xx is an answer: the typo never existed, the retry says so.
		f.Fail(workostest.Reply(503, `{"message":"unavailable"}`))
		err := c.DeleteKey(context.Background(), "api_key_typo")
		assert.ErrorIs(t, err, ErrNotFound)
	})
	t.Run("IDs are escaped as one path segment", func(t *testing.T) {
		for _, id := range []string{"a/b", "a?b#c", "%2F", "ü"} {
			err := c.DeleteKey(context.Background(), id)
			assert.ErrorIs(t, err, ErrNotFound, id)
			reqs := f.Requests()
			assert.Equal(t, "/api_keys/"+url.PathEscape(id), reqs[len(reqs)-1].Path)
		}
	})
	t.Run("bad IDs send nothing", func(t *testing.T) {
		n := len(f.Requests())
		for _, id := range []string{"", ".", "..", "a b", "a\nb", string(make([]byte, 300))} {
			assert.ErrorIs(t, c.DeleteKey(context.Background(), id), ErrInvalidArgument)
		}
		assert.Len(t, f.Requests(), n)
	})
}

func TestExpireKey(t *testing.T) {
	now := time.Now()
	t.Run("now", func(t *testing.T) {
		f := workostest.NewServer(t)
		k := f.AddKey("sk_expire_me_0000000000000001", "Old", "org_1")
		inv := &recordingInvalidator{}
		c := connect(newClient(t, f), inv)
		got, err := c.ExpireKey(context.Background(), k.ID)
		require.NoError(t, err)
		assert.Equal(t, k.ID, got.ID)
		assert.False(t, got.ExpiresAt.IsZero())
		reqs := f.Requests()
		assert.Equal(t, "/api_keys/"+k.ID+"/expire", reqs[0].Path)
		assert.JSONEq(t, `{}`, string(reqs[0].Body))
		assert.Equal(t, []string{k.ID}, inv.all())
		assert.Equal(t, []apikey.Origin{apikey.OriginLocal}, inv.origins())
		_, err = c.Validate(context.Background(), "sk_expire_me_0000000000000001")
		assert.ErrorIs(t, err, apikey.ErrInvalidKey)

		_, err = c.ExpireKey(context.Background(), k.ID)
		assert.ErrorIs(t, err, ErrAlreadyExpired)
		assert.Equal(t, []string{k.ID, k.ID}, inv.all())
	})
	t.Run("at a future time", func(t *testing.T) {
		f := workostest.NewServer(t)
		k := f.AddKey("sk_expire_me_0000000000000002", "Old", "org_1")
		at := now.Add(time.Hour).UTC().Truncate(time.Millisecond)
		got, err := newClient(t, f).ExpireKeyAt(context.Background(), k.ID, at)
		require.NoError(t, err)
		assert.True(t, at.Equal(got.ExpiresAt))
		assert.JSONEq(t, fmt.Sprintf(`{"expires_at":%q}`, at.Format(millisUTC)), string(f.Requests()[0].Body))
	})
	t.Run("in the past is refused by WorkOS", func(t *testing.T) {
		f := workostest.NewServer(t)
		k := f.AddKey("sk_expire_me_0000000000000003", "Old", "org_1")
		_, err := newClient(t, f).ExpireKeyAt(context.Background(), k.ID, now.Add(-time.Hour))
		assert.ErrorIs(t, err, ErrBadRequest)
	})
	t.Run("zero time", func(t *testing.T) {
		_, err := newClient(t, workostest.NewServer(t)).ExpireKeyAt(context.Background(), "api_key_1", time.Time{})
		assert.ErrorIs(t, err, ErrInvalidArgument)
	})
	t.Run("409 fixture", func(t *testing.T) {
		f := workostest.NewServer(t)
		f.Fail(workostest.Reply(409, fixtureErrExpired))
		_, err := newClient(t, f).ExpireKey(context.Background(), "api_key_1")
		assert.ErrorIs(t, err, ErrAlreadyExpired)
		var ae *APIError
		require.ErrorAs(t, err, &ae)
		assert.Equal(t, "api_key_already_expired", ae.Code)
	})
	t.Run("unknown", func(t *testing.T) {
		f := workostest.NewServer(t)
		_, err := newClient(t, f).ExpireKey(context.Background(), "api_key_nope")
		assert.ErrorIs(t, err, ErrNotFound)
	})
	t.Run("409 on a retry after a lost answer is success", func(t *testing.T) {
		f := workostest.NewServer(t)
		k := f.AddKey("sk_expire_me_0000000000000005", "Old", "org_1")
		f.Fail(f.LostAnswer()) // expired, but the answer never comes back
		got, err := newClient(t, f).ExpireKey(context.Background(), k.ID)
		require.NoError(t, err, "this very call expired the key")
		assert.Equal(t, k.ID, got.ID)
		assert.False(t, got.ExpiresAt.IsZero())
		assert.Len(t, f.Requests(), 2)
	})
	t.Run("409 after a 5xx is already expired", func(t *testing.T) {
		f := workostest.NewServer(t)
		k := f.AddKey("sk_expire_me_0000000000000006", "Old", "org_1")
		f.SetExpiresAt(k.ID, now.Add(-time.Hour))
		f.Fail(workostest.Reply(503, ``))
		_, err := newClient(t, f).ExpireKey(context.Background(), k.ID)
		assert.ErrorIs(t, err, ErrAlreadyExpired)
	})
	t.Run("idempotency key kept across retries", func(t *testing.T) {
		f := workostest.NewServer(t)
		k := f.AddKey("sk_expire_me_0000000000000004", "Old", "org_1")
		f.Fail(workostest.Reply(500, ``), workostest.Reply(429, ``))
		_, err := newClient(t, f).ExpireKey(context.Background(), k.ID)
		require.NoError(t, err)
		reqs := f.Requests()
		require.Len(t, reqs, 3)
		assert.NotEmpty(t, reqs[0].Header.Get("Idempotency-Key"))
		assert.Equal(t, reqs[0].Header.Get("Idempotency-Key"), reqs[1].Header.Get("Idempotency-Key"))
		assert.Equal(t, reqs[0].Header.Get("Idempotency-Key"), reqs[2].Header.Get("Idempotency-Key"))
	})
}

func TestListOrganizationKeys(t *testing.T) {
	t.Run("fixture", func(t *testing.T) {
		f := workostest.NewServer(t)
		f.Fail(workostest.Reply(200, fixtureList), workostest.Reply(200, `{"object":"list","data":[],"list_metadata":{"before":null,"after":null}}`))
		var got []*apikey.Key
		for k, err := range newClient(t, f).ListOrganizationKeys(context.Background(), "org_01EHT88Z8J8795GZNQ4ZP1J81T", nil) {
			require.NoError(t, err)
			got = append(got, k)
		}
		require.Len(t, got, 2)
		assert.Equal(t, "Production Key", got[0].Name)
		assert.Equal(t, mustTime("2023-07-20T10:30:00.000Z"), got[0].LastUsedAt)
		assert.Equal(t, []string{"read"}, got[1].Permissions)
		reqs := f.Requests()
		require.Len(t, reqs, 2)
		assert.Equal(t, "GET", reqs[0].Method)
		assert.Equal(t, "/organizations/org_01EHT88Z8J8795GZNQ4ZP1J81T/api_keys", reqs[0].Path)
		assert.Equal(t, "100", reqs[0].Query.Get("limit"))
		assert.False(t, reqs[0].Query.Has("after"))
		assert.Equal(t, "api_key_01H5JQDV7R7ATEYZDEG0W5PRYT", reqs[1].Query.Get("after"))
	})
	t.Run("pages by itself", func(t *testing.T) {
		f := workostest.NewServer(t)
		var want []string
		for i := range 7 {
			want = append(want, f.AddKey(fmt.Sprintf("sk_list_%030d", i), fmt.Sprint("k", i), "org_1").ID)
		}
		f.AddKey("sk_other_org_0000000000000001", "other", "org_2")
		var got []string
		for k, err := range newClient(t, f).ListOrganizationKeys(context.Background(), "org_1", &ListOptions{Limit: 3, Order: "asc"}) {
			require.NoError(t, err)
			got = append(got, k.ID)
		}
		assert.Equal(t, want, got)
		reqs := f.Requests()
		assert.Len(t, reqs, 3)
		assert.Equal(t, "asc", reqs[0].Query.Get("order"))
		assert.Equal(t, "3", reqs[2].Query.Get("limit"))
	})
	t.Run("stopping early fetches no more pages", func(t *testing.T) {
		f := workostest.NewServer(t)
		for i := range 7 {
			f.AddKey(fmt.Sprintf("sk_list_%030d", i), "k", "org_1")
		}
		n := 0
		for range newClient(t, f).ListOrganizationKeys(context.Background(), "org_1", &ListOptions{Limit: 3}) {
			n++
			if n == 2 {
				break
			}
		}
		assert.Len(t, f.Requests(), 1)
	})
	t.Run("unknown organization answered 404 is not found", func(t *testing.T) {
		f := workostest.NewServer(t)
		var errs []error
		for k, err := range newClient(t, f).ListOrganizationKeys(context.Background(), "org_nope", nil) {
			assert.Nil(t, k)
			errs = append(errs, err)
		}
		require.Len(t, errs, 1)
		assert.ErrorIs(t, errs[0], ErrNotFound)
		assert.NotErrorIs(t, errs[0], ErrRouteNotFound)
	})
	t.Run("unknown organization answered 200, as the emulator does, has no keys", func(t *testing.T) {
		f := workostest.NewServer(t)
		f.SetUnknownOrganizationStatus(200)
		n := 0
		for _, err := range newClient(t, f).ListOrganizationKeys(context.Background(), "org_nope", nil) {
			require.NoError(t, err)
			n++
		}
		assert.Zero(t, n)
	})
	t.Run("an error ends the sequence", func(t *testing.T) {
		f := workostest.NewServer(t)
		for i := range 5 {
			f.AddKey(fmt.Sprintf("sk_list_%030d", i), "k", "org_1")
		}
		f.Fail(nil, workostest.Reply(401, `{"message":"Unauthorized"}`))
		var errs []error
		n := 0
		for k, err := range newClient(t, f).ListOrganizationKeys(context.Background(), "org_1", &ListOptions{Limit: 2}) {
			if err != nil {
				assert.Nil(t, k)
				errs = append(errs, err)
				continue
			}
			n++
		}
		assert.Equal(t, 2, n)
		require.Len(t, errs, 1)
		assert.ErrorIs(t, errs[0], ErrUnauthorized)
		assert.ErrorIs(t, errs[0], apikey.ErrMisconfigured)
	})
	t.Run("repeating cursor", func(t *testing.T) {
		f := workostest.NewServer(t)
		page := `{"object":"list","data":[{"id":"api_key_1"}],"list_metadata":{"before":null,"after":"api_key_1"}}`
		f.Fail(workostest.Reply(200, page), workostest.Reply(200, page))
		var last error
		n := 0
		for _, err := range newClient(t, f).ListOrganizationKeys(context.Background(), "org_1", nil) {
			n++
			last = err
		}
		assert.Equal(t, 3, n)
		assert.ErrorIs(t, last, ErrMalformedResponse)
	})
	t.Run("bad arguments", func(t *testing.T) {
		c := newClient(t, workostest.NewServer(t))
		for _, tt := range []struct {
			org  string
			opts *ListOptions
		}{{"", nil}, {"org_1", &ListOptions{Limit: 101}}, {"org_1", &ListOptions{Limit: -1}}} {
			for _, err := range c.ListOrganizationKeys(context.Background(), tt.org, tt.opts) {
				assert.ErrorIs(t, err, ErrInvalidArgument)
			}
		}
	})
	t.Run("malformed page", func(t *testing.T) {
		f := workostest.NewServer(t)
		f.Fail(workostest.Reply(200, `{"data":"nope"}`))
		for _, err := range newClient(t, f).ListOrganizationKeys(context.Background(), "org_1", nil) {
			assert.ErrorIs(t, err, ErrMalformedResponse)
		}
	})
	t.Run("oversized page", func(t *testing.T) {
		f := workostest.NewServer(t)
		f.Fail(workostest.Oversized(managementBodyLimit))
		for _, err := range newClient(t, f).ListOrganizationKeys(context.Background(), "org_1", nil) {
			assert.ErrorIs(t, err, ErrMalformedResponse)
		}
	})
}

// millisUTC is the timestamp layout of WorkOS's examples.
const millisUTC = "2006-01-02T15:04:05.000Z"

func TestFormatTime(t *testing.T) {
	tests := []struct {
		in   time.Time
		want string
	}{
		{time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), "2030-01-01T00:00:00.000Z"},
		{time.Date(2030, 1, 1, 0, 0, 0, 120_000_000, time.UTC), "2030-01-01T00:00:00.120Z"},
		{time.Date(2030, 1, 1, 0, 0, 0, 999_999_999, time.UTC), "2030-01-01T00:00:00.999Z"},
		{time.Date(2030, 1, 1, 2, 0, 0, 0, time.FixedZone("CEST", 2*3600)), "2030-01-01T00:00:00.000Z"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			assert.Equal(t, tt.want, formatTime(tt.in))
		})
	}
}

// TestInvalidateOnEveryOutcome: a delete or expire may have been applied
// whatever the client heard back, so the connected cache forgets the key
// in every case but an argument refused before sending.
func TestInvalidateOnEveryOutcome(t *testing.T) {
	ops := map[string]func(c *Client, id string) error{
		"delete": func(c *Client, id string) error { return c.DeleteKey(context.Background(), id) },
		"expire": func(c *Client, id string) error { _, err := c.ExpireKey(context.Background(), id); return err },
		"expire at": func(c *Client, id string) error {
			_, err := c.ExpireKeyAt(context.Background(), id, time.Now().Add(time.Hour))
			return err
		},
	}
	tests := []struct {
		name    string
		faults  func(f *workostest.Server) []workostest.Fault
		wantErr error
	}{
		{"success", func(*workostest.Server) []workostest.Fault { return nil }, nil},
		{"answer lost after WorkOS applied it", func(f *workostest.Server) []workostest.Fault { return []workostest.Fault{f.LostAnswer()} }, apikey.ErrUnavailable},
		{"no answer at all", func(*workostest.Server) []workostest.Fault { return []workostest.Fault{workostest.HangUp()} }, apikey.ErrUnavailable},
		{"5xx", func(*workostest.Server) []workostest.Fault { return []workostest.Fault{workostest.Reply(503, ``)} }, apikey.ErrUnavailable},
		{"401", func(*workostest.Server) []workostest.Fault { return []workostest.Fault{workostest.Reply(401, ``)} }, ErrUnauthorized},
	}
	for name, op := range ops {
		for _, tt := range tests {
			t.Run(name+": "+tt.name, func(t *testing.T) {
				f := workostest.NewServer(t)
				k := f.AddKey("sk_invalidate_me_000000000001", "k", "org_1")
				inv := &recordingInvalidator{}
				c := connect(newClient(t, f, WithRetries(0, 0, 0)), inv)
				f.Fail(tt.faults(f)...)
				err := op(c, k.ID)
				if tt.wantErr == nil {
					require.NoError(t, err)
				} else {
					assert.ErrorIs(t, err, tt.wantErr)
				}
				assert.Equal(t, []string{k.ID}, inv.all())
			})
		}
		t.Run(name+": refused ID", func(t *testing.T) {
			f := workostest.NewServer(t)
			inv := &recordingInvalidator{}
			c := connect(newClient(t, f), inv)
			assert.ErrorIs(t, op(c, "a b"), ErrInvalidArgument)
			assert.Empty(t, inv.all())
			assert.Empty(t, f.Requests())
		})
	}
}
