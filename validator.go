package apikey

import (
	"context"
	"time"
)

// Owner is whoever an API key belongs to: an organization, or a user within
// an organization.
type Owner struct {
	// Type is "organization" or "user".
	Type string `json:"type"`
	// ID is the organization's ID for an organization key, the user's ID for
	// a user key.
	ID string `json:"id"`
	// OrganizationID is set for a user key: the organization the user's key
	// is scoped to.
	OrganizationID string `json:"organization_id,omitempty"`
}

// Key is a validated API key: everything WorkOS returns about it, never its
// value. A *Key is shared between requests and by the cache: treat it as
// read-only.
type Key struct {
	// ID identifies the key, for example "api_key_01EHZNVPK3SFK441A1RGBFSHRT".
	// Invalidation by ID relies on it.
	ID string `json:"id"`
	// Name is the human-readable name given at creation.
	Name string `json:"name"`
	// Owner is who the key belongs to.
	Owner Owner `json:"owner"`
	// ObfuscatedValue is a display form such as "sk_...3456": opaque text,
	// safe to show and to log.
	ObfuscatedValue string `json:"obfuscated_value,omitempty"`
	// Permissions are the permission slugs granted to the key.
	Permissions []string `json:"permissions"`
	// LastUsedAt is when the key was last used; zero if never or unknown.
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
	// ExpiresAt is when the key stops being valid; zero means never. The
	// cache never serves a key past it.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// CreatedAt and UpdatedAt are the key's timestamps; zero if unknown.
	CreatedAt time.Time `json:"created_at,omitzero"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

// Validator decides whether a key value is a valid API key.
//
// Validate returns the key, or an error wrapping ErrInvalidKey when the key
// is unknown, revoked or expired. Any other error means "could not decide":
// the middleware answers 503 (or 500 for ErrMisconfigured) and the cache
// remembers nothing. Validate must be safe for concurrent use, must honour
// ctx, and must never put the value in an error, a log line or a panic.
type Validator interface {
	Validate(ctx context.Context, value string) (*Key, error)
}

// ValidatorFunc adapts a function to the Validator interface.
type ValidatorFunc func(ctx context.Context, value string) (*Key, error)

// Validate calls f(ctx, value).
func (f ValidatorFunc) Validate(ctx context.Context, value string) (*Key, error) {
	return f(ctx, value)
}
