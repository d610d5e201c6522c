package sqlstore

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apikeyauth/apikey"
)

var purge = apikey.Invalidation{All: true, Origin: apikey.OriginStore}

// execAll runs statements on the store's database, behind its back.
func execAll(t *testing.T, s *Store, stmts ...string) {
	t.Helper()
	for _, q := range stmts {
		_, err := s.db.Exec(q)
		require.NoError(t, err, q)
	}
}

// skipSequence makes the changes' sequence skip n numbers, as PostgreSQL's
// does after a crash (it logs 32 numbers ahead).
func skipSequence(t *testing.T, s *Store, n int) {
	if s.dialect.postgres() {
		execAll(t, s, "SELECT setval(pg_get_serial_sequence('apikey_changes', 'seq'), nextval(pg_get_serial_sequence('apikey_changes', 'seq')) + "+strconv.Itoa(n)+")")
		return
	}
	execAll(t, s, "UPDATE sqlite_sequence SET seq = seq + "+strconv.Itoa(n)+" WHERE name = 'apikey_changes'")
}

// rolledBackChange writes a change of id and rolls it back: on PostgreSQL
// its sequence number is used up for good.
func rolledBackChange(t *testing.T, s *Store, id string) {
	ctx := context.Background()
	tx, err := s.db.BeginTx(ctx, nil)
	require.NoError(t, err)
	require.NoError(t, s.record(ctx, tx, id))
	require.NoError(t, tx.Rollback())
}

// followed returns the watcher's position and the newest change.
func followed(t *testing.T, s *Store) (at, head link) {
	t.Helper()
	head, err := s.readHead(context.Background())
	require.NoError(t, err)
	w := s.watching()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.at, head
}

// Sequence numbers never used (skipped as after a PostgreSQL crash, or
// taken by a rolled-back change), with several changes after them, are no
// gap: every change is applied at the next poll, the position is the
// newest change, and nothing is purged, however long the watcher waits.
func TestWatchSkippedSequence(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			dsn := b.dsn(t)
			clk := newClock()
			var logs lockedBuffer
			s := openStore(t, dsn, WithPollInterval(time.Hour), WithClock(clk.Now), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			other := openStore(t, dsn, WithClock(clk.Now))
			inv := newInvalidations()
			require.NoError(t, s.Watch(ctx, inv))
			var ids []string
			for range 3 {
				k, _, err := other.Create(ctx, NewKey{Name: "k", Owner: apikey.Owner{ID: "org_1"}})
				require.NoError(t, err)
				ids = append(ids, k.ID)
			}
			s.pollOnce(ctx, s.watching())
			before, _ := followed(t, s)

			skipSequence(t, other, 32)
			rolledBackChange(t, other, ids[0])
			require.NoError(t, other.SetPermissions(ctx, ids[0], []string{"a"}))
			require.NoError(t, other.Revoke(ctx, ids[1]))
			require.NoError(t, other.Revoke(ctx, ids[2]))
			for range 3 {
				s.pollOnce(ctx, s.watching())
				clk.Add(time.Minute)
			}

			at, head := followed(t, s)
			assert.Equal(t, head, at, "the position is the newest change")
			assert.GreaterOrEqual(t, at.seq, before.seq+32+3, "numbers were skipped")
			for _, id := range ids {
				assert.Contains(t, inv.all(), apikey.Invalidation{ID: id, Origin: apikey.OriginStore})
			}
			assert.NotContains(t, inv.all(), purge)
			assert.NotContains(t, logs.String(), "purged")
		})
	}
}

