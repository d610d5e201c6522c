package workos

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/apikeyauth/apikey"
)

// CreatedKey is a key just created, with its value. WorkOS returns the
// value only once, at creation: store it or hand it over now, it cannot be
// read again. Printing, logging or JSON-encoding a CreatedKey hides the
// value (String, GoString, Format, LogValue, MarshalJSON), so that it can
// only leave through an explicit use of the Value field.
type CreatedKey struct {
	// Key is the key as WorkOS describes it, without the value.
	Key *apikey.Key
	// Value is the full key, shown once.
	Value string
}

// String describes the key without its value.
func (k CreatedKey) String() string {
	id := ""
	if k.Key != nil {
		id = k.Key.ID
	}
	return "workos.CreatedKey{ID: " + strconv.Quote(id) + ", Value: [shown once, not printed]}"
}

// GoString is String, for %#v.
func (k CreatedKey) GoString() string { return k.String() }

// Format prints String for every verb: the default formatting would print
// the value for verbs such as %d or %x, which skip String.
func (k CreatedKey) Format(f fmt.State, _ rune) { printAs(f, k.String()) }

// LogValue logs the key's ID and name, never its value.
func (k CreatedKey) LogValue() slog.Value {
	if k.Key == nil {
		return slog.GroupValue()
	}
	return slog.GroupValue(slog.String("id", k.Key.ID), slog.String("name", k.Key.Name))
}

// MarshalJSON encodes the key without its value, as {"Key": {...}}:
// slog's JSON handler, and any JSON encoder, marshals nested values, which
// would otherwise carry the value into logs and API answers.
func (k CreatedKey) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct{ Key *apikey.Key }{k.Key})
}
