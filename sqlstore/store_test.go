package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apikeyauth/apikey"
)

func TestOpen(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		dsn  string
		opts []Option
	}{
		{"unknown scheme", "mysql://localhost/db", nil},
		{"bad prefix", "sqlite:" + t.TempDir() + "/k.db", []Option{WithKeyFormat(apikey.KeyFormat{Prefix: "no-dash"})}},
		{"zero poll interval", "sqlite:" + t.TempDir() + "/k.db", []Option{WithPollInterval(0)}},
		{"negative last-used interval", "sqlite:" + t.TempDir() + "/k.db", []Option{WithLastUsedInterval(-time.Second)}},
		{"nil clock", "sqlite:" + t.TempDir() + "/k.db", []Option{WithClock(nil)}},
		{"nil logger", "sqlite:" + t.TempDir() + "/k.db", []Option{WithLogger(nil)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(ctx, tc.dsn, tc.opts...)
			assert.Nil(t, s)
			assert.ErrorIs(t, err, apikey.ErrMisconfigured)
		})
	}
	t.Run("a database that does not answer", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		s, err := Open(ctx, "postgres://postgres:hunter2@127.0.0.1:1/test?sslmode=disable&connect_timeout=2")
		assert.Nil(t, s)
		require.Error(t, err)
		assert.NotContains(t, err.Error(), "hunter2")
	})
}

func TestMigrateTwice(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s := openStore(t, b.dsn(t))
			require.NoError(t, s.Migrate(context.Background()), "a second Migrate changes nothing")
			ms, err := s.migrations()
			require.NoError(t, err)
			var n int
			require.NoError(t, s.db.QueryRow("SELECT COUNT(*) FROM apikey_schema_migrations").Scan(&n))
			assert.Equal(t, len(ms), n)
		})
	}
}

// The whole life of keys, on each backend: create, validate, get, list,
// change permissions and metadata, expire, rotate, revoke.
func TestLifecycle(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			clk := newClock()
			s := openStore(t, b.dsn(t), WithClock(clk.Now))

			owner := apikey.Owner{Type: "organization", ID: "org_1"}
			k, value, err := s.Create(ctx, NewKey{Name: "CI", Owner: owner, Permissions: []string{"posts:read"},
				Metadata: map[string]string{"team": "infra"}})
			require.NoError(t, err)
			assert.True(t, testFormat.Check(value), "the value has the store's format")
			assert.True(t, strings.HasPrefix(k.ID, "key_"))
			assert.Equal(t, testFormat.DisplayValue(value), k.DisplayValue)
			assert.Equal(t, clk.Now(), k.CreatedAt)

			got, err := s.Validate(ctx, value)
			require.NoError(t, err)
			assert.Equal(t, k, got)
			got, err = s.Get(ctx, k.ID)
			require.NoError(t, err)
			assert.Equal(t, k, got)

			_, err = s.Validate(ctx, seededValue(t))
			assert.ErrorIs(t, err, apikey.ErrInvalidKey, "an unknown value")
			_, err = s.Get(ctx, "key_unknown")
			assert.ErrorIs(t, err, ErrNotFound)

			t.Run("permissions and metadata", func(t *testing.T) {
				clk.Add(time.Second)
				require.NoError(t, s.SetPermissions(ctx, k.ID, []string{"posts:read", "posts:write"}))
				require.NoError(t, s.SetMetadata(ctx, k.ID, map[string]string{"team": "web"}))
				got, err := s.Validate(ctx, value)
				require.NoError(t, err)
				assert.Equal(t, []string{"posts:read", "posts:write"}, got.Permissions)
				assert.Equal(t, map[string]string{"team": "web"}, got.Metadata)
				assert.Equal(t, clk.Now(), got.UpdatedAt)
				assert.ErrorIs(t, s.SetPermissions(ctx, "key_unknown", nil), ErrNotFound)
				assert.ErrorIs(t, s.SetMetadata(ctx, "key_unknown", nil), ErrNotFound)
				assert.ErrorIs(t, s.SetPermissions(ctx, k.ID, []string{"posts read"}), ErrInvalidInput)
			})

			t.Run("expire later, then now", func(t *testing.T) {
				k, value, err := s.Create(ctx, NewKey{Name: "short-lived", Owner: owner})
				require.NoError(t, err)
				require.NoError(t, s.Expire(ctx, k.ID, clk.Now().Add(time.Hour)))
				got, err := s.Validate(ctx, value)
				require.NoError(t, err)
				assert.Equal(t, clk.Now().Add(time.Hour), got.ExpiresAt)
				clk.Add(time.Hour)
				_, err = s.Validate(ctx, value)
				assert.ErrorIs(t, err, apikey.ErrInvalidKey, "expired by the clock")

				k, value, err = s.Create(ctx, NewKey{Name: "expired now", Owner: owner})
				require.NoError(t, err)
				require.NoError(t, s.Expire(ctx, k.ID, time.Time{}))
				_, err = s.Validate(ctx, value)
				assert.ErrorIs(t, err, apikey.ErrInvalidKey)
				assert.ErrorIs(t, s.Expire(ctx, "key_unknown", time.Time{}), ErrNotFound)
			})

			t.Run("rotate with a grace period", func(t *testing.T) {
				nk, newValue, err := s.Rotate(ctx, k.ID, 10*time.Minute)
				require.NoError(t, err)
				assert.NotEqual(t, k.ID, nk.ID)
				assert.NotEqual(t, value, newValue)
				assert.Equal(t, "CI", nk.Name)
				assert.Equal(t, owner, nk.Owner)
				assert.Equal(t, []string{"posts:read", "posts:write"}, nk.Permissions)
				assert.Equal(t, map[string]string{"team": "web"}, nk.Metadata)

				old, err := s.Validate(ctx, value)
				require.NoError(t, err, "the old key works during the grace period")
				assert.Equal(t, clk.Now().Add(10*time.Minute), old.ExpiresAt)
				_, err = s.Validate(ctx, newValue)
				require.NoError(t, err)

				clk.Add(10 * time.Minute)
				_, err = s.Validate(ctx, value)
				assert.ErrorIs(t, err, apikey.ErrInvalidKey, "the old key after the grace period")
				_, err = s.Validate(ctx, newValue)
				assert.NoError(t, err)

				_, _, err = s.Rotate(ctx, "key_unknown", 0)
				assert.ErrorIs(t, err, ErrNotFound)
				_, _, err = s.Rotate(ctx, nk.ID, -time.Second)
				assert.ErrorIs(t, err, ErrInvalidInput)

				k, value = nk, newValue
			})

			t.Run("rotate at once", func(t *testing.T) {
				nk, newValue, err := s.Rotate(ctx, k.ID, 0)
				require.NoError(t, err)
				_, err = s.Validate(ctx, value)
				assert.ErrorIs(t, err, apikey.ErrInvalidKey)
				_, err = s.Validate(ctx, newValue)
				assert.NoError(t, err)
				k, value = nk, newValue
			})

			t.Run("revoke", func(t *testing.T) {
				require.NoError(t, s.Revoke(ctx, k.ID))
				_, err := s.Validate(ctx, value)
				assert.ErrorIs(t, err, apikey.ErrInvalidKey)
				_, err = s.Get(ctx, k.ID)
				assert.ErrorIs(t, err, ErrNotFound)
				assert.ErrorIs(t, s.Revoke(ctx, k.ID), ErrNotFound)
			})
		})
	}
}

