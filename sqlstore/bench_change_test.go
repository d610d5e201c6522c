package sqlstore

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/apikeyauth/apikey"
)

// A change of a key (here SetMetadata, the lightest), one caller at a time
// and from many at once: changes commit one at a time, under the head
// row's lock, which the parallel run measures.
func BenchmarkChange(b *testing.B) {
	for _, be := range backends {
		s := openStore(b, be.dsn(b))
		ctx := context.Background()
		ids := make([]string, 64)
		for i := range ids {
			k, _, err := s.Create(ctx, NewKey{Name: "bench", Owner: apikey.Owner{ID: "org_1"}})
			require.NoError(b, err)
			ids[i] = k.ID
		}
		b.Run(be.name+"/serial", func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := s.SetMetadata(ctx, ids[i%len(ids)], map[string]string{"n": strconv.Itoa(i)}); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
		b.Run(be.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(4)
			var next atomic.Int64 // callers change different keys
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := int(next.Add(1))
					if err := s.SetMetadata(ctx, ids[i%len(ids)], map[string]string{"n": strconv.Itoa(i)}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