// The changes table restored from a backup goes back: with no change after
// the restore, and overtaken by changes made after it before the next poll
// (the revocation among them never notified to this process, or on
// SQLite), the watcher purges its cache once, says why, and follows the
// new changes from there as usual.
func TestWatchRestore(t *testing.T) {
	for _, overtaken := range []bool{false, true} {
		for _, b := range backends {
			name := b.name + "/restored"
			if overtaken {
				name += "+overtaken"
			}
			t.Run(name, func(t *testing.T) {
				ctx := context.Background()
				dsn := b.dsn(t)
				var logs lockedBuffer
				s := openStore(t, dsn, WithPollInterval(time.Hour), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
				other := openStore(t, dsn)
				inv := newInvalidations()
				require.NoError(t, s.Watch(ctx, inv))
				k, _, err := other.Create(ctx, NewKey{Name: "k", Owner: apikey.Owner{ID: "org_1"}})
				require.NoError(t, err)
				k2, _, err := other.Create(ctx, NewKey{Name: "k2", Owner: apikey.Owner{ID: "org_1"}})
				require.NoError(t, err)
				execAll(t, other, "CREATE TABLE backup_changes AS SELECT * FROM apikey_changes",
					"CREATE TABLE backup_head AS SELECT * FROM apikey_changes_head")
				for range 3 {
					require.NoError(t, other.SetPermissions(ctx, k.ID, []string{"a"}))
				}
				s.pollOnce(ctx, s.watching())
				require.NotContains(t, inv.all(), purge)

				execAll(t, other, "DELETE FROM apikey_changes", "INSERT INTO apikey_changes SELECT * FROM backup_changes",
					"DELETE FROM apikey_changes_head", "INSERT INTO apikey_changes_head SELECT * FROM backup_head")
				if other.dialect.postgres() {
					execAll(t, other, "SELECT setval(pg_get_serial_sequence('apikey_changes', 'seq'), (SELECT MAX(seq) FROM apikey_changes))")
				} else {
					execAll(t, other, "UPDATE sqlite_sequence SET seq = (SELECT MAX(seq) FROM apikey_changes) WHERE name = 'apikey_changes'")
				}
				if overtaken {
					require.NoError(t, other.Revoke(ctx, k2.ID), "a revocation in between")
					for range 4 {
						require.NoError(t, other.SetMetadata(ctx, k.ID, map[string]string{"a": "b"}))
					}
					at, head := followed(t, s)
					require.Greater(t, head.seq, at.seq, "the new changes overtook the position")
				}
				s.pollOnce(ctx, s.watching())
				assert.Contains(t, inv.all(), purge)
				assert.Contains(t, logs.String(), "changes were lost to this process")
				at, head := followed(t, s)
				assert.Equal(t, head, at)

				n := len(inv.all())
				require.NoError(t, other.Revoke(ctx, k.ID))
				s.pollOnce(ctx, s.watching())
				assert.Contains(t, inv.all()[n:], apikey.Invalidation{ID: k.ID, Origin: apikey.OriginStore})
				assert.NotContains(t, inv.all()[n:], purge, "followed as usual after")
			})
		}
	}
}

// Changes pruned before this process read them (it could not read the
// changes for longer than they are kept) break the chain: the cache is
// purged.
func TestWatchChangesPrunedUnread(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			dsn := b.dsn(t)
			clk := newClock()
			var logs lockedBuffer
			s := openStore(t, dsn, WithPollInterval(time.Hour), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			other := openStore(t, dsn, WithClock(clk.Now))
			inv := newInvalidations()
			require.NoError(t, s.Watch(ctx, inv))
			k, _, err := other.Create(ctx, NewKey{Name: "k", Owner: apikey.Owner{ID: "org_1"}})
			require.NoError(t, err)
			s.pollOnce(ctx, s.watching())
			require.NoError(t, other.SetPermissions(ctx, k.ID, []string{"a"}), "never read")
			clk.Add(changesKept + time.Minute)
			require.NoError(t, other.SetPermissions(ctx, k.ID, []string{"b"}), "prunes the one before")
			s.pollOnce(ctx, s.watching())
			assert.Contains(t, inv.all(), purge)
			assert.Equal(t, 1, strings.Count(logs.String(), "changes were lost to this process (a change is missing before this one)"))
		})
	}
}

