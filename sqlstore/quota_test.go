package sqlstore

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apikeyauth/apikey"
)

var _ apikey.QuotaStore = (*Store)(nil)

func quota(remaining int64, refill ...apikey.Refill) *apikey.Quota {
	q := &apikey.Quota{Remaining: remaining}
	if len(refill) > 0 {
		q.Refill = &refill[0]
	}
	return q
}

// A key's limits and quota go in with Create, come back from Get, List and
// Validate, change with SetLimits and SetQuota, and go away with nil.
func TestLimitsAndQuotaRoundTrip(t *testing.T) {
	limits := []apikey.Limit{
		{Rate: 5, Period: time.Second},
		{Name: "daily", Rate: 1000, Period: 24 * time.Hour, Burst: 50, Scope: apikey.ScopeOwner},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			clk := newClock()
			s := openStore(t, b.dsn(t), WithClock(clk.Now))
			k, value, err := s.Create(ctx, NewKey{Name: "k", Owner: apikey.Owner{ID: "org_1"}, Limits: limits,
				Quota: quota(100, apikey.Refill{Amount: 100, Interval: 24 * time.Hour})})
			require.NoError(t, err)
			want := quota(100, apikey.Refill{Amount: 100, Interval: 24 * time.Hour})
			assert.Equal(t, limits, k.Limits)
			assert.Equal(t, want, k.Quota)
			got, err := s.Get(ctx, k.ID)
			require.NoError(t, err)
			assert.Equal(t, k, got, "Get reads what Create returned")
			v, err := s.Validate(ctx, value)
			require.NoError(t, err)
			assert.Equal(t, limits, v.Limits)
			assert.Equal(t, want, v.Quota)
			page, err := s.List(ctx, "org_1", "", 0)
			require.NoError(t, err)
			require.Len(t, page.Keys, 1)
			assert.Equal(t, want, page.Keys[0].Quota)

			require.NoError(t, s.SetLimits(ctx, k.ID, limits[:1]))
			require.NoError(t, s.SetQuota(ctx, k.ID, quota(7)))
			got, err = s.Get(ctx, k.ID)
			require.NoError(t, err)
			assert.Equal(t, limits[:1], got.Limits)
			assert.Equal(t, quota(7), got.Quota)

			require.NoError(t, s.SetLimits(ctx, k.ID, nil))
			require.NoError(t, s.SetQuota(ctx, k.ID, nil))
			got, err = s.Get(ctx, k.ID)
			require.NoError(t, err)
			assert.Nil(t, got.Limits)
			assert.Nil(t, got.Quota)

			assert.ErrorIs(t, s.SetLimits(ctx, "key_none", limits), ErrNotFound)
			assert.ErrorIs(t, s.SetQuota(ctx, "key_none", quota(1)), ErrNotFound)
		})
	}
}

// Limits and quotas that the store refuses, each with ErrInvalidInput and
// before anything is written.
func TestLimitsAndQuotaRefused(t *testing.T) {
	s := openStore(t, sqliteTestDSN(t))
	ctx := context.Background()
	k, _, err := s.Create(ctx, NewKey{Name: "k", Owner: apikey.Owner{ID: "org_1"}})
	require.NoError(t, err)
	eleven := make([]apikey.Limit, 11)
	for i := range eleven {
		eleven[i] = apikey.Limit{Name: string(rune('a' + i)), Rate: 1, Period: time.Second}
	}
	for _, tc := range []struct {
		name   string
		limits []apikey.Limit
		quota  *apikey.Quota
	}{
		{"a rate of 0", []apikey.Limit{{Rate: 0, Period: time.Second}}, nil},
		{"no period", []apikey.Limit{{Rate: 1}}, nil},
		{"a bad name", []apikey.Limit{{Name: "a b", Rate: 1, Period: time.Second}}, nil},
		{"two of one name", []apikey.Limit{{Rate: 1, Period: time.Second}, {Name: "default", Rate: 2, Period: time.Minute}}, nil},
		{"an unknown scope", []apikey.Limit{{Rate: 1, Period: time.Second, Scope: "planet"}}, nil},
		{"eleven limits", eleven, nil},
		{"a negative count", nil, quota(-1)},
		{"a refill of 0", nil, quota(1, apikey.Refill{Amount: 0, Interval: time.Hour})},
		{"a refill each millisecond", nil, quota(1, apikey.Refill{Amount: 1, Interval: time.Millisecond})},
		{"a refill each 1.0000001s", nil, quota(1, apikey.Refill{Amount: 1, Interval: time.Second + 100})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := s.Create(ctx, NewKey{Name: "n", Owner: apikey.Owner{ID: "org_1"}, Limits: tc.limits, Quota: tc.quota})
			assert.ErrorIs(t, err, ErrInvalidInput)
			if tc.limits != nil {
				assert.ErrorIs(t, s.SetLimits(ctx, k.ID, tc.limits), ErrInvalidInput)
			}
			if tc.quota != nil {
				assert.ErrorIs(t, s.SetQuota(ctx, k.ID, tc.quota), ErrInvalidInput)
			}
		})
	}
	page, err := s.List(ctx, "", "", 0)
	require.NoError(t, err)
	assert.Len(t, page.Keys, 1, "nothing refused was created")
	assert.Nil(t, page.Keys[0].Limits)
	assert.Nil(t, page.Keys[0].Quota)
}

