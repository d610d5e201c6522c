package apikey

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStatic(t *testing.T) {
	s := testStatic()
	ctx := context.Background()

	key, err := s.Validate(ctx, writerValue)
	require.NoError(t, err)
	assert.Equal(t, writerKey.ID, key.ID)
	assert.Equal(t, writerKey.Permissions, key.Permissions)

	for _, v := range []string{"", "sk_test_unknown", writerValue + "x", writerValue[:len(writerValue)-1]} {
		key, err := s.Validate(ctx, v)
		assert.Nil(t, key)
		assert.ErrorIs(t, err, ErrInvalidKey)
	}
}

func TestStaticKeepsNoValue(t *testing.T) {
	s := testStatic()
	// Walk every string the validator holds: none may be a key value.
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.String:
			for _, secret := range []string{readerValue, writerValue, adminValue} {
				assert.NotContains(t, v.String(), secret)
			}
		case reflect.Pointer, reflect.Interface:
			if !v.IsNil() {
				walk(v.Elem())
			}
		case reflect.Struct:
			for i := range v.NumField() {
				walk(v.Field(i))
			}
		case reflect.Slice, reflect.Array:
			for i := range v.Len() {
				walk(v.Index(i))
			}
		}
	}
	walk(reflect.ValueOf(s))
}

func TestNewStaticRejects(t *testing.T) {
	tests := []struct {
		name string
		keys map[string]Key
	}{
		{"empty value", map[string]Key{"": {ID: "a"}}},
		{"value outside token68", map[string]Key{"sk secret": {ID: "a"}}},
		{"empty ID", map[string]Key{"sk_a": {}}},
		{"duplicate ID", map[string]Key{"sk_a": {ID: "a"}, "sk_b": {ID: "a"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewStatic(tc.keys)
			assert.Nil(t, s)
			require.ErrorIs(t, err, ErrMisconfigured)
			assert.True(t, strings.HasPrefix(err.Error(), "apikey: NewStatic: "), err.Error())
			assert.NotContains(t, err.Error(), "sk secret")
			assert.False(t, strings.Contains(err.Error(), "sk_a") || strings.Contains(err.Error(), "sk_b"))
		})
	}
}

func TestStaticCopiesPermissions(t *testing.T) {
	perms := []string{"posts:read"}
	s, err := NewStatic(map[string]Key{"sk_a": {ID: "a", Permissions: perms}})
	require.NoError(t, err)
	perms[0] = "*"
	key, err := s.Validate(context.Background(), "sk_a")
	require.NoError(t, err)
	assert.Equal(t, []string{"posts:read"}, key.Permissions)
}

func TestContextHelpers(t *testing.T) {
	ctx := context.Background()
	_, ok := FromContext(ctx)
	assert.False(t, ok)

	key, ok := FromContext(NewContext(ctx, &readerKey))
	require.True(t, ok)
	assert.Same(t, &readerKey, key)

	_, ok = FromContext(NewContext(ctx, nil))
	assert.False(t, ok, "a nil key is no key")

	// A string key of the same spelling cannot reach it.
	type otherKey struct{}
	_, ok = FromContext(context.WithValue(ctx, otherKey{}, &readerKey))
	assert.False(t, ok)
}

func TestNewStaticLimits(t *testing.T) {
	limits := []Limit{{Rate: 1, Period: time.Second}}
	quota := &Quota{Remaining: 5, Refill: &Refill{Amount: 5, Interval: time.Hour}}
	s, err := NewStatic(map[string]Key{writerValue: {ID: "k", Limits: limits, Quota: quota}})
	require.NoError(t, err)
	limits[0].Rate, quota.Refill.Amount = 99, 99
	k, err := s.Validate(context.Background(), writerValue)
	require.NoError(t, err)
	assert.Equal(t, 1, k.Limits[0].Rate, "a copy of the limits")
	assert.Equal(t, int64(5), k.Quota.Refill.Amount, "and of the quota")

	_, err = NewStatic(map[string]Key{writerValue: {ID: "k", Limits: []Limit{{Rate: 0, Period: time.Second}}}})
	assert.ErrorIs(t, err, ErrMisconfigured)
	assert.Equal(t, `apikey: NewStatic: key "k": Limit: limit "default": the rate must be from 1 to 1000000000, not 0`, err.Error())
	_, err = NewStatic(map[string]Key{writerValue: {ID: "k", Quota: &Quota{Remaining: -1}}})
	assert.ErrorIs(t, err, ErrMisconfigured)
}
