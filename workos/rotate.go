package workos

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/apikeyauth/apikey"
)

// RotateOptions tunes a rotation.
type RotateOptions struct {
	// GracePeriod is how long the old key keeps working after the new one
	// exists, for clients to switch over. Zero deletes the old key at once.
	// An old key that expires sooner anyway is left to expire then.
	GracePeriod time.Duration
	// ExpiresAt is when the new key expires; zero means never.
	ExpiresAt time.Time
}

// Rotation is the outcome of a rotation. Printing, logging or
// JSON-encoding it hides the new key's value (see CreatedKey).
type Rotation struct {
	// New is the new key with its value, shown once.
	New CreatedKey
	// Old is the old key, as it was before the rotation.
	Old *apikey.Key
	// OldExpiresAt is when the old key stops working: now plus the grace
	// period, or its own earlier expiry; zero when it was deleted.
	OldExpiresAt time.Time
}

// RotateKey replaces the key whose value is oldValue: it validates it to
// learn its ID, organization, name and permissions, creates a key with the
// same name and permissions for the same organization, then expires the old
// key after opts.GracePeriod (or deletes it when the grace period is zero).
//
// An invalid or expired old value is an error matching apikey.ErrInvalidKey,
// and creates nothing. Only organization keys can be rotated: a user-owned
// key is ErrUserOwnedKey, since creating user keys is behind a WorkOS
// feature flag. If the new key is created but the old one cannot be
// retired, RotateKey returns the Rotation, whose new value must not be lost,
// with an error matching ErrOldKeyNotRetired. So it does, without touching
// the old key, when WorkOS's answer to the create has the new value but is
// otherwise malformed (the error then also matches ErrMalformedResponse).
func (c *Client) RotateKey(ctx context.Context, oldValue string, opts RotateOptions) (*Rotation, error) {
	if ctx == nil {
		return nil, fmt.Errorf("%w: nil context", ErrInvalidArgument)
	}
	if oldValue == "" {
		return nil, fmt.Errorf("%w: the old key value is empty", ErrInvalidArgument)
	}
	old, err := c.Validate(ctx, oldValue)
	if err != nil {
		return nil, fmt.Errorf("workos: rotate: validating the old key: %w", err)
	}
	return c.rotate(ctx, old, opts)
}

// RotateKeyByID is RotateKey for a key known by its ID. WorkOS has no
// endpoint that reads one key, so the key is looked up in the list of the
// organization's keys; an ID not found there is an error matching
// ErrNotFound.
func (c *Client) RotateKeyByID(ctx context.Context, organizationID, id string, opts RotateOptions) (*Rotation, error) {
	if err := checkID("key ID", id); err != nil {
		return nil, err
	}
	if err := checkID("organization ID", organizationID); err != nil {
		return nil, err
	}
	var old *apikey.Key
	for k, err := range c.ListOrganizationKeys(ctx, organizationID, nil) {
		if err != nil {
			return nil, fmt.Errorf("workos: rotate: listing the organization's keys: %w", err)
		}
		if k.ID == id {
			old = k
			break
		}
	}
	if old == nil {
		return nil, fmt.Errorf("%w: rotate: no key %q in organization %q", ErrNotFound, id, organizationID)
	}
	if !old.ExpiresAt.IsZero() && !c.now().Before(old.ExpiresAt) {
		return nil, fmt.Errorf("%w: rotate: the key has expired", apikey.ErrInvalidKey)
	}
	return c.rotate(ctx, old, opts)
}

func (c *Client) rotate(ctx context.Context, old *apikey.Key, opts RotateOptions) (*Rotation, error) {
	if opts.GracePeriod < 0 {
		return nil, fmt.Errorf("%w: the grace period is negative", ErrInvalidArgument)
	}
	var org string
	switch old.Owner.Type {
	case "organization":
		org = old.Owner.ID
	case "user":
		return nil, ErrUserOwnedKey
	default:
		return nil, fmt.Errorf("%w: rotate: the key's owner type %q is unknown", ErrMalformedResponse, old.Owner.Type)
	}
	created, err := c.CreateOrganizationKey(ctx, org, CreateKeyParams{
		Name:        old.Name,
		Permissions: old.Permissions,
		ExpiresAt:   opts.ExpiresAt,
	})
	if created == nil {
		return nil, fmt.Errorf("workos: rotate: creating the new key: %w", err)
	}
	rot := &Rotation{New: *created, Old: old}
	if err != nil {
		// The new key exists, but its description is odd: keep the old key
		// working, and hand the new value over with the usual signal.
		return rot, fmt.Errorf("%w: the new key's description is malformed: %w", ErrOldKeyNotRetired, err)
	}
	if opts.GracePeriod == 0 {
		if err := c.DeleteKey(ctx, old.ID); err != nil && !errors.Is(err, ErrNotFound) {
			return rot, fmt.Errorf("%w: deleting %s: %w", ErrOldKeyNotRetired, old.ID, err)
		}
		return rot, nil
	}
	at := c.now().Add(opts.GracePeriod)
	if !old.ExpiresAt.IsZero() && !old.ExpiresAt.After(at) {
		rot.OldExpiresAt = old.ExpiresAt
		return rot, nil
	}
	if _, err := c.ExpireKeyAt(ctx, old.ID, at); err != nil {
		if errors.Is(err, ErrAlreadyExpired) || errors.Is(err, ErrNotFound) {
			return rot, nil
		}
		return rot, fmt.Errorf("%w: expiring %s: %w", ErrOldKeyNotRetired, old.ID, err)
	}
	rot.OldExpiresAt = at
	return rot, nil
}

// String describes the rotation without the new key's value.
func (r *Rotation) String() string {
	if r == nil {
		return "workos.Rotation(nil)"
	}
	old := ""
	if r.Old != nil {
		old = r.Old.ID
	}
	s := "workos.Rotation{New: " + r.New.String() + ", Old: " + strconv.Quote(old)
	if !r.OldExpiresAt.IsZero() {
		s += ", OldExpiresAt: " + r.OldExpiresAt.Format(time.RFC3339)
	}
	return s + "}"
}

// Format prints String for every verb, %#v included.
func (r *Rotation) Format(f fmt.State, _ rune) { printAs(f, r.String()) }

// LogValue logs the new key's ID and name, the old key's ID and when it
// stops working; never the new value.
func (r *Rotation) LogValue() slog.Value {
	if r == nil {
		return slog.StringValue("<nil>")
	}
	attrs := []slog.Attr{slog.Any("new", r.New.LogValue())}
	if r.Old != nil {
		attrs = append(attrs, slog.String("old_id", r.Old.ID))
	}
	if !r.OldExpiresAt.IsZero() {
		attrs = append(attrs, slog.Time("old_expires_at", r.OldExpiresAt))
	}
	return slog.GroupValue(attrs...)
}
