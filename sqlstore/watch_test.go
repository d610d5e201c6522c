package sqlstore

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apikeyauth/apikey"
)

// A change made by the watching Store reaches its cache before the call
// returns, as a local one; the feed brings it again as the store's, and
// each change it carries is applied once, however often it arrives.
func TestWatchLocalChange(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			dsn := b.dsn(t)
			s := openStore(t, dsn, WithPollInterval(time.Hour)) // polls are called below
			other := openStore(t, dsn)
			inv := newInvalidations()
			require.NoError(t, s.Watch(ctx, inv))
			k, _, err := s.Create(ctx, NewKey{Name: "k", Owner: apikey.Owner{ID: "org_1"}})
			require.NoError(t, err)
			assert.Empty(t, inv.all(), "creating a key invalidates nothing")

			require.NoError(t, s.Revoke(ctx, k.ID))
			assert.Contains(t, inv.all(), apikey.Invalidation{ID: k.ID, Origin: apikey.OriginLocal}, "before Revoke returns")
			if !s.dialect.postgres() {
				s.pollOnce(ctx, s.watching())
			}
			// On PostgreSQL, the notification may come first.
			assert.ElementsMatch(t, []apikey.Invalidation{{ID: k.ID, Origin: apikey.OriginLocal}, {ID: k.ID, Origin: apikey.OriginStore}},
				[]apikey.Invalidation{inv.next(t, 5*time.Second), inv.next(t, 5*time.Second)})

			// A later change from elsewhere: once it has arrived, so has
			// everything before it, notifications come in commit order.
			k2, _, err := other.Create(ctx, NewKey{Name: "k2", Owner: apikey.Owner{ID: "org_1"}})
			require.NoError(t, err)
			require.NoError(t, other.Revoke(ctx, k2.ID))
			if !s.dialect.postgres() {
				s.pollOnce(ctx, s.watching())
			}
			assert.Equal(t, apikey.Invalidation{ID: k2.ID, Origin: apikey.OriginStore}, inv.next(t, 5*time.Second))
			s.pollOnce(ctx, s.watching())
			assert.ElementsMatch(t, []apikey.Invalidation{
				{ID: k.ID, Origin: apikey.OriginLocal},
				{ID: k.ID, Origin: apikey.OriginStore},
				{ID: k2.ID, Origin: apikey.OriginStore},
			}, inv.all(), "each change of the feed applied once")

			assert.ErrorIs(t, s.Watch(ctx, inv), errAlreadyWatching)
		})
	}
}

// Every kind of change made by another Store reaches the watching one: on
// PostgreSQL by notification (the poll is an hour away), on SQLite by the
// poll.
func TestWatchOtherStore(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			dsn := b.dsn(t)
			poll := 50 * time.Millisecond
			if b.name == "postgres" {
				poll = time.Hour
			}
			watching := openStore(t, dsn, WithPollInterval(poll))
			other := openStore(t, dsn)
			inv := newInvalidations()
			require.NoError(t, watching.Watch(ctx, inv))

			k, _, err := other.Create(ctx, NewKey{Name: "k", Owner: apikey.Owner{ID: "org_1"}})
			require.NoError(t, err)
			changes := []struct {
				name   string
				change func() error
			}{
				{"permissions", func() error { return other.SetPermissions(ctx, k.ID, []string{"a"}) }},
				{"metadata", func() error { return other.SetMetadata(ctx, k.ID, map[string]string{"a": "b"}) }},
				{"expire", func() error { return other.Expire(ctx, k.ID, time.Now().Add(time.Hour)) }},
				{"rotate", func() error { _, _, err := other.Rotate(ctx, k.ID, time.Minute); return err }},
				{"revoke", func() error { return other.Revoke(ctx, k.ID) }},
			}
			for _, c := range changes {
				require.NoError(t, c.change(), c.name)
				got := inv.next(t, 5*time.Second)
				assert.Equal(t, apikey.Invalidation{ID: k.ID, Origin: apikey.OriginStore}, got, c.name)
			}
		})
	}
}

// A revoked key stops working in another process's cache within the poll
// interval, though the cache's TTL is far longer.
func TestWatchThroughCache(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			dsn := b.dsn(t)
			replica := openStore(t, dsn, WithPollInterval(50*time.Millisecond))
			cache, err := apikey.NewCache(replica, apikey.WithCacheTTL(time.Hour))
			require.NoError(t, err)
			require.NoError(t, replica.Watch(ctx, cache))
			admin := openStore(t, dsn)
			k, v, err := admin.Create(ctx, NewKey{Name: "k", Owner: apikey.Owner{ID: "org_1"}})
			require.NoError(t, err)
			_, err = cache.Validate(ctx, v)
			require.NoError(t, err)
			require.Equal(t, 1, cache.Stats().Size)

			require.NoError(t, admin.Revoke(ctx, k.ID))
			require.Eventually(t, func() bool {
				_, err := cache.Validate(ctx, v)
				return err != nil
			}, 2*time.Second, 5*time.Millisecond)
			_, err = cache.Validate(ctx, v)
			assert.ErrorIs(t, err, apikey.ErrInvalidKey)
		})
	}
}

