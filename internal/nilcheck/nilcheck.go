// Package nilcheck tells whether an interface value holds nothing usable,
// for constructors that must refuse a nil dependency at setup rather than
// panic on first use.
package nilcheck

import "reflect"

// Is reports whether v is nil or holds a nil pointer, func, map, slice,
// channel or interface.
func Is(v any) bool {
	if v == nil {
		return true
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Pointer, reflect.Func, reflect.Map, reflect.Interface, reflect.Slice, reflect.Chan:
		return rv.IsNil()
	}
	return false
}
