package main

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"time"

	"github.com/apikeyauth/apikey"
	"github.com/apikeyauth/apikey/internal/keyctl"
	"github.com/apikeyauth/apikey/sqlstore"
)

// storeBackend keeps keys in a sqlstore.Store, and their rate limits and
// quotas (it is a keyctl.LimitsBackend). The store lists keys by
// owner ID: that is what --org names here.
type storeBackend struct {
	s   *sqlstore.Store
	now func() time.Time
}

func (b *storeBackend) Validate(ctx context.Context, value string) (*apikey.Key, error) {
	return b.s.Validate(ctx, value)
}

// List reports an owner that no key has as an error that is not
// ErrNotFound, as the WorkOS backend reports an organization WorkOS does
// not know: a store knows an owner only by its keys, so an owner without
// keys is a misspelt one (or one whose keys are all deleted), and must not
// pass for an owner whose keys are all in order ("0 of 0 keys flagged").
func (b *storeBackend) List(ctx context.Context, owner string) iter.Seq2[*apikey.Key, error] {
	return func(yield func(*apikey.Key, error) bool) {
		after := ""
		for {
			p, err := b.s.List(ctx, owner, after, sqlstore.MaxListLimit)
			if err != nil {
				yield(nil, err)
				return
			}
			if after == "" && len(p.Keys) == 0 {
				yield(nil, fmt.Errorf("no owner %s in the store: no key has this owner ID", owner))
				return
			}
			for _, k := range p.Keys {
				if !yield(k, nil) {
					return
				}
			}
			if p.After == "" {
				return
			}
			after = p.After
		}
	}
}

func (b *storeBackend) Get(ctx context.Context, owner, id string) (*apikey.Key, error) {
	k, err := b.get(ctx, id)
	if err == nil && k.Owner.ID != owner {
		return nil, fmt.Errorf("%w: %s is not a key of owner %s", keyctl.ErrNotFound, id, owner)
	}
	return k, err
}

func (b *storeBackend) get(ctx context.Context, id string) (*apikey.Key, error) {
	k, err := b.s.Get(ctx, id)
	if errors.Is(err, sqlstore.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s", keyctl.ErrNotFound, id)
	}
	return k, err
}

func (b *storeBackend) Create(ctx context.Context, req keyctl.CreateRequest) (*apikey.Key, string, error) {
	return b.s.Create(ctx, sqlstore.NewKey{
		Name: req.Name, Owner: req.Owner, Permissions: req.Permissions,
		Metadata: req.Metadata, ExpiresAt: req.ExpiresAt, Limits: req.Limits, Quota: req.Quota,
	})
}

func (b *storeBackend) SetLimits(ctx context.Context, id string, limits []apikey.Limit) (*apikey.Key, error) {
	if err := b.s.SetLimits(ctx, id, limits); err != nil {
		return nil, notFound(err, id)
	}
	return b.get(ctx, id)
}

func (b *storeBackend) SetQuota(ctx context.Context, id string, q *apikey.Quota) (*apikey.Key, error) {
	if err := b.s.SetQuota(ctx, id, q); err != nil {
		return nil, notFound(err, id)
	}
	return b.get(ctx, id)
}

func (b *storeBackend) MoveQuota(ctx context.Context, from, to string) error {
	return notFound(b.s.MoveQuota(ctx, from, to), from)
}

// notFound turns the store's ErrNotFound into the command's.
func notFound(err error, id string) error {
	if errors.Is(err, sqlstore.ErrNotFound) {
		return fmt.Errorf("%w: %s", keyctl.ErrNotFound, id)
	}
	return err
}

// Expire refuses an expired key, as WorkOS does: the store would extend
// it, and a mistyped command must not bring a retired key back.
func (b *storeBackend) Expire(ctx context.Context, id string, at time.Time) (*apikey.Key, error) {
	k, err := b.get(ctx, id)
	if err != nil {
		return nil, err
	}
	if !k.ExpiresAt.IsZero() && !b.now().Before(k.ExpiresAt) {
		return nil, fmt.Errorf("%w: %s expired at %s", keyctl.ErrAlreadyExpired, id, k.ExpiresAt.UTC().Format(time.RFC3339))
	}
	if err := b.s.Expire(ctx, id, at); err != nil {
		if errors.Is(err, sqlstore.ErrNotFound) {
			return nil, fmt.Errorf("%w: %s", keyctl.ErrNotFound, id)
		}
		return nil, err
	}
	return b.get(ctx, id)
}

func (b *storeBackend) Delete(ctx context.Context, id string) error {
	err := b.s.Revoke(ctx, id)
	if errors.Is(err, sqlstore.ErrNotFound) {
		return fmt.Errorf("%w: %s", keyctl.ErrNotFound, id)
	}
	return err
}

// Close writes the last use a validation queued and closes the database.
func (b *storeBackend) Close() error { return b.s.Close() }
