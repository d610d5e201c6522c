package keyctl

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStoreFlag(t *testing.T) {
	var opened []OpenRequest
	hanging := Store{
		Name:     "Hanging",
		Prefixes: []string{"hang:"},
		Usage:    "hang:ANY   a store that never answers",
		Open: func(ctx context.Context, req OpenRequest) (Backend, error) {
			opened = append(opened, req)
			<-ctx.Done()
			return nil, ctx.Err()
		},
	}
	refusing := Store{
		Name:     "Refusing",
		Prefixes: []string{"refuse://"},
		Open: func(_ context.Context, req OpenRequest) (Backend, error) {
			opened = append(opened, req)
			return nil, errors.New("refused " + req.DSN) // a careless driver
		},
	}
	for _, tc := range []struct {
		name   string
		stores []Store
		args   []string
		env    string
		stderr string
		opens  int
	}{
		{"no store in this build", nil, []string{"list", "--org", "o", "--store", "hang:x"}, "",
			"apikeys list: " + errNoStores.Error() + "\n", 0},
		{"a scheme no store takes", []Store{hanging, refusing}, []string{"audit", "--org", "o", "--store", "sqlite:x"}, "",
			"apikeys audit: --store must begin with hang:, refuse://\n", 0},
		{"the store's own error, its password cut out", []Store{hanging, refusing}, []string{"delete", "k", "--yes"}, "refuse://u:s3cr3tpass@h/db",
			"apikeys delete: refused refuse://u:[redacted]@h/db\n", 1},
		{"--timeout while opening", []Store{hanging, refusing}, []string{"list", "--org", "o", "--store", "hang:x", "--timeout", "20ms"}, "",
			"apikeys list: no answer from Hanging within --timeout\n", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opened = nil
			var stdout, stderr bytes.Buffer
			var opts []Option
			for _, s := range tc.stores {
				opts = append(opts, WithStore(s))
			}
			code := Run(context.Background(), tc.args, strings.NewReader(""), &stdout, &stderr,
				func(k string) string {
					if k == storeEnv {
						return tc.env
					}
					return ""
				}, opts...)
			assert.Equal(t, exitUndecided, code)
			assert.Empty(t, stdout.String())
			assert.Equal(t, tc.stderr, stderr.String())
			require.Len(t, opened, tc.opens)
			for _, req := range opened {
				assert.False(t, req.Creates, "only create may make a store")
			}
		})
	}

	t.Run("create may make a store", func(t *testing.T) {
		opened = nil
		var stdout, stderr bytes.Buffer
		code := Run(context.Background(), []string{"create", "--org", "o", "--name", "n", "--store", "refuse://h/db"},
			strings.NewReader(""), &stdout, &stderr, func(string) string { return "" }, WithStore(refusing))
		assert.Equal(t, exitUndecided, code)
		require.Len(t, opened, 1)
		assert.True(t, opened[0].Creates)
		assert.Equal(t, "refuse://h/db", opened[0].DSN)
	})
}
