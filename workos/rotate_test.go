package workos

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/apikeyauth/apikey"
	"github.com/apikeyauth/apikey/workos/workostest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRotateKey(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	const oldValue = "sk_old_value_000000000000000001"

	t.Run("no grace deletes the old key", func(t *testing.T) {
		f := workostest.NewServer(t)
		f.SetClock(clock)
		old := f.AddKey(oldValue, "Billing", "org_1", "posts:read", "posts:write")
		inv := &recordingInvalidator{}
		c := connect(newClient(t, f, WithClock(clock)), inv)
		rot, err := c.RotateKey(context.Background(), oldValue, RotateOptions{})
		require.NoError(t, err)
		assert.Equal(t, old.ID, rot.Old.ID)
		assert.True(t, rot.OldExpiresAt.IsZero())
		assert.NotEmpty(t, rot.New.Value)
		assert.Equal(t, "Billing", rot.New.Key.Name)
		assert.Equal(t, []string{"posts:read", "posts:write"}, rot.New.Key.Permissions)
		assert.Equal(t, apikey.Owner{Type: "organization", ID: "org_1"}, rot.New.Key.Owner)

		_, err = c.Validate(context.Background(), oldValue)
		assert.ErrorIs(t, err, apikey.ErrInvalidKey)
		k, err := c.Validate(context.Background(), rot.New.Value)
		require.NoError(t, err)
		assert.Equal(t, rot.New.Key.ID, k.ID)
		assert.Equal(t, []string{old.ID}, inv.all())

		var paths []string
		for _, r := range f.Requests() {
			paths = append(paths, r.Method+" "+r.Path)
		}
		assert.Equal(t, []string{
			"POST /api_keys/validations", "POST /organizations/org_1/api_keys", "DELETE /api_keys/" + old.ID,
			"POST /api_keys/validations", "POST /api_keys/validations",
		}, paths)
		assert.JSONEq(t, `{"name":"Billing","permissions":["posts:read","posts:write"]}`, string(f.Requests()[1].Body))
	})
	t.Run("a grace period expires the old key later", func(t *testing.T) {
		f := workostest.NewServer(t)
		f.SetClock(clock)
		old := f.AddKey(oldValue, "Billing", "org_1", "posts:read")
		c := newClient(t, f, WithClock(clock))
		rot, err := c.RotateKey(context.Background(), oldValue, RotateOptions{GracePeriod: time.Hour})
		require.NoError(t, err)
		assert.Equal(t, now.Add(time.Hour), rot.OldExpiresAt)
		assert.Equal(t, now.Add(time.Hour), serverKey(t, f, old.ID).ExpiresAt)
		_, err = c.Validate(context.Background(), oldValue)
		assert.NoError(t, err, "the old key works during the grace period")
		assert.JSONEq(t, `{"expires_at":"2026-03-01T13:00:00.000Z"}`, string(f.Requests()[2].Body), "milliseconds, as WorkOS writes them")
	})
	t.Run("an old key that expires sooner is left alone", func(t *testing.T) {
		f := workostest.NewServer(t)
		f.SetClock(clock)
		old := f.AddKey(oldValue, "Billing", "org_1")
		f.SetExpiresAt(old.ID, now.Add(time.Minute))
		rot, err := newClient(t, f, WithClock(clock)).RotateKey(context.Background(), oldValue, RotateOptions{GracePeriod: time.Hour})
		require.NoError(t, err)
		assert.Equal(t, now.Add(time.Minute), rot.OldExpiresAt)
		assert.Len(t, f.Requests(), 2, "validate and create only")
	})
	t.Run("user-owned keys are refused", func(t *testing.T) {
		f := workostest.NewServer(t)
		f.AddUserKey(oldValue, "Mine", "user_1", "org_1")
		_, err := newClient(t, f).RotateKey(context.Background(), oldValue, RotateOptions{})
		assert.ErrorIs(t, err, ErrUserOwnedKey)
		assert.Len(t, f.Requests(), 1, "nothing created")
	})
	t.Run("an invalid old key creates nothing", func(t *testing.T) {
		f := workostest.NewServer(t)
		_, err := newClient(t, f).RotateKey(context.Background(), oldValue, RotateOptions{})
		assert.ErrorIs(t, err, apikey.ErrInvalidKey)
		assert.Len(t, f.Requests(), 1)
	})
	t.Run("the new value survives a failure to retire the old key", func(t *testing.T) {
		f := workostest.NewServer(t)
		f.AddKey(oldValue, "Billing", "org_1")
		f.Fail(nil, nil, workostest.Reply(403, `{"message":"Forbidden"}`))
		rot, err := newClient(t, f).RotateKey(context.Background(), oldValue, RotateOptions{})
		assert.ErrorIs(t, err, ErrOldKeyNotRetired)
		assert.ErrorIs(t, err, ErrUnauthorized)
		require.NotNil(t, rot)
		assert.NotEmpty(t, rot.New.Value)
		assert.NotContains(t, err.Error(), rot.New.Value)
	})
	t.Run("a malformed create answer keeps the new value and the old key", func(t *testing.T) {
		f := workostest.NewServer(t)
		old := f.AddKey(oldValue, "Billing", "org_1")
		f.Fail(nil, workostest.Reply(201, `{"id":"api_key_new","name":"Billing","expires_at":"2030-01-01","value":"sk_new_value_000000000000001"}`))
		c := newClient(t, f)
		rot, err := c.RotateKey(context.Background(), oldValue, RotateOptions{})
		assert.ErrorIs(t, err, ErrOldKeyNotRetired)
		assert.ErrorIs(t, err, ErrMalformedResponse)
		require.NotNil(t, rot)
		assert.Equal(t, "sk_new_value_000000000000001", rot.New.Value)
		assert.Equal(t, "api_key_new", rot.New.Key.ID)
		assert.Equal(t, old.ID, rot.Old.ID)
		assert.NotContains(t, err.Error(), rot.New.Value)
		assert.Len(t, f.Requests(), 2, "validate and create only: the old key is left working")
		_, err = c.Validate(context.Background(), oldValue)
		assert.NoError(t, err)
	})
	t.Run("a failed create retires nothing", func(t *testing.T) {
		f := workostest.NewServer(t)
		f.AddKey(oldValue, "Billing", "org_1")
		f.Fail(nil, workostest.Reply(422, `{"message":"Validation failed."}`))
		rot, err := newClient(t, f).RotateKey(context.Background(), oldValue, RotateOptions{})
		assert.ErrorIs(t, err, ErrBadRequest)
		assert.Nil(t, rot)
		assert.Len(t, f.Requests(), 2)
	})
	t.Run("bad arguments", func(t *testing.T) {
		c := newClient(t, workostest.NewServer(t))
		_, err := c.RotateKey(context.Background(), "", RotateOptions{})
		assert.ErrorIs(t, err, ErrInvalidArgument)
		_, err = c.RotateKeyByID(context.Background(), "", "api_key_1", RotateOptions{})
		assert.ErrorIs(t, err, ErrInvalidArgument)
		_, err = c.RotateKeyByID(context.Background(), "org_1", "", RotateOptions{})
		assert.ErrorIs(t, err, ErrInvalidArgument)
	})
	t.Run("negative grace", func(t *testing.T) {
		f := workostest.NewServer(t)
		f.AddKey(oldValue, "Billing", "org_1")
		_, err := newClient(t, f).RotateKey(context.Background(), oldValue, RotateOptions{GracePeriod: -time.Second})
		assert.ErrorIs(t, err, ErrInvalidArgument)
	})
}

