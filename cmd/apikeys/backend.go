package main

import (
	"context"
	"errors"
	"iter"
	"time"

	"github.com/apikeyauth/apikey"
)

// backend is what the commands need from wherever the keys live. WorkOS is
// one (workosBackend); a SQL store can be another, with the same output
// and exit statuses, since the commands see only this.
//
// Errors: apikey.ErrInvalidKey for a value that is not a valid key;
// errNotFound for an unknown key or organization; errAlreadyExpired for
// an expire on an expired key; anything else means the backend could not
// answer. No error may contain a key value.
type backend interface {
	// Validate returns the key whose value is value.
	Validate(ctx context.Context, value string) (*apikey.Key, error)
	// List yields every key of the organization, page after page; an error
	// ends the sequence.
	List(ctx context.Context, org string) iter.Seq2[*apikey.Key, error]
	// Get returns the organization's key with this ID.
	Get(ctx context.Context, org, id string) (*apikey.Key, error)
	// Create makes a key and returns it with its value, which is never
	// readable again. A non-empty value with an error means the key exists
	// all the same: the value must still be handed over.
	Create(ctx context.Context, req createRequest) (key *apikey.Key, value string, err error)
	// Expire makes the key stop working at at, or now if at is zero.
	Expire(ctx context.Context, id string, at time.Time) (*apikey.Key, error)
	// Delete removes the key for good.
	Delete(ctx context.Context, id string) error
}

// open returns the backend the flags and the environment name. Today that
// is WorkOS; a --store flag can choose another here, and nothing else in
// the commands changes.
func (a *app) open(conn *connection) (backend, error) {
	return a.openWorkOS(conn)
}

// createRequest describes a key to create.
type createRequest struct {
	Owner       apikey.Owner
	Name        string
	Permissions []string
	ExpiresAt   time.Time // zero: never
}

// The backend errors the commands answer with exit status 1.
var (
	errNotFound       = errors.New("no such key")
	errAlreadyExpired = errors.New("the key has already expired")
)

// marked is an error that also matches a mark with errors.Is, keeping its
// own text: the backend's own words, request id included.
type marked struct{ err, mark error }

func (e *marked) Error() string   { return e.err.Error() }
func (e *marked) Unwrap() []error { return []error{e.err, e.mark} }
