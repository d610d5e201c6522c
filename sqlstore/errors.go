package sqlstore

import (
	"errors"
	"fmt"

	"github.com/apikeyauth/apikey"
)

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
