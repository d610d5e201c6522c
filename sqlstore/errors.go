package sqlstore

import (
	"errors"
	"fmt"

	"github.com/apikeyauth/apikey"
)

// The errors of the package. Where apikey has a sentinel that means the
// same, the Store uses it instead of one of its own: Validate answers
// apikey.ErrInvalidKey for an unknown or expired key, a database error on
// the request path is an *apikey.UnavailableError, and Open's refusals
// match apikey.ErrMisconfigured. These are the store's own.
var (
	// ErrNotFound reports a key ID that the store does not hold (never
	// created, or revoked).
	ErrNotFound = errors.New("sqlstore: key not found")

	// ErrInvalidInput reports a NewKey, permission or metadata that the
	// store refuses; the error says which field and why.
	ErrInvalidInput = errors.New("sqlstore: invalid input")

	// ErrSchemaOutdated reports a database that lacks tables, or a
	// version of them, that this package needs: run Migrate (see
	// CheckSchema).
	ErrSchemaOutdated = errors.New("sqlstore: the schema is missing or older than this package")

	// ErrKeyFormatMismatch reports a Store whose key format is not the
	// one the database records for its keys (see WithKeyFormat): keys it
	// issued would be refused by the applications that check the
	// database's format. The error names both.
	ErrKeyFormatMismatch = errors.New("sqlstore: the key format is not the database's")

	// ErrClosed reports a call on a closed Store.
	ErrClosed = errors.New("sqlstore: closed")
)

// unavailable wraps a database error for the middleware: 503, and nothing
// cached.
func unavailable(err error) error {
	return &apikey.UnavailableError{Err: fmt.Errorf("sqlstore: %w", err)}
}

func invalidInput(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidInput}, args...)...)
}

// configError is an Open error that matches apikey.ErrMisconfigured.
type configError struct{ msg string }

func misconfigured(format string, args ...any) error {
	return &configError{msg: "sqlstore: Open: " + fmt.Sprintf(format, args...)}
}

func (e *configError) Error() string { return e.msg }

// Unwrap returns apikey.ErrMisconfigured.
func (e *configError) Unwrap() error { return apikey.ErrMisconfigured }
