package redisfleet

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/apikeyauth/apikey"
)

// BenchmarkAcknowledge measures what a caller waits for: the cache's
// InvalidateID, whose publication the hooks queue (nothing acknowledged),
// beside Fleet.Revoke, which returns once Redis holds the revocation.
//
//	go test -run '^$' -bench Acknowledge -benchmem ./redisfleet
func BenchmarkAcknowledge(b *testing.B) {
	opt, prefix := testRedis(b)
	r := newReplica(b, opt, newUpstream(), append(testOptions(prefix), WithSharedCache(time.Minute))...)
	b.Run("hook, not acknowledged", func(b *testing.B) {
		for i := range b.N {
			r.cache.InvalidateID(fmt.Sprintf("key_%d", i))
		}
	})
	b.Run("Revoke, acknowledged", func(b *testing.B) {
		ctx := context.Background()
		for i := range b.N {
			require.NoError(b, r.fleet.Revoke(ctx, apikey.Invalidation{ID: fmt.Sprintf("key_%d", i)}))
		}
	})
}

// BenchmarkSharedHit measures a validation answered by the shared cache
// (the local cache purged before each), unsigned and signed: the read
// script checks the key's tombstones either way; signing adds the MAC.
//
//	go test -run '^$' -bench SharedHit -benchmem ./redisfleet
func BenchmarkSharedHit(b *testing.B) {
	const value = "sk_test_shared_hit"
	for _, tc := range []struct {
		name string
		opts []Option
	}{
		{"unsigned", nil},
		{"signed", []Option{WithSharedSecret(bytes.Repeat([]byte("s"), 32))}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			opt, prefix := testRedis(b)
			up := newUpstream(value)
			opts := append(append(testOptions(prefix), WithSharedCache(time.Minute)), tc.opts...)
			writer, reader := newReplica(b, opt, up, opts...), newReplica(b, opt, up, opts...)
			require.NoError(b, writer.validate(value))
			v := reader.fleet.Validator(up)
			ctx := context.Background()
			b.ResetTimer()
			for range b.N {
				if _, err := v.Validate(ctx, value); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			require.Equal(b, int64(1), up.calls.Load(), "every validation after the first was a shared hit")
		})
	}
}