func TestRotateKeyByID(t *testing.T) {
	t.Run("found on a later page", func(t *testing.T) {
		f := workostest.NewServer(t)
		var target workostest.Key
		for i := range 150 {
			k := f.AddKey(fmt.Sprintf("sk_many_%030d", i), fmt.Sprint("key ", i), "org_1", "p")
			if i == 120 {
				target = k
			}
		}
		c := newClient(t, f)
		rot, err := c.RotateKeyByID(context.Background(), "org_1", target.ID, RotateOptions{GracePeriod: time.Minute})
		require.NoError(t, err)
		assert.Equal(t, "key 120", rot.New.Key.Name)
		assert.False(t, serverKey(t, f, target.ID).ExpiresAt.IsZero())
	})
	t.Run("not in the organization", func(t *testing.T) {
		f := workostest.NewServer(t)
		f.AddKey("sk_a_000000000000000000000000001", "a", "org_1")
		_, err := newClient(t, f).RotateKeyByID(context.Background(), "org_1", "api_key_nope", RotateOptions{})
		assert.ErrorIs(t, err, ErrNotFound)
		_, err = newClient(t, f).RotateKeyByID(context.Background(), "org_unknown", "api_key_nope", RotateOptions{})
		assert.ErrorIs(t, err, ErrNotFound)
	})
	t.Run("listing fails", func(t *testing.T) {
		f := workostest.NewServer(t)
		f.Fail(workostest.Reply(401, ``))
		_, err := newClient(t, f).RotateKeyByID(context.Background(), "org_1", "api_key_1", RotateOptions{})
		assert.ErrorIs(t, err, ErrUnauthorized)
	})
}
