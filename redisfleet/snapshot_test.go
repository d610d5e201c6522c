package redisfleet

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apikeyauth/apikey"
)

// TestRedisRestoredFromSnapshot restarts the fleet's Redis from a snapshot
// taken before a key was revoked: the stream, the sequence number and the
// shared entry come back as they were, the tombstones do not. The replica
// that was away during the revocation stands exactly where the snapshot
// does, so only the restart itself (Redis's run_id) can tell it: it purges,
// logging why once, and a fresh replica does not take the restored shared
// entry.
func TestRedisRestoredFromSnapshot(t *testing.T) {
	persist := []string{"--dir", t.TempDir(), "--dbfilename", "dump.rdb"}
	srv := startRedisServer(t, "", persist...)
	const value = "sk_test_snapshot"
	up := newUpstream(value)
	var logs syncBuffer
	opts := append(testOptions("snapshot"), WithSharedCache(time.Minute), WithSharedSecret(bytes.Repeat([]byte("s"), 32)))
	lock, lockedOpt := newLockout(t, srv.options())
	away := newReplica(t, lockedOpt, up, append(opts, WithLogger(slogTo(&logs)))...)
	other := newReplica(t, srv.options(), up, opts...)
	require.NoError(t, other.validate(value))
	require.NoError(t, away.validate(value))
	require.Equal(t, int64(1), up.calls.Load(), "away read other's answer from the shared cache")
	admin := redis.NewClient(srv.options())
	defer admin.Close()
	require.NoError(t, admin.Save(t.Context()).Err())

	lock.cutOff(t)
	require.Eventually(t, func() bool { return !away.fleet.Stats().Connected }, 5*time.Second, time.Millisecond)
	up.revoke("key_0")
	other.cache.InvalidateID("key_0")
	require.Eventually(t, func() bool { return other.fleet.Stats().Published == 1 }, 5*time.Second, time.Millisecond)

	srv.stop() // a crash: what was written since the snapshot is lost
	startRedisServer(t, srv.port, persist...)
	restored, err := admin.Exists(t.Context(), "{snapshot}:key:"+digestHex(apikey.DigestOf(value))).Result()
	require.NoError(t, err)
	require.Equal(t, int64(1), restored, "the shared entry came back from the snapshot")
	lock.letIn(t) // ACL users are not in the snapshot

	require.Eventually(t, func() bool { return away.fleet.Stats().Purges == 1 }, 10*time.Second, time.Millisecond,
		"the away replica noticed the restart")
	assert.ErrorIs(t, away.validate(value), apikey.ErrInvalidKey)
	fresh := newReplica(t, srv.options(), up, opts...)
	assert.ErrorIs(t, fresh.validate(value), apikey.ErrInvalidKey, "the restored shared entry is void")
	assert.Equal(t, 1, strings.Count(logs.String(), "epoch changed"), "the purge's reason, logged once: %s", logs.String())
}