func TestList(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			clk := newClock()
			s := openStore(t, b.dsn(t), WithClock(clk.Now))
			var want []string
			for i := range 5 {
				clk.Add(time.Millisecond)
				k, _, err := s.Create(ctx, NewKey{Name: fmt.Sprint("key ", i), Owner: apikey.Owner{ID: "org_1"}})
				require.NoError(t, err)
				want = append(want, k.ID)
				_, _, err = s.Create(ctx, NewKey{Name: "other", Owner: apikey.Owner{ID: "org_2"}})
				require.NoError(t, err)
			}
			var got []string
			after, pages := "", 0
			for {
				p, err := s.List(ctx, "org_1", after, 2)
				require.NoError(t, err)
				pages++
				for _, k := range p.Keys {
					got = append(got, k.ID)
					assert.Equal(t, "org_1", k.Owner.ID)
					assert.Equal(t, "organization", k.Owner.Type, "the default owner type")
				}
				if p.After == "" {
					break
				}
				after = p.After
			}
			assert.Equal(t, want, got, "every key once, in the order of creation")
			assert.Equal(t, 3, pages)

			all, err := s.List(ctx, "", "", 0)
			require.NoError(t, err)
			assert.Len(t, all.Keys, 10)
			assert.Empty(t, all.After)

			_, err = s.List(ctx, "", "", MaxListLimit+1)
			assert.ErrorIs(t, err, ErrInvalidInput)
		})
	}
}

func TestCreateRefusesBadInput(t *testing.T) {
	s := openStore(t, sqliteTestDSN(t))
	owner := apikey.Owner{ID: "org_1"}
	tests := []struct {
		name string
		nk   NewKey
	}{
		{"no name", NewKey{Owner: owner}},
		{"blank name", NewKey{Name: "  ", Owner: owner}},
		{"long name", NewKey{Name: strings.Repeat("n", maxNameLen+1), Owner: owner}},
		{"no owner", NewKey{Name: "k"}},
		{"odd owner type", NewKey{Name: "k", Owner: apikey.Owner{Type: "robot", ID: "r"}}},
		{"permission with a space", NewKey{Name: "k", Owner: owner, Permissions: []string{"posts read"}}},
		{"permission with a quote", NewKey{Name: "k", Owner: owner, Permissions: []string{`posts"`}}},
		{"empty permission", NewKey{Name: "k", Owner: owner, Permissions: []string{""}}},
		{"too many permissions", NewKey{Name: "k", Owner: owner, Permissions: make([]string, maxPermissions+1)}},
		{"empty metadata key", NewKey{Name: "k", Owner: owner, Metadata: map[string]string{"": "v"}}},
		{"long metadata value", NewKey{Name: "k", Owner: owner, Metadata: map[string]string{"k": strings.Repeat("v", maxFieldLen+1)}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, value, err := s.Create(context.Background(), tc.nk)
			assert.ErrorIs(t, err, ErrInvalidInput)
			assert.Nil(t, k)
			assert.Empty(t, value)
		})
	}
	p, err := s.List(context.Background(), "", "", 0)
	require.NoError(t, err)
	assert.Empty(t, p.Keys, "nothing was stored")
}

