package apikey

import (
	"strings"
	"time"
)

// Owner is whoever an API key belongs to: an organization, or a user within
// an organization.
type Owner struct {
	// Type is "organization" or "user", or a store's own kind of owner.
	Type string `json:"type"`
	// ID is the organization's ID for an organization key, the user's ID for
	// a user key.
	ID string `json:"id"`
	// OrganizationID is set for a user key: the organization the user's key
	// is scoped to.
	OrganizationID string `json:"organization_id,omitempty"`
}

// Key is a validated API key: who it belongs to and what it may do, never
// its value. Validators fill in what their store knows; the zero value of a
// field means unknown. A *Key is shared between requests and by the cache:
// treat it as read-only.
type Key struct {
	// ID identifies the key in its store, and is how a Cache invalidates it
	// (Cache.InvalidateID). Required.
	ID string `json:"id"`
	// Name is the human-readable name given at creation.
	Name string `json:"name"`
	// Owner is who the key belongs to.
	Owner Owner `json:"owner"`
	// DisplayValue is a form of the key that is safe to show and to log,
	// such as "sk_...3456" or "acme_live_...x9Qz": never enough to use it.
	DisplayValue string `json:"display_value,omitempty"`
	// Permissions are the permission slugs granted to the key; see
	// HasPermission for how they match.
	Permissions []string `json:"permissions"`
	// Metadata is the store's own data about the key, such as a plan or a
	// customer ID. Validators that have none leave it nil.
	Metadata map[string]string `json:"metadata,omitempty"`
	// LastUsedAt is when the store last saw the key used; zero if never or
	// unknown. Behind a Cache the store sees only the requests that miss,
	// so it lags behind real use by up to the cache's TTL; LastUsed records
	// every use in this process.
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
	// ExpiresAt is when the key stops being valid; zero means never. Neither
	// the cache nor the middleware ever accepts a key past it.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// CreatedAt and UpdatedAt are the key's timestamps; zero if unknown.
	CreatedAt time.Time `json:"created_at,omitzero"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
	// Limits are the key's rate limits, which the middleware charges after
	// authentication (see Limit; WithLimits may hand out others). Empty
	// means none: such a key costs the middleware nothing more.
	Limits []Limit `json:"limits,omitempty"`
	// Quota is the key's allowance of credits, whose count a QuotaStore
	// keeps (see WithQuotas); nil means none.
	Quota *Quota `json:"quota,omitempty"`

	// cacheUntil, set by CacheUntil, bounds how long a Cache keeps this
	// answer; zero for no bound beyond its TTL.
	cacheUntil time.Time
}

// CacheUntil returns a copy of k that a Cache keeps no later than t, however
// long its TTL: for a validator that is itself a cache (a shared one, say)
// and knows how much longer its answer is good for, so that the two TTLs do
// not add up. Handlers see the copy as they would k; nothing else of it
// changes, and it is never serialized.
func CacheUntil(k *Key, t time.Time) *Key {
	c := *k
	c.cacheUntil = t
	return &c
}

// HasPermission reports whether k grants perm. A granted permission
// "posts:*" covers every "posts:…" permission and "*" covers all; perm
// itself is literal. A nil key grants nothing.
func (k *Key) HasPermission(perm string) bool {
	if k == nil {
		return false
	}
	for _, g := range k.Permissions {
		if grants(g, perm) {
			return true
		}
	}
	return false
}

// grants reports whether the granted permission g covers the required p.
func grants(g, p string) bool {
	if g == p || g == "*" {
		return true
	}
	prefix, ok := strings.CutSuffix(g, ":*")
	return ok && len(p) > len(prefix)+1 && p[len(prefix)] == ':' && strings.HasPrefix(p, prefix)
}

// expired reports whether k's ExpiresAt has passed by the clock now: the
// one expiry predicate of the package. Keys without an expiry cost no clock
// read.
func (k *Key) expired(now func() time.Time) bool {
	return !k.ExpiresAt.IsZero() && !now().Before(k.ExpiresAt)
}