// A poll reads past more than a page of changes, numbered with a skip, and
// follows them all.
func TestWatchPages(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			s := openStore(t, b.dsn(t), WithPollInterval(time.Hour))
			inv := newInvalidations()
			require.NoError(t, s.Watch(ctx, inv))
			const n = pollPage + pollPage/2
			// Sequence numbers 2 to n+1, 1 unused, each naming the one
			// before; the first names the empty head.
			execAll(t, s, s.dialect.bind(`INSERT INTO apikey_changes (seq, key_id, changed_at, token, prev_token)
				WITH RECURSIVE i(n) AS (SELECT 2 UNION ALL SELECT n + 1 FROM i WHERE n < `+strconv.Itoa(n+1)+`)
				SELECT n, 'key_' || n, 1, 't' || n, CASE WHEN n = 2 THEN '' ELSE 't' || (n - 1) END FROM i`),
				"UPDATE apikey_changes_head SET seq = "+strconv.Itoa(n+1)+", token = 't"+strconv.Itoa(n+1)+"'")
			s.pollOnce(ctx, s.watching())
			got := inv.all()
			require.Len(t, got, n)
			assert.Equal(t, apikey.Invalidation{ID: "key_2", Origin: apikey.OriginStore}, got[0])
			assert.Equal(t, apikey.Invalidation{ID: "key_1501", Origin: apikey.OriginStore}, got[n-1])
			at, head := followed(t, s)
			assert.Equal(t, link{n + 1, "t1501"}, at)
			assert.Equal(t, head, at)
		})
	}
}

// A change notified is applied at once and not again by the poll that
// follows it; one at or before the polls' position (a late notification,
// or a number reused after a restore) is applied all the same.
func TestWatchNotified(t *testing.T) {
	inv := newInvalidations()
	w := &watcher{c: inv, at: link{10, "t10"}, notified: map[int64]bool{}, logger: slog.New(slog.DiscardHandler)}
	w.notify(7, "key_7")
	w.notify(12, "key_12")
	w.notify(12, "key_12")
	assert.Equal(t, []apikey.Invalidation{{ID: "key_7", Origin: apikey.OriginStore}, {ID: "key_12", Origin: apikey.OriginStore}}, inv.all())
	broken := w.follow([]change{{link{11, "t11"}, "t10", "key_11"}, {link{12, "t12"}, "t11", "key_12"}, {link{13, "t13"}, "t12", ""}})
	assert.Nil(t, broken)
	assert.Equal(t, apikey.Invalidation{ID: "key_11", Origin: apikey.OriginStore}, inv.all()[2])
	assert.Len(t, inv.all(), 3, "12 was notified; 13 is a key created")
	assert.Equal(t, link{13, "t13"}, w.at)
	assert.Empty(t, w.notified)

	broken = w.follow([]change{{link{14, "t14"}, "t13", "key_14"}, {link{16, "t16"}, "t15", "key_16"}, {link{17, "t17"}, "t16", "key_17"}})
	assert.Equal(t, &link{16, "t16"}, broken, "15 is missing")
	assert.Equal(t, link{17, "t17"}, w.at)
}

// Changes made at the same time by many connections still form one chain:
// each takes its number under the head row's lock, so none is taken for
// lost, and every one is applied.
func TestWatchConcurrentChanges(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			dsn := b.dsn(t)
			s := openStore(t, dsn, WithPollInterval(time.Hour))
			inv := newInvalidations()
			require.NoError(t, s.Watch(ctx, inv))
			const writers, each = 6, 5
			errs := make(chan error, writers*each)
			var ids []string
			for range writers {
				k, _, err := s.Create(ctx, NewKey{Name: "k", Owner: apikey.Owner{ID: "org_1"}})
				require.NoError(t, err)
				ids = append(ids, k.ID)
			}
			start := make(chan struct{})
			for i := range writers {
				other := openStore(t, dsn)
				go func() {
					<-start
					for j := range each {
						errs <- other.SetMetadata(ctx, ids[i], map[string]string{"n": strconv.Itoa(j)})
					}
				}()
			}
			close(start)
			for range writers * each {
				require.NoError(t, <-errs)
			}
			s.pollOnce(ctx, s.watching())
			at, head := followed(t, s)
			assert.Equal(t, head, at)
			assert.NotContains(t, inv.all(), purge)
			n := map[string]int{}
			for _, inv := range inv.all() {
				n[inv.ID]++
			}
			for _, id := range ids {
				assert.GreaterOrEqual(t, n[id], each, "every change applied")
			}
		})
	}
}