// Spend takes credits all or nothing, and says what is left.
func TestSpend(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			s := openStore(t, b.dsn(t))
			k, _, err := s.Create(ctx, NewKey{Name: "k", Owner: apikey.Owner{ID: "org_1"}, Quota: quota(10)})
			require.NoError(t, err)
			d, err := s.Spend(ctx, k, 4)
			require.NoError(t, err)
			assert.Equal(t, apikey.QuotaDecision{Allowed: true, Remaining: 6, Limit: 10}, d)
			d, err = s.Spend(ctx, k, 7)
			require.NoError(t, err)
			assert.Equal(t, apikey.QuotaDecision{Allowed: false, Remaining: 6, Limit: 10}, d, "7 of 6 takes nothing")
			d, err = s.Spend(ctx, k, 6)
			require.NoError(t, err)
			assert.Equal(t, apikey.QuotaDecision{Allowed: true, Remaining: 0, Limit: 10}, d)
			d, err = s.Spend(ctx, k, 1)
			require.NoError(t, err)
			assert.False(t, d.Allowed)

			_, err = s.Spend(ctx, k, 0)
			assert.ErrorIs(t, err, apikey.ErrMisconfigured, "a cost of 0")
			_, err = s.Spend(ctx, &apikey.Key{ID: "key_\x00"}, 1)
			assert.ErrorIs(t, err, apikey.ErrInvalidKey)

			require.NoError(t, s.SetQuota(ctx, k.ID, nil))
			d, err = s.Spend(ctx, k, 1)
			require.NoError(t, err)
			assert.True(t, d.Allowed, "a quota removed since the key was read costs nothing")
		})
	}
}

// Refills top the count up to the amount, once per whole interval from the
// last refill, keep a larger count, and say when the next one comes.
func TestSpendRefill(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			clk := newClock()
			s := openStore(t, b.dsn(t), WithClock(clk.Now))
			k, _, err := s.Create(ctx, NewKey{Name: "k", Owner: apikey.Owner{ID: "org_1"},
				Quota: quota(3, apikey.Refill{Amount: 5, Interval: time.Hour})})
			require.NoError(t, err)
			spend := func(cost int64) apikey.QuotaDecision {
				t.Helper()
				d, err := s.Spend(ctx, k, cost)
				require.NoError(t, err)
				return d
			}
			assert.Equal(t, apikey.QuotaDecision{Allowed: true, Remaining: 0, Limit: 5, Interval: time.Hour, RefillAfter: time.Hour}, spend(3))
			clk.Add(59 * time.Minute)
			assert.Equal(t, apikey.QuotaDecision{Allowed: false, Remaining: 0, Limit: 5, Interval: time.Hour, RefillAfter: time.Minute}, spend(1))
			clk.Add(time.Minute)
			assert.Equal(t, apikey.QuotaDecision{Allowed: true, Remaining: 1, Limit: 5, Interval: time.Hour, RefillAfter: time.Hour}, spend(4),
				"refilled to 5, not 5 more")

			clk.Add(150 * time.Minute) // two refills and a half: still 5, never 10
			got, err := s.Get(ctx, k.ID)
			require.NoError(t, err)
			assert.Equal(t, int64(5), got.Quota.Remaining, "Get shows the refill due")
			assert.Equal(t, apikey.QuotaDecision{Allowed: false, Remaining: 5, Limit: 5, Interval: time.Hour, RefillAfter: 30 * time.Minute}, spend(6))
			assert.Equal(t, apikey.QuotaDecision{Allowed: true, Remaining: 0, Limit: 5, Interval: time.Hour, RefillAfter: 30 * time.Minute}, spend(5),
				"the half interval already run is kept")
			clk.Add(30 * time.Minute)
			assert.Equal(t, int64(4), spend(1).Remaining)

			// A one-off grant above the amount is kept through refills.
			require.NoError(t, s.SetQuota(ctx, k.ID, quota(20, apikey.Refill{Amount: 5, Interval: time.Hour})))
			clk.Add(3 * time.Hour)
			assert.Equal(t, int64(19), spend(1).Remaining)
			clk.Add(time.Hour) // a refill due, not yet applied: Get shows the grant kept
			got, err = s.Get(ctx, k.ID)
			require.NoError(t, err)
			assert.Equal(t, int64(19), got.Quota.Remaining, "Get keeps a grant above the amount")

			// At the very instant of a refill, Get shows it done, as Spend does it.
			require.NoError(t, s.SetQuota(ctx, k.ID, quota(0, apikey.Refill{Amount: 5, Interval: time.Hour})))
			clk.Add(time.Hour)
			got, err = s.Get(ctx, k.ID)
			require.NoError(t, err)
			assert.Equal(t, int64(5), got.Quota.Remaining, "Get at the refill's instant")
		})
	}
}

