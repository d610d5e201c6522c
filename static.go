package apikey

import (
	"context"
	"crypto/subtle"
	"maps"
	"slices"
	"strings"
)

// Static is an in-memory Validator over a fixed set of keys, for demos,
// tests and small deployments. It keeps only the SHA-256 digest of each
// value and compares a candidate's digest against every stored digest in
// constant time, so neither its memory nor its timing reveals a key.
//
// Build one with NewStatic. It is safe for concurrent use and never changes
// after construction. Its cost grows with the number of keys; put a Cache in
// front of it (New does by default).
type Static struct {
	digests []Digest
	keys    []*Key
}

// NewStatic returns a Static validator for keys, which maps each key value
// to what validation returns for it. Every key needs a non-empty value and
// ID, and a value that the default extractor would accept (token68). The
// error matches ErrMisconfigured and names the offending key by ID, never
// by value.
func NewStatic(keys map[string]Key) (*Static, error) {
	s := &Static{}
	ids := make(map[string]bool, len(keys))
	for value, k := range keys {
		if k.ID == "" {
			return nil, configError("NewStatic", "a key has an empty ID")
		}
		if ids[k.ID] {
			return nil, configError("NewStatic", "duplicate key ID %q", k.ID)
		}
		ids[k.ID] = true
		if value == "" || !isToken68(value) {
			return nil, configError("NewStatic", "key %q has an empty value or one with bytes outside token68", k.ID)
		}
		k.Permissions = slices.Clone(k.Permissions)
		k.Metadata = maps.Clone(k.Metadata)
		k.Limits = slices.Clone(k.Limits)
		for _, l := range k.Limits {
			if err := l.Validate(); err != nil {
				return nil, configError("NewStatic", "key %q: %s", k.ID, strings.TrimPrefix(err.Error(), "apikey: "))
			}
		}
		if k.Quota != nil {
			if err := k.Quota.Validate(); err != nil {
				return nil, configError("NewStatic", "key %q: %s", k.ID, strings.TrimPrefix(err.Error(), "apikey: "))
			}
			k.Quota = cloneQuota(k.Quota)
		}
		s.digests = append(s.digests, DigestOf(value))
		s.keys = append(s.keys, &k)
	}
	return s, nil
}

// Validate returns the key whose value is value, or ErrInvalidKey. It looks
// at every stored digest whatever the answer, so its timing does not depend
// on which key, if any, matched.
func (s *Static) Validate(ctx context.Context, value string) (*Key, error) {
	d := DigestOf(value)
	match := -1
	for i := range s.digests {
		if subtle.ConstantTimeCompare(d[:], s.digests[i][:]) == 1 {
			match = i
		}
	}
	if match < 0 {
		return nil, ErrInvalidKey
	}
	return s.keys[match], nil
}