// seededValue returns a well-formed value of testFormat that no store holds.
func seededValue(t testing.TB) string {
	t.Helper()
	v, err := testFormat.Generate()
	require.NoError(t, err)
	return v
}

// Text that PostgreSQL cannot store (a NUL, invalid UTF-8) gets the same
// answers on both backends: a key ID or owner that no key can have is not
// found, and Create refuses it as invalid input, never a database error.
func TestUnstorableText(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			s := openStore(t, b.dsn(t))
			k, _, err := s.Create(ctx, NewKey{Name: "k", Owner: apikey.Owner{ID: "org_1"}, Quota: &apikey.Quota{Remaining: 5}})
			require.NoError(t, err)
			for _, bad := range []string{"key_\x00", "\x00", "key_\xff", "org_\xc3", k.ID + "\x00"} {
				t.Run(fmt.Sprintf("%q", bad), func(t *testing.T) {
					_, err := s.Get(ctx, bad)
					assert.ErrorIs(t, err, ErrNotFound, "Get")
					assert.ErrorIs(t, s.Revoke(ctx, bad), ErrNotFound, "Revoke")
					assert.ErrorIs(t, s.Expire(ctx, bad, time.Time{}), ErrNotFound, "Expire")
					assert.ErrorIs(t, s.SetPermissions(ctx, bad, nil), ErrNotFound, "SetPermissions")
					assert.ErrorIs(t, s.SetMetadata(ctx, bad, nil), ErrNotFound, "SetMetadata")
					_, _, err = s.Rotate(ctx, bad, 0)
					assert.ErrorIs(t, err, ErrNotFound, "Rotate")
					assert.ErrorIs(t, s.SetLimits(ctx, bad, nil), ErrNotFound, "SetLimits")
					assert.ErrorIs(t, s.SetQuota(ctx, bad, nil), ErrNotFound, "SetQuota")
					assert.ErrorIs(t, s.MoveQuota(ctx, bad, k.ID), ErrNotFound, "MoveQuota from")
					assert.ErrorIs(t, s.MoveQuota(ctx, k.ID, bad), ErrNotFound, "MoveQuota to")
					_, err = s.Spend(ctx, &apikey.Key{ID: bad}, 1)
					assert.ErrorIs(t, err, apikey.ErrInvalidKey, "Spend")
					err = s.SetLimits(ctx, k.ID, []apikey.Limit{{Name: bad, Rate: 1, Period: time.Second}})
					assert.ErrorIs(t, err, ErrInvalidInput, "SetLimits with a bad name")
					p, err := s.List(ctx, bad, "", 0)
					assert.NoError(t, err, "List by owner")
					assert.Empty(t, p.Keys)
					_, err = s.List(ctx, "", bad, 0)
					assert.ErrorIs(t, err, ErrInvalidInput, "List after a cursor")

					for name, nk := range map[string]NewKey{
						"name":            {Name: bad, Owner: apikey.Owner{ID: "org_1"}},
						"owner":           {Name: "k", Owner: apikey.Owner{ID: bad}},
						"organization":    {Name: "k", Owner: apikey.Owner{Type: "user", ID: "u", OrganizationID: bad}},
						"metadata key":    {Name: "k", Owner: apikey.Owner{ID: "org_1"}, Metadata: map[string]string{bad: "v"}},
						"metadata value":  {Name: "k", Owner: apikey.Owner{ID: "org_1"}, Metadata: map[string]string{"k": bad}},
						"permission text": {Name: "k", Owner: apikey.Owner{ID: "org_1"}, Permissions: []string{bad}},
					} {
						_, _, err := s.Create(ctx, nk)
						assert.ErrorIs(t, err, ErrInvalidInput, "Create with a bad %s", name)
					}
					assert.ErrorIs(t, s.SetMetadata(ctx, k.ID, map[string]string{"k": bad}), ErrInvalidInput)
				})
			}
			_, err = s.Get(ctx, k.ID)
			assert.NoError(t, err, "the key is still there")
			p, err := s.List(ctx, "", "", 0)
			require.NoError(t, err)
			assert.Len(t, p.Keys, 1, "nothing else was stored")
		})
	}
}
