package apikey

import (
	"context"
	"reflect"
	"strings"
	"testing"

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
