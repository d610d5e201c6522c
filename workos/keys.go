package workos

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/apikeyauth/apikey"
)

// CreatedKey is a key just created, with its value. WorkOS returns the
// value only once, at creation: store it or hand it over now, it cannot be
// read again. String, GoString and LogValue hide the value, so that
// printing or logging a CreatedKey does not leak it.
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

// LogValue logs the key's ID and name, never its value.
func (k CreatedKey) LogValue() slog.Value {
	if k.Key == nil {
		return slog.GroupValue()
	}
	return slog.GroupValue(slog.String("id", k.Key.ID), slog.String("name", k.Key.Name))
}

// CreateKeyParams describes a key to create.
type CreateKeyParams struct {
	// Name is the key's human-readable name. Required.
	Name string
	// Permissions are the permission slugs to grant; none if empty.
	Permissions []string
	// ExpiresAt is when the key stops working; zero means never. WorkOS
	// requires it to be in the future.
	ExpiresAt time.Time
	// IdempotencyKey is sent as the Idempotency-Key header, the same on
	// every retry. Default: a random one per call.
	IdempotencyKey string
}

// CreateOrganizationKey creates an API key owned by the organization
// (POST /organizations/{organizationId}/api_keys) and returns it with its
// value, which WorkOS shows only this once. Retries carry the same
// Idempotency-Key, so a retried create makes one key.
func (c *Client) CreateOrganizationKey(ctx context.Context, organizationID string, p CreateKeyParams) (*CreatedKey, error) {
	if err := checkID("organization ID", organizationID); err != nil {
		return nil, err
	}
	if p.Name == "" {
		return nil, fmt.Errorf("%w: the key name is empty", ErrInvalidArgument)
	}
	req := struct {
		Name        string   `json:"name"`
		Permissions []string `json:"permissions,omitempty"`
		ExpiresAt   string   `json:"expires_at,omitempty"`
	}{Name: p.Name, Permissions: p.Permissions}
	if !p.ExpiresAt.IsZero() {
		req.ExpiresAt = formatTime(p.ExpiresAt)
	}
	path := "/organizations/" + url.PathEscape(organizationID) + "/api_keys"
	r, err := c.call(ctx, http.MethodPost, path, nil, req, p.IdempotencyKey)
	if err != nil {
		return nil, err
	}
	var w wireKey
	if err := decodeJSON(http.MethodPost, path, r.body, &w); err != nil {
		return nil, err
	}
	if w.Value == "" {
		return nil, fmt.Errorf("%w: POST %s: the created key has no value", ErrMalformedResponse, path)
	}
	key, err := w.toKey()
	if err != nil {
		return nil, err
	}
	return &CreatedKey{Key: key, Value: w.Value}, nil
}

// DeleteKey deletes the key for good (DELETE /api_keys/{id}): requests
// with it fail from then on. The connected invalidator forgets it at once,
// also when WorkOS answers 404 (an error matching ErrNotFound): either way
// the key no longer works. A 404 on a retry, after an attempt whose answer
// was lost, counts as success.
func (c *Client) DeleteKey(ctx context.Context, id string) error {
	if err := checkID("key ID", id); err != nil {
		return err
	}
	path := "/api_keys/" + url.PathEscape(id)
	_, err := c.call(ctx, http.MethodDelete, path, nil, nil, "")
	var ae *APIError
	switch {
	case err == nil:
		c.invalidate(id)
		return nil
	case errors.As(err, &ae) && ae.StatusCode == http.StatusNotFound:
		c.invalidate(id)
		if ae.retried {
			return nil
		}
		return err
	}
	return err
}

// ExpireKey expires the key now (POST /api_keys/{id}/expire with {}),
// and returns it as WorkOS now describes it. An already expired key is an
// error matching ErrAlreadyExpired; an unknown one, ErrNotFound. The
// connected invalidator forgets the key in every case but a failure to
// reach WorkOS.
func (c *Client) ExpireKey(ctx context.Context, id string) (*apikey.Key, error) {
	return c.expire(ctx, id, time.Time{})
}

