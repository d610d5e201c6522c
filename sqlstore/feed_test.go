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

// A change whose caller goes away mid-way (a client disconnect) still
// completes: a revocation answered with an error must not be half done,
// and one that is done must reach every cache.
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
