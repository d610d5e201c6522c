package sqlstore

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apikeyauth/apikey"
)

// resetChanges empties the changes table and starts its sequence over, as
// a restore from an old backup or a new database does.
func resetChanges(t *testing.T, s *Store) {
	t.Helper()
	stmts := []string{"TRUNCATE apikey_changes RESTART IDENTITY"}
	if !s.dialect.postgres() {
		stmts = []string{"DELETE FROM apikey_changes", "DELETE FROM sqlite_sequence WHERE name = 'apikey_changes'"}
	}
	for _, q := range stmts {
		_, err := s.db.Exec(q)
		require.NoError(t, err, q)
	}
}

// When the changes table goes back below what the watcher applied, the
// watcher purges its cache (its contents may have been revoked unseen) and
// follows the new sequence from its start.
func TestWatchSequenceGoesBack(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			dsn := b.dsn(t)
			s := openStore(t, dsn, WithPollInterval(time.Hour)) // polls are called below
			other := openStore(t, dsn)
			inv := newInvalidations()
			require.NoError(t, s.Watch(ctx, inv))
			k, _, err := other.Create(ctx, NewKey{Name: "k", Owner: apikey.Owner{ID: "org_1"}})
			require.NoError(t, err)
			for range 3 {
				require.NoError(t, other.SetPermissions(ctx, k.ID, []string{"a"}))
			}
			s.pollOnce(ctx, s.watching())
			require.Equal(t, int64(4), s.watching().next)
			purge := apikey.Invalidation{All: true, Origin: apikey.OriginStore}
			require.NotContains(t, inv.all(), purge)

			resetChanges(t, other)
			s.pollOnce(ctx, s.watching())
			assert.Contains(t, inv.all(), purge, "the sequence went back")
			assert.Equal(t, int64(1), s.watching().next)

			require.NoError(t, other.Revoke(ctx, k.ID), "seq 1 again")
			s.pollOnce(ctx, s.watching())
			assert.Contains(t, inv.all(), apikey.Invalidation{ID: k.ID, Origin: apikey.OriginStore})
			assert.Equal(t, int64(2), s.watching().next)
		})
	}
}

// A change read below next (a PostgreSQL transaction that committed a low
// sequence number late, after Watch began or after the watcher gave up on
// it) is still applied: invalidating twice is harmless, missing one is not.
func TestWatchAppliesLateChange(t *testing.T) {
	inv := newInvalidations()
	w := &watcher{c: inv, next: 10, seen: map[int64]bool{}}
	w.apply(7, "key_7")
	assert.Equal(t, []apikey.Invalidation{{ID: "key_7", Origin: apikey.OriginStore}}, inv.all())
	assert.Equal(t, int64(10), w.next, "bookkeeping unchanged")
}

// With a change missing at next, a poll pages past more than a page of
// later changes instead of reading the same first page again.
func TestWatchPagesPastAGap(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			s := openStore(t, b.dsn(t), WithPollInterval(time.Hour))
			inv := newInvalidations()
			require.NoError(t, s.Watch(ctx, inv))
			const n = pollPage + pollPage/2
			// Sequence numbers 2 to n+1: 1 is missing.
			_, err := s.db.Exec(s.dialect.bind(`INSERT INTO apikey_changes (seq, key_id, changed_at)
				WITH RECURSIVE i(n) AS (SELECT 2 UNION ALL SELECT n + 1 FROM i WHERE n < ?)
				SELECT n, 'key_' || n, 1 FROM i`), n+1)
			require.NoError(t, err)
			s.pollOnce(ctx, s.watching())
			got := inv.all()
			require.Len(t, got, n)
			assert.Equal(t, apikey.Invalidation{ID: "key_2", Origin: apikey.OriginStore}, got[0])
			assert.Equal(t, apikey.Invalidation{ID: "key_1501", Origin: apikey.OriginStore}, got[n-1])
		})
	}
}