// ExpireKeyAt schedules the key to expire at at, which must be in the
// future (POST /api_keys/{id}/expire with {"expires_at": at}). Errors are
// as for ExpireKey. The connected invalidator forgets the key, so that the
// cache learns its new expiry, which it never serves a key past.
func (c *Client) ExpireKeyAt(ctx context.Context, id string, at time.Time) (*apikey.Key, error) {
	if at.IsZero() {
		return nil, fmt.Errorf("%w: the expiry time is zero; use ExpireKey to expire now", ErrInvalidArgument)
	}
	return c.expire(ctx, id, at)
}

func (c *Client) expire(ctx context.Context, id string, at time.Time) (*apikey.Key, error) {
	if err := checkID("key ID", id); err != nil {
		return nil, err
	}
	req := struct {
		ExpiresAt string `json:"expires_at,omitempty"`
	}{}
	if !at.IsZero() {
		req.ExpiresAt = formatTime(at)
	}
	path := "/api_keys/" + url.PathEscape(id) + "/expire"
	r, err := c.call(ctx, http.MethodPost, path, nil, req, "")
	var ae *APIError
	if err == nil || errors.As(err, &ae) && (ae.StatusCode == http.StatusNotFound || ae.StatusCode == http.StatusConflict) {
		c.invalidate(id)
	}
	if err != nil {
		return nil, err
	}
	var w wireKey
	if err := decodeJSON(http.MethodPost, path, r.body, &w); err != nil {
		return nil, err
	}
	return w.toKey()
}

// ListOptions tunes ListOrganizationKeys.
type ListOptions struct {
	// Limit is the page size, 1 to 100. Default: 100.
	Limit int
	// Order is "desc", "asc" or "normal". Default: WorkOS's ("desc").
	Order string
}

// ListOrganizationKeys lists the organization's API keys
// (GET /organizations/{organizationId}/api_keys), fetching pages as the
// loop needs them by following list_metadata.after. opts may be nil.
//
// An error ends the sequence: it is yielded once, with a nil key. An
// unknown organization yields no keys and no error: WorkOS answers 404,
// its emulator an empty list, and both mean "no keys here". Stopping the
// loop early fetches no further page.
func (c *Client) ListOrganizationKeys(ctx context.Context, organizationID string, opts *ListOptions) iter.Seq2[*apikey.Key, error] {
	return func(yield func(*apikey.Key, error) bool) {
		if err := checkID("organization ID", organizationID); err != nil {
			yield(nil, err)
			return
		}
		q := url.Values{}
		limit := 100
		if opts != nil && opts.Limit != 0 {
			limit = opts.Limit
		}
		if limit < 1 || limit > 100 {
			yield(nil, fmt.Errorf("%w: the page limit must be 1 to 100, not %d", ErrInvalidArgument, limit))
			return
		}
		q.Set("limit", strconv.Itoa(limit))
		if opts != nil && opts.Order != "" {
			q.Set("order", opts.Order)
		}
		path := "/organizations/" + url.PathEscape(organizationID) + "/api_keys"
		seen := map[string]bool{}
		for {
			r, err := c.call(ctx, http.MethodGet, path, q, nil, "")
			var ae *APIError
			if errors.As(err, &ae) && ae.StatusCode == http.StatusNotFound && !q.Has("after") {
				return
			}
			if err != nil {
				yield(nil, err)
				return
			}
			var page wireList
			if err := decodeJSON(http.MethodGet, path, r.body, &page); err != nil {
				yield(nil, err)
				return
			}
			for i := range page.Data {
				key, err := page.Data[i].toKey()
				if !yield(key, err) || err != nil {
					return
				}
			}
			after := page.ListMetadata.After
			if after == nil || *after == "" || len(page.Data) == 0 {
				return
			}
			if seen[*after] {
				yield(nil, fmt.Errorf("%w: GET %s: the cursor %q repeats", ErrMalformedResponse, path, *after))
				return
			}
			seen[*after] = true
			q.Set("after", *after)
		}
	}
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
