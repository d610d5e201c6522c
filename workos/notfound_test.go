package workos

import (
	"context"
	"testing"
	"time"

	"github.com/apikeyauth/apikey"
	"github.com/apikeyauth/apikey/workos/workostest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// managementCalls are the calls that name an object in their path, each
// run once and returning its error.
var managementCalls = []struct {
	name string
	call func(c *Client, id string) error
}{
	{"DeleteKey", func(c *Client, id string) error { return c.DeleteKey(context.Background(), id) }},
	{"ExpireKey", func(c *Client, id string) error { _, err := c.ExpireKey(context.Background(), id); return err }},
	{"ExpireKeyAt", func(c *Client, id string) error {
		_, err := c.ExpireKeyAt(context.Background(), id, time.Now().Add(time.Hour))
		return err
	}},
	{"ListOrganizationKeys", func(c *Client, id string) error {
		for _, err := range c.ListOrganizationKeys(context.Background(), id, nil) {
			if err != nil {
				return err
			}
		}
		return nil
	}},
	{"CreateOrganizationKey", func(c *Client, id string) error {
		_, err := c.CreateOrganizationKey(context.Background(), id, CreateKeyParams{Name: "n"})
		return err
	}},
}

// TestNotFoundIsTheObjectNotTheRoute checks that only WorkOS's answer for
// an object it does not know reads as not found: a 404 from a path that
// is no endpoint (a wrong base URL) must never read as "no such key", nor
// as "no keys", nor as "already deleted".
func TestNotFoundIsTheObjectNotTheRoute(t *testing.T) {
	for _, tt := range managementCalls {
		t.Run(tt.name+" of an unknown object", func(t *testing.T) {
			f := workostest.NewServer(t)
			err := tt.call(newClient(t, f), "api_key_nope")
			assert.ErrorIs(t, err, ErrNotFound)
			assert.NotErrorIs(t, err, ErrRouteNotFound)
			assert.NotErrorIs(t, err, apikey.ErrMisconfigured)
		})
		t.Run(tt.name+" under a wrong base URL", func(t *testing.T) {
			f := workostest.NewServer(t)
			// The ID names both a key and an organization the fake knows:
			// under the right base URL every call would find its object.
			f.AddKey("sk_route_000000000000000001", "k", "api_key_0001")
			c := newClient(t, f, WithBaseURL(f.URL+"/v1"))
			err := tt.call(c, "api_key_0001")
			assert.ErrorIs(t, err, ErrRouteNotFound)
			assert.ErrorIs(t, err, apikey.ErrMisconfigured)
			assert.NotErrorIs(t, err, ErrNotFound)
			reqs := f.Requests()
			require.NotEmpty(t, reqs)
			assert.Contains(t, reqs[0].Path, "/v1/")
		})
	}

	t.Run("the body decides", func(t *testing.T) {
		for _, tt := range []struct {
			body string
			want error
		}{
			// WorkOS's own answers for an unknown object: the API's
			// description, and its emulator.
			{`{"message":"API Key not found: 'api_key_01EHZNVPK3SFK441A1RGBFSHRT'."}`, ErrNotFound},
			{`{"message":"Organization not found: 'org_01EHZNVPK3SFK441A1RGBFSHRT'."}`, ErrNotFound},
			{`{"message":"ApiKey not found","code":"not_found"}`, ErrNotFound},
			{`{"message":"api key NOT FOUND"}`, ErrNotFound},
			{`{"error":"not_found","error_description":"Organization not found"}`, ErrNotFound},
			// An unknown route: WorkOS's emulator, a NestJS default, a proxy
			// or a web server's page, nothing at all.
			{`{"message":"Not Found","code":"not_found"}`, ErrRouteNotFound},
			{`{"statusCode":404,"message":"Cannot DELETE /v1/api_keys/api_key_1","error":"Not Found"}`, ErrRouteNotFound},
			{`{"message":"Resource not found"}`, ErrRouteNotFound},
			{`{"code":"not_found"}`, ErrRouteNotFound},
			{`<html><body><h1>404 Not Found</h1></body></html>`, ErrRouteNotFound},
			// WorkOS's words, but not where WorkOS puts them, or not
			// naming the object first: unrecognised, so never "gone".
			{`<html><body>API Key not found</body></html>`, ErrRouteNotFound},
			{`{"detail":"API Key not found"}`, ErrRouteNotFound},
			{`{"message":"Not Found: API Key not found"}`, ErrRouteNotFound},
			{`{"message":"User not found"}`, ErrRouteNotFound},
			{`{"message":" not found"}`, ErrRouteNotFound},
			{``, ErrRouteNotFound},
		} {
			f := workostest.NewServer(t)
			f.Fail(workostest.Reply(404, tt.body))
			err := newClient(t, f).DeleteKey(context.Background(), "api_key_1")
			assert.ErrorIs(t, err, tt.want, tt.body)
			other := ErrNotFound
			if tt.want == ErrNotFound {
				other = ErrRouteNotFound
			}
			assert.NotErrorIs(t, err, other, tt.body)
		}
	})

	t.Run("a route's 404 after a lost answer is no delete", func(t *testing.T) {
		// After a hang-up, WorkOS's "not found" means the lost attempt
		// deleted the key; a 404 from elsewhere says nothing of the kind.
		f := workostest.NewServer(t)
		f.Fail(workostest.HangUp(), workostest.Reply(404, `{"message":"Not Found","code":"not_found"}`))
		err := newClient(t, f).DeleteKey(context.Background(), "api_key_1")
		assert.ErrorIs(t, err, ErrRouteNotFound)
	})

	t.Run("a rotation does not take a route's 404 for a retired key", func(t *testing.T) {
		f := workostest.NewServer(t)
		k := f.AddKey("sk_rotate_route_000000000001", "k", "org_1")
		// The list and the create go through; the delete meets a proxy's 404.
		f.Fail(nil, nil, workostest.Reply(404, `{"message":"Not Found"}`))
		rot, err := newClient(t, f).RotateKeyByID(context.Background(), "org_1", k.ID, RotateOptions{})
		assert.ErrorIs(t, err, ErrOldKeyNotRetired)
		assert.ErrorIs(t, err, ErrRouteNotFound)
		require.NotNil(t, rot)
		assert.NotEmpty(t, rot.New.Value)
	})
}
