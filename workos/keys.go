package workos

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/apikeyauth/apikey"
)

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
//
// When WorkOS's answer has the value but is otherwise malformed (an
// unreadable expires_at, a missing id, a field of the wrong type), the key
// exists all the same: CreateOrganizationKey then returns the *CreatedKey,
// as far as it could be read, together with an error matching
// ErrMalformedResponse. Keep the value. Its Key.ExpiresAt is then the
// requested p.ExpiresAt if WorkOS's could not be read. A nil *CreatedKey
// means no value was received.
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
	// A field of the wrong type still lets the others decode: the value
	// may be there even when decodeJSON fails.
	var w wireKey
	derr := decodeJSON(http.MethodPost, path, r.body, &w)
	if w.Value == "" {
		if derr != nil {
			return nil, derr
		}
		return nil, fmt.Errorf("%w: POST %s: the created key has no value", ErrMalformedResponse, path)
	}
	key, kerr := w.partialKey()
	created := &CreatedKey{Key: key, Value: w.Value}
	if kerr == nil {
		kerr = derr
	}
	if kerr != nil {
		if key.ExpiresAt.IsZero() {
			key.ExpiresAt = p.ExpiresAt
		}
		return created, fmt.Errorf("%w (POST %s created the key anyway: its value is returned with this error)", kerr, path)
	}
	return created, nil
}

// DeleteKey deletes the key for good (DELETE /api_keys/{id}): requests
// with it fail from then on. The connected invalidator forgets it whatever
// the outcome, unless the ID is refused before anything is sent: a delete
// whose answer is lost, or that WorkOS answers 404 (an error matching
// ErrNotFound), may still have removed the key, and forgetting it costs
// one validation. WorkOS's "not found" on a retry, after an attempt that
// got no answer, counts as success: that attempt deleted it. A 404 that
// is not WorkOS's "not found" (ErrRouteNotFound) never does.
func (c *Client) DeleteKey(ctx context.Context, id string) error {
	if err := checkID("key ID", id); err != nil {
		return err
	}
	path := "/api_keys/" + url.PathEscape(id)
	_, err := c.call(ctx, http.MethodDelete, path, nil, nil, "")
	if !errors.Is(err, ErrInvalidArgument) {
		c.invalidate(id)
	}
	var ae *APIError
	if errors.As(err, &ae) && ae.afterLostAnswer && errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// ExpireKey expires the key now (POST /api_keys/{id}/expire with {}),
// and returns it as WorkOS now describes it. An already expired key is an
// error matching ErrAlreadyExpired; an unknown one, ErrNotFound. A 409 on
// a retry, after an attempt that got no answer, counts as success, since
// that attempt expired the key: the key returned then has only its ID and
// an ExpiresAt of the time of the retry. The connected invalidator forgets
// the key whatever the outcome, unless the ID is refused before anything
// is sent.
func (c *Client) ExpireKey(ctx context.Context, id string) (*apikey.Key, error) {
	return c.expire(ctx, id, time.Time{})
}

// ExpireKeyAt schedules the key to expire at at, which must be in the
// future (POST /api_keys/{id}/expire with {"expires_at": at}, sent to the
// millisecond). Errors are as for ExpireKey. The connected invalidator
// forgets the key, so that the cache learns its new expiry, which it never
// serves a key past.
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
	if !errors.Is(err, ErrInvalidArgument) {
		c.invalidate(id)
	}
	var ae *APIError
	if errors.As(err, &ae) && ae.afterLostAnswer && errors.Is(err, ErrAlreadyExpired) {
		// The first attempt did it; it asked for at, or for now.
		if at.IsZero() {
			at = c.now()
		}
		return &apikey.Key{ID: id, ExpiresAt: at}, nil
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
// organization WorkOS does not know yields an error matching ErrNotFound;
// a 404 from a path that is no WorkOS endpoint (a wrong base URL), one
// matching ErrRouteNotFound: neither reads as an organization without
// keys. (WorkOS's emulator answers an unknown organization with an empty
// list, which cannot be told apart from one without keys.) Stopping the
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

// wireTime is the timestamp format WorkOS sends and shows in its examples:
// UTC, to the millisecond ("2030-01-01T00:00:00.000Z").
const wireTime = "2006-01-02T15:04:05.000Z07:00"

// formatTime formats t for WorkOS, truncated to the millisecond.
func formatTime(t time.Time) string { return t.UTC().Format(wireTime) }
