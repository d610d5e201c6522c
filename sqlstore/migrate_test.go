package sqlstore

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apikeyauth/apikey"
)

// Several processes migrating a new schema at once all succeed.
func TestMigrateConcurrently(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			dsn := b.dsn(t)
			const n = 8
			stores := make([]*Store, n)
			for i := range stores {
				s, err := Open(ctx, dsn, WithKeyFormat(testFormat))
				require.NoError(t, err)
				t.Cleanup(func() { s.Close() })
				stores[i] = s
			}
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i, s := range stores {
				wg.Go(func() { errs[i] = s.Migrate(ctx) })
			}
			wg.Wait()
			for i, err := range errs {
				assert.NoError(t, err, "store %d", i)
			}
			_, _, err := stores[0].Create(ctx, NewKey{Name: "k", Owner: apikey.Owner{ID: "org_1"}})
			assert.NoError(t, err)
		})
	}
}