// A Store that cannot read the changes purges its cache at every failed
// poll, says so once, at the first, and once that it works again, and
// applies what it missed when it can read again.
func TestWatchPurgesWhenChangesUnreadable(t *testing.T) {
	ctx := context.Background()
	dsn := sqliteTestDSN(t)
	var logs lockedBuffer
	s := openStore(t, dsn, WithPollInterval(20*time.Millisecond), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	other := openStore(t, dsn)
	inv := newInvalidations()
	require.NoError(t, s.Watch(ctx, inv))
	k, _, err := other.Create(ctx, NewKey{Name: "k", Owner: apikey.Owner{ID: "org_1"}})
	require.NoError(t, err)

	_, err = other.db.Exec("ALTER TABLE apikey_changes_head RENAME TO apikey_changes_head_away")
	require.NoError(t, err)
	assert.Equal(t, apikey.Invalidation{All: true, Origin: apikey.OriginStore}, inv.next(t, 2*time.Second))
	assert.Equal(t, apikey.Invalidation{All: true, Origin: apikey.OriginStore}, inv.next(t, 2*time.Second), "again at the next poll")
	assert.Equal(t, apikey.Invalidation{All: true, Origin: apikey.OriginStore}, inv.next(t, 2*time.Second), "and the next")
	assert.Equal(t, 1, strings.Count(logs.String(), "reading the changes failed"), "said once")
	assert.NotContains(t, logs.String(), "reading the changes works again")

	_, err = other.db.Exec("ALTER TABLE apikey_changes_head_away RENAME TO apikey_changes_head")
	require.NoError(t, err)
	require.NoError(t, other.Revoke(ctx, k.ID))
	for {
		got := inv.next(t, 2*time.Second)
		if !got.All {
			assert.Equal(t, apikey.Invalidation{ID: k.ID, Origin: apikey.OriginStore}, got)
			break
		}
	}
	s.pollOnce(ctx, s.watching())
	assert.Equal(t, 1, strings.Count(logs.String(), "reading the changes failed"))
	assert.Equal(t, 1, strings.Count(logs.String(), "reading the changes works again"), "said once")
}

// Watch on a database whose tables are older than the package says to
// migrate, not which table is missing.
func TestWatchOutdatedSchema(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			s, err := Open(ctx, b.dsn(t))
			require.NoError(t, err)
			defer s.Close()
			require.NoError(t, s.migrate(ctx, 1, "0001_keys.sql"))
			assert.ErrorIs(t, s.Watch(ctx, newInvalidations()), ErrSchemaOutdated)
		})
	}
}

func TestWatchAfterClose(t *testing.T) {
	s := openStore(t, sqliteTestDSN(t))
	require.NoError(t, s.Close())
	assert.Error(t, s.Watch(context.Background(), newInvalidations()))
}

// A listener whose connection is cut connects again by itself, and picks up
// the changes made meanwhile at once, not at the next poll (an hour away
// here).
func TestWatchListenerReconnects(t *testing.T) {
	ctx := context.Background()
	dsn := postgresTestDSN(t)
	var logs lockedBuffer
	watching := openStore(t, dsn, WithPollInterval(time.Hour), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	other := openStore(t, dsn)
	inv := newInvalidations()
	require.NoError(t, watching.Watch(ctx, inv))
	k, _, err := other.Create(ctx, NewKey{Name: "k", Owner: apikey.Owner{ID: "org_1"}})
	require.NoError(t, err)

	var schema string
	require.NoError(t, other.db.QueryRow("SELECT current_schema()").Scan(&schema))
	var killed bool
	require.NoError(t, other.db.QueryRow(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE query LIKE 'LISTEN %' AND query LIKE '%' || $1 || '%'`, schema).Scan(&killed))
	require.True(t, killed, "the listener's connection")
	require.NoError(t, other.SetPermissions(ctx, k.ID, []string{"a"}), "a change while the listener is away")

	assert.Equal(t, apikey.Invalidation{ID: k.ID, Origin: apikey.OriginStore}, inv.next(t, 5*time.Second))
	assert.Contains(t, logs.String(), "listening for changes failed")

	require.NoError(t, other.Revoke(ctx, k.ID))
	assert.Equal(t, apikey.Invalidation{ID: k.ID, Origin: apikey.OriginStore}, inv.next(t, 5*time.Second),
		"notifications flow again")
}
