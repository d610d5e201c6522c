package apikey

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEnrich(t *testing.T) {
	static := testStatic()
	byOrg := map[string]*Quota{"org_1": {Remaining: 1}}
	v := Enrich(static, func(k *Key) {
		k.Limits = []Limit{{Rate: 100, Period: time.Second}}
		k.Quota = byOrg[k.Owner.ID]
	})
	k, err := v.Validate(context.Background(), writerValue)
	require.NoError(t, err)
	assert.Len(t, k.Limits, 1)
	assert.Equal(t, int64(1), k.Quota.Remaining)
	orig, err := static.Validate(context.Background(), writerValue)
	require.NoError(t, err)
	assert.Nil(t, orig.Quota, "the validator's own key is untouched")
	assert.Empty(t, orig.Limits)

	_, err = v.Validate(context.Background(), "sk_test_unknown")
	assert.ErrorIs(t, err, ErrInvalidKey)
	assert.Nil(t, Enrich(nil, func(*Key) {}))
	assert.Nil(t, Enrich(static, nil))
	_, err = New(Enrich(static, nil))
	assert.ErrorIs(t, err, ErrMisconfigured)

	// Behind the middleware, the enriched quota is spent.
	m, err := New(v, WithQuotas(&memQuotas{}))
	require.NoError(t, err)
	h := m.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	assert.Equal(t, 200, serve(h, writerValue).Code)
	assert.Equal(t, 429, serve(h, writerValue).Code)
	assert.Equal(t, 200, serve(h, adminValue).Code, "a user key of org_1 has Owner.ID user_1: no quota")
}