// A key revoked or expired since it was read never spends a credit: Spend
// answers ErrInvalidKey, and the count is as it was.
func TestSpendRevokedOrExpired(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			clk := newClock()
			s := openStore(t, b.dsn(t), WithClock(clk.Now))
			owner := apikey.Owner{ID: "org_1"}
			expiring, _, err := s.Create(ctx, NewKey{Name: "e", Owner: owner, Quota: quota(5), ExpiresAt: clk.Now().Add(time.Minute)})
			require.NoError(t, err)
			revoked, _, err := s.Create(ctx, NewKey{Name: "r", Owner: owner, Quota: quota(5)})
			require.NoError(t, err)

			require.NoError(t, s.Revoke(ctx, revoked.ID))
			_, err = s.Spend(ctx, revoked, 1)
			assert.ErrorIs(t, err, apikey.ErrInvalidKey)

			clk.Add(time.Minute)
			_, err = s.Spend(ctx, expiring, 1)
			assert.ErrorIs(t, err, apikey.ErrInvalidKey)
			require.NoError(t, s.Expire(ctx, expiring.ID, clk.Now().Add(time.Hour)))
			got, err := s.Get(ctx, expiring.ID)
			require.NoError(t, err)
			assert.Equal(t, int64(5), got.Quota.Remaining, "the expired key spent nothing")
		})
	}
}

// Many goroutines over two Stores (two connection pools, as two processes
// have) spend exactly the credits there are, none lost and none twice;
// and a refill that they all find due at once is applied once.
func TestSpendConcurrently(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			dsn := b.dsn(t)
			clk := newClock()
			s1 := openStore(t, dsn, WithClock(clk.Now))
			s2 := openStore(t, dsn, WithClock(clk.Now))
			k, _, err := s1.Create(ctx, NewKey{Name: "k", Owner: apikey.Owner{ID: "org_1"},
				Quota: quota(100, apikey.Refill{Amount: 60, Interval: time.Hour})})
			require.NoError(t, err)
			race := func() int64 { return spendRace(t, k, s1, s2) }
			assert.Equal(t, int64(100), race(), "16×15 tries at 100 credits")
			clk.Add(time.Hour + time.Minute)
			assert.Equal(t, int64(60), race(), "one refill to 60, due for every spender at once")
			got, err := s1.Get(ctx, k.ID)
			require.NoError(t, err)
			assert.Equal(t, int64(0), got.Quota.Remaining)
		})
	}
}

