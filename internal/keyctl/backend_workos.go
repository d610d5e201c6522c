package keyctl

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/apikeyauth/apikey"
	"github.com/apikeyauth/apikey/workos"
)

// workosBackend keeps keys in WorkOS, through the workos package's client.
// WorkOS keeps no metadata of a key: a rotation's new key has none.
type workosBackend struct{ c *workos.Client }

// openWorkOS builds the WorkOS client from the flags and the environment.
func (a *app) openWorkOS(conn *connection) (Backend, error) {
	secret := a.env("WORKOS_API_KEY")
	if conn.apiKeyFile != "" {
		b, err := os.ReadFile(conn.apiKeyFile)
		var pe *fs.PathError
		if errors.As(err, &pe) {
			// Without the path, which may be a key pasted in its place.
			err = pe.Err
		}
		if err != nil {
			return nil, fmt.Errorf("reading --api-key-file: %w", err)
		}
		secret = strings.TrimSpace(string(b))
	}
	if secret == "" {
		return nil, errors.New("WORKOS_API_KEY is not set (or use --api-key-file)")
	}
	base := conn.baseURL
	if base == "" {
		base = a.env("WORKOS_BASE_URL")
	}
	opts := []workos.Option{
		workos.WithValidationBudget(conn.timeout),
		workos.WithUserAgent("apikeys/1 (+https://github.com/apikeyauth/apikey)"),
		// Errors are reported once, on one line, by the command itself.
		workos.WithLogger(slog.New(slog.DiscardHandler)),
	}
	if base != "" {
		opts = append(opts, workos.WithBaseURL(base))
	}
	c, err := workos.New(secret, append(opts, a.clientOptions...)...)
	if err != nil {
		return nil, err
	}
	return &workosBackend{c}, nil
}

func (b *workosBackend) Validate(ctx context.Context, value string) (*apikey.Key, error) {
	return b.c.Validate(ctx, value)
}

// List reports an organization WorkOS does not know as an error that is
// not ErrNotFound: a misnamed organization is a mistake in the command,
// not a "no" about a key, and must not pass for one without keys.
func (b *workosBackend) List(ctx context.Context, org string) iter.Seq2[*apikey.Key, error] {
	return func(yield func(*apikey.Key, error) bool) {
		for k, err := range b.c.ListOrganizationKeys(ctx, org, nil) {
			if errors.Is(err, workos.ErrNotFound) {
				err = fmt.Errorf("no organization %s in WorkOS: %w", clean(org), err)
				yield(nil, err)
				return
			}
			if !yield(k, mark(err)) {
				return
			}
		}
	}
}

// Get finds the key in the organization's list: WorkOS has no endpoint
// that reads one key.
func (b *workosBackend) Get(ctx context.Context, org, id string) (*apikey.Key, error) {
	for k, err := range b.List(ctx, org) {
		if err != nil {
			return nil, err
		}
		if k.ID == id {
			return k, nil
		}
	}
	return nil, &marked{fmt.Errorf("no key %s in organization %s", id, org), ErrNotFound}
}

func (b *workosBackend) Create(ctx context.Context, req CreateRequest) (*apikey.Key, string, error) {
	if req.Owner.Type != "organization" {
		// Creating user keys is behind a WorkOS feature flag.
		return nil, "", fmt.Errorf("only organization keys can be created with WorkOS, not %s keys", clean(req.Owner.Type))
	}
	created, err := b.c.CreateOrganizationKey(ctx, req.Owner.ID, workos.CreateKeyParams{
		Name: req.Name, Permissions: req.Permissions, ExpiresAt: req.ExpiresAt,
	})
	// Not marked: an unknown organization is a usage error here, not a
	// "no" about a key.
	if created == nil {
		return nil, "", err
	}
	return created.Key, created.Value, err
}

func (b *workosBackend) Expire(ctx context.Context, id string, at time.Time) (*apikey.Key, error) {
	if at.IsZero() {
		k, err := b.c.ExpireKey(ctx, id)
		return k, mark(err)
	}
	k, err := b.c.ExpireKeyAt(ctx, id, at)
	return k, mark(err)
}

func (b *workosBackend) Delete(ctx context.Context, id string) error {
	return mark(b.c.DeleteKey(ctx, id))
}

// Close does nothing: the client holds no connection of its own.
func (b *workosBackend) Close() error { return nil }

// mark makes the workos package's errors match the backend's.
func mark(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, workos.ErrNotFound):
		return &marked{err, ErrNotFound}
	case errors.Is(err, workos.ErrAlreadyExpired):
		return &marked{err, ErrAlreadyExpired}
	}
	return err
}