// A change whose caller goes away mid-way (a client disconnect) still
// completes: a rollback after the sequence number was taken would leave a
// hole that every watcher purges its cache over.
func TestChangeOutlivesItsCaller(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, postgresTestDSN(t))
	k, _, err := s.Create(ctx, NewKey{Name: "k", Owner: apikey.Owner{ID: "org_1"}})
	require.NoError(t, err)
	for _, q := range []string{
		`CREATE FUNCTION slow_delete() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.5); RETURN OLD; END $$`,
		`CREATE TRIGGER slow_delete BEFORE DELETE ON apikey_keys FOR EACH ROW EXECUTE FUNCTION slow_delete()`,
	} {
		_, err := s.db.Exec(q)
		require.NoError(t, err)
	}
	cctx, cancel := context.WithCancel(ctx)
	time.AfterFunc(50*time.Millisecond, cancel) // while the DELETE sleeps
	assert.NoError(t, s.Revoke(cctx, k.ID))
	require.Error(t, cctx.Err(), "the caller went away during the change")
	_, err = s.Get(ctx, k.ID)
	assert.ErrorIs(t, err, ErrNotFound)
	var changes int
	require.NoError(t, s.db.QueryRow("SELECT COUNT(*) FROM apikey_changes WHERE key_id = $1", k.ID).Scan(&changes))
	assert.Equal(t, 1, changes)
}

// A change made through the watching Store reaches its cache at once as a
// local one; the same change read from the feed comes as the store's.
func TestWatchOrigins(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, sqliteTestDSN(t), WithPollInterval(time.Hour))
	inv := newInvalidations()
	require.NoError(t, s.Watch(ctx, inv))
	k, _, err := s.Create(ctx, NewKey{Name: "k", Owner: apikey.Owner{ID: "org_1"}})
	require.NoError(t, err)
	require.NoError(t, s.Revoke(ctx, k.ID))
	assert.Equal(t, []apikey.Invalidation{{ID: k.ID, Origin: apikey.OriginLocal}}, inv.all())
	s.pollOnce(ctx, s.watching())
	assert.Equal(t, []apikey.Invalidation{{ID: k.ID, Origin: apikey.OriginLocal}, {ID: k.ID, Origin: apikey.OriginStore}}, inv.all())
}

// blackhole accepts connections and never answers, as a PostgreSQL behind
// a dropped route does; accepted is told of each.
func blackhole(t *testing.T) (addr *net.TCPAddr, accepted chan struct{}) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	accepted = make(chan struct{}, 100)
	var (
		mu    sync.Mutex
		conns []net.Conn
		done  = make(chan struct{})
	)
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			accepted <- struct{}{}
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return ln.Addr().(*net.TCPAddr), accepted
}

// While Watch waits for a listener connection that does not answer,
// changes go on, and Watch gives up after listenTimeout, polling meanwhile.
func TestWatchDialDoesNotBlockChanges(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, postgresTestDSN(t), WithPollInterval(time.Hour))
	k, _, err := s.Create(ctx, NewKey{Name: "k", Owner: apikey.Owner{ID: "org_1"}})
	require.NoError(t, err)
	addr, accepted := blackhole(t)
	s.listenConfig.Host, s.listenConfig.Port = addr.IP.String(), uint16(addr.Port)
	s.listenConfig.Fallbacks = nil
	s.listenTimeout = 2 * time.Second

	inv := newInvalidations()
	watched := make(chan error, 1)
	go func() { watched <- s.Watch(ctx, inv) }()
	<-accepted // Watch is connecting
	revoked := make(chan error, 1)
	go func() { revoked <- s.Revoke(ctx, k.ID) }()
	select {
	case err := <-revoked:
		assert.NoError(t, err)
	case <-watched:
		t.Fatal("Revoke waited for Watch's connection")
	}
	assert.NoError(t, <-watched, "Watch gives up connecting after listenTimeout, and polls")
	assert.Equal(t, []apikey.Invalidation{{ID: k.ID, Origin: apikey.OriginLocal}}, inv.all())
}