// Keys of one owner share an owner's limit: their owner fields make the
// same bucket, those of another owner another.
func TestOwnerScopedLimit(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, sqliteTestDSN(t))
	perOwner := apikey.Limit{Rate: 2, Period: time.Minute, Scope: apikey.ScopeOwner}
	perOrg := apikey.Limit{Name: "org", Rate: 2, Period: time.Minute, Scope: apikey.ScopeOrganization}
	var keys []*apikey.Key
	for _, o := range []apikey.Owner{{ID: "org_1"}, {ID: "org_1"}, {ID: "org_2"}, {Type: "user", ID: "user_1", OrganizationID: "org_1"}} {
		k, value, err := s.Create(ctx, NewKey{Name: "k", Owner: o, Limits: []apikey.Limit{perOwner, perOrg}})
		require.NoError(t, err)
		v, err := s.Validate(ctx, value)
		require.NoError(t, err)
		require.Equal(t, k.Owner, v.Owner)
		keys = append(keys, v)
	}
	assert.Equal(t, apikey.BucketOf(keys[0], perOwner), apikey.BucketOf(keys[1], perOwner))
	assert.NotEqual(t, apikey.BucketOf(keys[0], perOwner), apikey.BucketOf(keys[2], perOwner))
	assert.NotEqual(t, apikey.BucketOf(keys[0], perOwner), apikey.BucketOf(keys[3], perOwner), "a user is an owner of its own")
	assert.Equal(t, apikey.BucketOf(keys[0], perOrg), apikey.BucketOf(keys[3], perOrg), "a user's key shares its organization's")

	lim, err := apikey.NewLocalLimiter()
	require.NoError(t, err)
	decisions := make([]apikey.Decision, 1)
	allowed := 0
	for _, k := range keys[:2] {
		for range 2 {
			if err := lim.Allow(ctx, k, []apikey.Limit{perOwner}, 1, decisions); err == nil && decisions[0].Allowed {
				allowed++
			}
		}
	}
	assert.Equal(t, 2, allowed, "two keys of one owner share 2 a minute")
}

// Rotate moves the quota to the new key, and leaves the old one none, so
// that the grace period never doubles the credits.
func TestRotateMovesQuota(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			s := openStore(t, b.dsn(t))
			limits := []apikey.Limit{{Rate: 5, Period: time.Second}}
			old, _, err := s.Create(ctx, NewKey{Name: "k", Owner: apikey.Owner{ID: "org_1"}, Limits: limits,
				Quota: quota(10, apikey.Refill{Amount: 10, Interval: time.Hour})})
			require.NoError(t, err)
			_, err = s.Spend(ctx, old, 3)
			require.NoError(t, err)
			k, _, err := s.Rotate(ctx, old.ID, time.Hour)
			require.NoError(t, err)
			assert.Equal(t, limits, k.Limits)
			assert.Equal(t, quota(7, apikey.Refill{Amount: 10, Interval: time.Hour}), k.Quota)
			got, err := s.Get(ctx, old.ID)
			require.NoError(t, err)
			assert.Equal(t, quota(0), got.Quota, "the old key keeps no credit")
			d, err := s.Spend(ctx, old, 1)
			require.NoError(t, err)
			assert.False(t, d.Allowed)
			d, err = s.Spend(ctx, k, 7)
			require.NoError(t, err)
			assert.True(t, d.Allowed)
		})
	}
}

// A database migrated by the previous release (0001 only), holding a key,
// takes the later migrations, whatever gap there is in their numbers, and
// the key has no limits and no quota.
func TestMigrateFromFirst(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			s, err := Open(ctx, b.dsn(t), WithKeyFormat(testFormat))
			require.NoError(t, err)
			t.Cleanup(func() { s.Close() })
			require.NoError(t, s.migrate(ctx, 1, "0001_keys.sql"))
			assert.ErrorIs(t, s.CheckSchema(ctx), ErrSchemaOutdated)
			_, err = s.db.Exec(s.dialect.bind(`INSERT INTO apikey_keys (id, digest, name, owner_type, owner_id,
				owner_organization_id, display_value, permissions, metadata, created_at, updated_at, expires_at, last_used_at)
				VALUES ('key_1', ?, 'k', 'organization', 'org_1', '', '', '[]', '{}', 1, 1, 0, 0)`), []byte{1})
			require.NoError(t, err)
			require.NoError(t, s.Migrate(ctx))
			require.NoError(t, s.CheckSchema(ctx))
			k, err := s.Get(ctx, "key_1")
			require.NoError(t, err)
			assert.Nil(t, k.Limits)
			assert.Nil(t, k.Quota)
			_, err = s.Spend(ctx, k, 1)
			assert.NoError(t, err)
		})
	}
}

// The count cannot go below zero even by a statement that bypasses Spend.
func TestQuotaNeverNegative(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			s := openStore(t, b.dsn(t))
			k, _, err := s.Create(ctx, NewKey{Name: "k", Owner: apikey.Owner{ID: "org_1"}, Quota: quota(1)})
			require.NoError(t, err)
			_, err = s.db.Exec(s.dialect.bind("UPDATE apikey_keys SET quota_remaining = quota_remaining - 2 WHERE id = ?"), k.ID)
			assert.Error(t, err)
			var n sql.NullInt64
			require.NoError(t, s.db.QueryRow(s.dialect.bind("SELECT quota_remaining FROM apikey_keys WHERE id = ?"), k.ID).Scan(&n))
			assert.Equal(t, int64(1), n.Int64)
		})
	}
}

