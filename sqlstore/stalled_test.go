package sqlstore

import (
	"context"
	"crypto/rand"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apikeyauth/apikey"
)

// silentLink forwards one TCP connection until it is silenced: then it
// drops what either side sends and closes nothing, as a network partition
// does. The server sees no end of the connection.
type silentLink struct {
	ln     net.Listener
	silent atomic.Bool
	mu     sync.Mutex
	conns  []net.Conn
	wg     sync.WaitGroup
}

func startSilentLink(t *testing.T, target string) *silentLink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	l := &silentLink{ln: ln}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			l.mu.Lock()
			l.conns = append(l.conns, c, up)
			l.mu.Unlock()
			l.wg.Add(2)
			go func() { defer l.wg.Done(); l.copy(up, c) }()
			go func() { defer l.wg.Done(); l.copy(c, up) }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		l.cut()
		l.wg.Wait()
	})
	return l
}

// cut closes the connections, as the end of a partition shows them lost.
func (l *silentLink) cut() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.conns {
		c.Close()
	}
	l.conns = nil
}

func (l *silentLink) copy(dst io.Writer, src io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if err != nil {
			return
		}
		if !l.silent.Load() {
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
	}
}

// A process that loses its network in the middle of a change, holding the
// lock every change takes, does not stop the other processes from
// revoking keys: PostgreSQL, which cannot tell the client is gone, ends
// its session once it has waited idleInTx for the next statement.
func TestStalledWriterReleasesTheLock(t *testing.T) {
	ctx := context.Background()
	dsn := postgresTestDSN(t)
	s := openStore(t, dsn)
	k1, _, err := s.Create(ctx, NewKey{Name: "k1", Owner: apikey.Owner{ID: "org_1"}})
	require.NoError(t, err)
	k2, _, err := s.Create(ctx, NewKey{Name: "k2", Owner: apikey.Owner{ID: "org_1"}})
	require.NoError(t, err)

	u, err := url.Parse(dsn)
	require.NoError(t, err)
	link := startSilentLink(t, u.Host)
	u.Host = link.ln.Addr().String()
	app := "apikey_stalled_" + strings.ToLower(rand.Text()[:12])
	q := u.Query()
	q.Set("application_name", app)
	u.RawQuery = q.Encode()
	stalled, err := Open(ctx, u.String())
	require.NoError(t, err)
	defer stalled.Close()
	stalled.idleInTx = 500 * time.Millisecond

	// Hold the lock, so that the stalled writer's change waits for it
	// in the middle of its transaction; silence its link; let it have the
	// lock, which the server hands to a client that no longer answers.
	holder, err := s.db.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer holder.Rollback()
	var token string
	require.NoError(t, holder.QueryRowContext(ctx, s.dialect.lockHead()).Scan(&token))
	revoked := make(chan error, 1)
	go func() { revoked <- stalled.Revoke(ctx, k1.ID) }()
	require.Eventually(t, func() bool {
		var n int
		err := s.db.QueryRow("SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'", app).Scan(&n)
		return err == nil && n == 1
	}, 10*time.Second, 10*time.Millisecond, "the stalled writer waits for the lock")
	link.silent.Store(true)
	require.NoError(t, holder.Commit())

	require.NoError(t, s.Revoke(ctx, k2.ID), "another process revokes a key")
	_, err = s.Get(ctx, k2.ID)
	assert.ErrorIs(t, err, ErrNotFound)
	_, err = s.Get(ctx, k1.ID)
	assert.NoError(t, err, "the stalled change never committed")
	link.silent.Store(false) // for Close's connection
	link.cut()
	assert.Error(t, <-revoked, "the stalled writer's Revoke fails")
}
