package workos

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/apikeyauth/apikey"
)

// wireKey is WorkOS's ApiKey object. Every field but id may be missing or
// null; unknown fields are ignored. Value is set only on creation.
type wireKey struct {
	ID              string     `json:"id"`
	Owner           *wireOwner `json:"owner"`
	Name            string     `json:"name"`
	ObfuscatedValue string     `json:"obfuscated_value"`
	LastUsedAt      *string    `json:"last_used_at"`
	ExpiresAt       *string    `json:"expires_at"`
	Permissions     []string   `json:"permissions"`
	CreatedAt       *string    `json:"created_at"`
	UpdatedAt       *string    `json:"updated_at"`
	Value           string     `json:"value"`
}

type wireOwner struct {
	Type           string `json:"type"`
	ID             string `json:"id"`
	OrganizationID string `json:"organization_id"`
}

// toKey converts a wire key. It fails on a missing id and on an expires_at
// it cannot read (an expiry must never be ignored); other unreadable
// timestamps are left zero.
func (w *wireKey) toKey() (*apikey.Key, error) {
	k, err := w.partialKey()
	if err != nil {
		return nil, err
	}
	return k, nil
}

// partialKey converts a wire key as far as it can: it always returns a
// key, with the error toKey would fail with, if any. The key's ExpiresAt is
// zero when expires_at is unreadable, so it must not be used without
// handling the error; it is for a created key, whose value must not be
// lost over a field it does not need. WorkOS's obfuscated_value becomes
// DisplayValue; Metadata stays nil, since WorkOS keys carry none.
func (w *wireKey) partialKey() (*apikey.Key, error) {
	k := &apikey.Key{
		ID:           w.ID,
		Name:         w.Name,
		DisplayValue: w.ObfuscatedValue,
		Permissions:  w.Permissions,
		LastUsedAt:   parseTime(w.LastUsedAt),
		CreatedAt:    parseTime(w.CreatedAt),
		UpdatedAt:    parseTime(w.UpdatedAt),
	}
	if k.Permissions == nil {
		k.Permissions = []string{}
	}
	if w.Owner != nil {
		k.Owner = apikey.Owner{Type: w.Owner.Type, ID: w.Owner.ID, OrganizationID: w.Owner.OrganizationID}
	}
	if w.ID == "" {
		return k, fmt.Errorf("%w: the api key has no id", ErrMalformedResponse)
	}
	if w.ExpiresAt != nil && *w.ExpiresAt != "" {
		t := parseTime(w.ExpiresAt)
		if t.IsZero() {
			return k, fmt.Errorf("%w: the api key's expires_at is not a timestamp", ErrMalformedResponse)
		}
		k.ExpiresAt = t
	}
	return k, nil
}

func parseTime(s *string) time.Time {
	if s == nil {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, *s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// decodeValidation decodes the body of a 200 from POST /api_keys/validations:
// a key, or (nil, nil) for "api_key": null. A body that is not an object
// with an api_key member is ErrMalformedResponse.
func decodeValidation(body []byte) (*apikey.Key, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil || top == nil {
		return nil, fmt.Errorf("%w: the validation response is not a JSON object", ErrMalformedResponse)
	}
	raw, ok := top["api_key"]
	if !ok {
		return nil, fmt.Errorf("%w: the validation response has no api_key", ErrMalformedResponse)
	}
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil, nil
	}
	var w wireKey
	if err := json.Unmarshal(raw, &w); err != nil {
		return nil, fmt.Errorf("%w: the validation response's api_key is not an api key object", ErrMalformedResponse)
	}
	return w.toKey()
}

// wireList is a page of OrganizationApiKeyList.
type wireList struct {
	Data         []wireKey `json:"data"`
	ListMetadata struct {
		Before *string `json:"before"`
		After  *string `json:"after"`
	} `json:"list_metadata"`
}