// MoveQuota moves a quota between keys as Rotate does, and refuses unknown
// keys without changing anything.
func TestMoveQuota(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			s := openStore(t, b.dsn(t))
			owner := apikey.Owner{ID: "org_1"}
			from, _, err := s.Create(ctx, NewKey{Name: "a", Owner: owner, Quota: quota(9, apikey.Refill{Amount: 10, Interval: time.Hour})})
			require.NoError(t, err)
			to, _, err := s.Create(ctx, NewKey{Name: "b", Owner: owner})
			require.NoError(t, err)
			assert.ErrorIs(t, s.MoveQuota(ctx, from.ID, "key_none"), ErrNotFound)
			assert.ErrorIs(t, s.MoveQuota(ctx, "key_none", to.ID), ErrNotFound)
			got, err := s.Get(ctx, from.ID)
			require.NoError(t, err)
			assert.Equal(t, from.Quota, got.Quota, "a refused move changes nothing")
			assert.ErrorIs(t, s.MoveQuota(ctx, from.ID, from.ID), ErrInvalidInput, "a key is not its own successor")
			got, err = s.Get(ctx, from.ID)
			require.NoError(t, err)
			assert.Equal(t, from.Quota, got.Quota, "moving a quota onto its own key loses no credit")

			require.NoError(t, s.MoveQuota(ctx, from.ID, to.ID))
			got, err = s.Get(ctx, to.ID)
			require.NoError(t, err)
			assert.Equal(t, from.Quota, got.Quota)
			got, err = s.Get(ctx, from.ID)
			require.NoError(t, err)
			assert.Equal(t, quota(0), got.Quota)
		})
	}
}

// A database that cannot answer makes Spend an error that the middleware
// answers 503: never an allowed request.
func TestSpendUnavailable(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			s := openStore(t, b.dsn(t))
			k, _, err := s.Create(ctx, NewKey{Name: "k", Owner: apikey.Owner{ID: "org_1"}, Quota: quota(5)})
			require.NoError(t, err)
			canceled, cancel := context.WithCancel(ctx)
			cancel()
			d, err := s.Spend(canceled, k, 1)
			assert.ErrorIs(t, err, apikey.ErrUnavailable)
			assert.False(t, d.Allowed)
			require.NoError(t, s.db.Close())
			d, err = s.Spend(ctx, k, 1)
			assert.ErrorIs(t, err, apikey.ErrUnavailable)
			assert.False(t, d.Allowed)
		})
	}
}

// Spends from the old key while Rotate moves its quota lose nothing and
// grant nothing twice: what the old key was admitted plus what the new
// one holds is what there was.
func TestRotateWhileSpending(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			s := openStore(t, b.dsn(t))
			old, _, err := s.Create(ctx, NewKey{Name: "k", Owner: apikey.Owner{ID: "org_1"}, Quota: quota(100_000)})
			require.NoError(t, err)
			var admitted atomic.Int64
			var wg sync.WaitGroup
			started := make(chan struct{}, 8)
			for range 8 {
				wg.Go(func() {
					for i := 0; ; i++ {
						if i == 5 {
							started <- struct{}{}
						}
						d, err := s.Spend(ctx, old, 1)
						if !assert.NoError(t, err) || !d.Allowed {
							return
						}
						admitted.Add(1)
					}
				})
			}
			for range 8 {
				<-started
			}
			k, _, err := s.Rotate(ctx, old.ID, time.Hour)
			require.NoError(t, err)
			wg.Wait()
			got, err := s.Get(ctx, k.ID)
			require.NoError(t, err)
			assert.Equal(t, int64(100_000), admitted.Load()+got.Quota.Remaining)
			assert.Positive(t, admitted.Load())
		})
	}
}

// spendRace spends one credit of k 15 times from each of 16 goroutines,
// spread over stores, and returns how many spends were let through.
func spendRace(t *testing.T, k *apikey.Key, stores ...*Store) int64 {
	var n atomic.Int64
	var wg sync.WaitGroup
	for g := range 16 {
		s := stores[g%len(stores)]
		wg.Go(func() {
			for range 15 {
				d, err := s.Spend(context.Background(), k, 1)
				if !assert.NoError(t, err) {
					return
				}
				if d.Allowed {
					n.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return n.Load()
}
