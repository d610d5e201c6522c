package keyctl

import (
	"context"
	"errors"
	"iter"
	"time"

	"github.com/apikeyauth/apikey"
)

// Backend is what the commands need from wherever the keys live: WorkOS,
// or a store that --store names (see Store). The commands see only this,
// so their output and exit statuses are the same whatever answers.
//
// Errors: apikey.ErrInvalidKey for a value that is not a valid key;
// ErrNotFound for an unknown key or owner; ErrAlreadyExpired for an
// expire on an expired key; anything else means the backend could not
// answer. No error may contain a key value.
type Backend interface {
	// Validate returns the key whose value is value.
	Validate(ctx context.Context, value string) (*apikey.Key, error)
	// List yields every key of the owner (a WorkOS organization), page
	// after page; an error ends the sequence.
	List(ctx context.Context, owner string) iter.Seq2[*apikey.Key, error]
	// Get returns the owner's key with this ID.
	Get(ctx context.Context, owner, id string) (*apikey.Key, error)
	// Create makes a key and returns it with its value, which is never
	// readable again. A non-empty value with an error means the key exists
	// all the same: the value must still be handed over.
	Create(ctx context.Context, req CreateRequest) (key *apikey.Key, value string, err error)
	// Expire makes the key stop working at at, or now if at is zero.
	Expire(ctx context.Context, id string, at time.Time) (*apikey.Key, error)
	// Delete removes the key for good.
	Delete(ctx context.Context, id string) error
	// Close releases the connection; the command calls it once, last.
	Close() error
}

// CreateRequest describes a key to create.
type CreateRequest struct {
	Owner       apikey.Owner
	Name        string
	Permissions []string
	// Metadata is carried over by a rotation, where the backend keeps it.
	Metadata  map[string]string
	ExpiresAt time.Time // zero: never
	// Limits and Quota are for a LimitsBackend only: the commands never
	// give them to another.
	Limits []apikey.Limit
	Quota  *apikey.Quota
}

// The backend errors the commands answer with exit status 1.
var (
	ErrNotFound       = errors.New("no such key")
	ErrAlreadyExpired = errors.New("the key has already expired")
)

// marked is an error that also matches a mark with errors.Is, keeping its
// own text: the backend's own words, request id included.
type marked struct{ err, mark error }

func (e *marked) Error() string   { return e.err.Error() }
func (e *marked) Unwrap() []error { return []error{e.err, e.mark} }
