package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/apikeyauth/apikey"
)

// Limits on what a key carries, so that one request cannot fill the table.
const (
	maxNameLen     = 200
	maxPermissions = 100
	maxMetadata    = 50
	maxFieldLen    = 500
	// DefaultListLimit and MaxListLimit bound a page of List.
	DefaultListLimit = 100
	MaxListLimit     = 1000
)

// NewKey is what Create needs to issue a key.
type NewKey struct {
	// Name is a human-readable name; required.
	Name string
	// Owner is who the key belongs to; Owner.ID is required, and an empty
	// Owner.Type means "organization".
	Owner apikey.Owner
	// Permissions are the permission slugs the key grants.
	Permissions []string
	// Metadata is the store's own data about the key, returned with it.
	Metadata map[string]string
	// ExpiresAt is when the key stops being valid; zero means never.
	ExpiresAt time.Time
	// Limits are the key's rate limits (at most 10, each named once);
	// none means none.
	Limits []apikey.Limit
	// Quota is the key's allowance of credits, which Spend takes from;
	// nil means none. A refill's intervals count from the key's creation.
	Quota *apikey.Quota
}

// Create issues a key: it generates a value in the Store's format, stores
// its digest, and returns the key and the value. The value is not kept
// anywhere: show it to its owner now, it cannot be read again.
func (s *Store) Create(ctx context.Context, nk NewKey) (*apikey.Key, string, error) {
	if nk.Owner.Type == "" {
		nk.Owner.Type = "organization"
	}
	if err := checkNewKey(nk); err != nil {
		return nil, "", err
	}
	var (
		k     *apikey.Key
		value string
	)
	err := s.inTx(ctx, func(tx *sql.Tx) (err error) {
		if k, value, err = s.insert(ctx, tx, nk); err != nil {
			return err
		}
		return s.record(ctx, tx, "")
	})
	if err != nil {
		return nil, "", wrap("Create", err)
	}
	return k, value, nil
}

func (s *Store) insert(ctx context.Context, tx *sql.Tx, nk NewKey) (*apikey.Key, string, error) {
	if err := s.checkFormat(ctx, tx); err != nil {
		return nil, "", err
	}
	value, err := s.set.format.Generate()
	if err != nil {
		return nil, "", err
	}
	now := s.set.now()
	k := &apikey.Key{
		ID:           newID(now),
		Name:         nk.Name,
		Owner:        nk.Owner,
		DisplayValue: s.set.format.DisplayValue(value),
		Permissions:  append([]string{}, nk.Permissions...),
		Metadata:     cloneMetadata(nk.Metadata),
		ExpiresAt:    truncate(nk.ExpiresAt),
		CreatedAt:    truncate(now),
		UpdatedAt:    truncate(now),
		Limits:       append([]apikey.Limit(nil), nk.Limits...),
	}
	if len(k.Limits) == 0 {
		k.Limits = nil
	}
	q := storeQuota(nk.Quota, now)
	k.Quota = q.quota()
	perms, _ := json.Marshal(k.Permissions) // strings and maps of strings always marshal
	meta, _ := json.Marshal(k.Metadata)
	d := s.set.hasher.Sum(value)
	_, err = tx.ExecContext(ctx, s.dialect.bind(`INSERT INTO apikey_keys (id, digest, name, owner_type, owner_id,
		owner_organization_id, display_value, permissions, metadata, created_at, updated_at, expires_at, last_used_at,
		limits, `+quotaColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?)`),
		k.ID, d[:], k.Name, k.Owner.Type, k.Owner.ID, k.Owner.OrganizationID, k.DisplayValue,
		string(perms), string(meta), micros(now), micros(now), micros(k.ExpiresAt),
		encodeLimits(k.Limits), q.remaining, q.amount, q.interval, q.day, q.refilledAt)
	if err != nil {
		return nil, "", err
	}
	return k, value, nil
}

// newID returns a key ID that sorts by creation time: "key_", 13 hex digits
// of microseconds, 16 random base32 characters.
func newID(now time.Time) string {
	return fmt.Sprintf("key_%013x%s", now.UnixMicro(), strings.ToLower(rand.Text()[:16]))
}

// truncate drops what the database does not keep, so that what Create
// returns equals what Get reads.
func truncate(t time.Time) time.Time { return fromMicros(micros(t)) }

func cloneMetadata(m map[string]string) map[string]string {
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func checkNewKey(nk NewKey) error {
	switch {
	case strings.TrimSpace(nk.Name) == "" || len(nk.Name) > maxNameLen || !storable(nk.Name):
		return invalidInput("the name must be 1 to %d bytes of UTF-8, without NUL", maxNameLen)
	case nk.Owner.ID == "" || len(nk.Owner.ID) > maxFieldLen || !storable(nk.Owner.ID):
		return invalidInput("the owner's ID must be 1 to %d bytes of UTF-8, without NUL", maxFieldLen)
	case len(nk.Owner.OrganizationID) > maxFieldLen || !storable(nk.Owner.OrganizationID):
		return invalidInput("the owner's organization ID must be at most %d bytes of UTF-8, without NUL", maxFieldLen)
	case nk.Owner.Type != "organization" && nk.Owner.Type != "user":
		return invalidInput(`the owner's type must be "organization" or "user", not %q`, nk.Owner.Type)
	}
	if err := checkPermissions(nk.Permissions); err != nil {
		return err
	}
	if err := checkLimits(nk.Limits); err != nil {
		return err
	}
	if err := checkQuota(nk.Quota); err != nil {
		return err
	}
	return checkMetadata(nk.Metadata)
}

// storable reports whether s can be stored as text on both backends:
// PostgreSQL refuses invalid UTF-8 and NUL (SQLSTATE 22021). A key ID or
// an owner that is not storable names no key.
func storable(s string) bool { return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 }

func checkPermissions(perms []string) error {
	if len(perms) > maxPermissions {
		return invalidInput("a key has at most %d permissions, not %d", maxPermissions, len(perms))
	}
	for _, p := range perms {
		// The permissions end up in a space-separated scope attribute.
		if p == "" || len(p) > maxFieldLen || strings.ContainsFunc(p, func(r rune) bool { return r <= ' ' || r == '"' || r == '\\' || r > '~' }) {
			return invalidInput("permission %q must be 1 to %d printable ASCII characters without spaces or quotes", p, maxFieldLen)
		}
	}
	return nil
}

func checkMetadata(m map[string]string) error {
	if len(m) > maxMetadata {
		return invalidInput("a key has at most %d metadata entries, not %d", maxMetadata, len(m))
	}
	for k, v := range m {
		if k == "" || len(k) > maxFieldLen || len(v) > maxFieldLen || !storable(k) || !storable(v) {
			return invalidInput("metadata %q: keys must be 1 to %d bytes and values at most %d, in UTF-8 without NUL", k, maxFieldLen, maxFieldLen)
		}
	}
	return nil
}

// Get returns the key with this ID, expired or not, or ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (*apikey.Key, error) {
	if !storable(id) {
		return nil, ErrNotFound
	}
	k, err := scanKey(s.db.QueryRowContext(ctx, s.dialect.bind(selectKey+" WHERE id = ?"), id), s.set.now())
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, ErrNotFound
	case err != nil:
		return nil, fmt.Errorf("sqlstore: Get: %w", err)
	}
	return k, nil
}

// Page is one page of List.
type Page struct {
	// Keys are in the order of their IDs, which is the order of creation.
	Keys []*apikey.Key
	// After is the cursor for the next page; empty on the last one.
	After string
}

// List returns up to limit keys of an owner (every owner's when ownerID is
// empty) whose IDs come after the cursor after (empty for the first page),
// expired ones included. A limit of 0 means DefaultListLimit; at most
// MaxListLimit. An owner ID that no key can have (invalid UTF-8, a NUL)
// has an empty page; such a cursor is ErrInvalidInput.
func (s *Store) List(ctx context.Context, ownerID, after string, limit int) (Page, error) {
	switch {
	case limit < 0 || limit > MaxListLimit:
		return Page{}, invalidInput("the limit must be 0 to %d, not %d", MaxListLimit, limit)
	case !storable(after):
		return Page{}, invalidInput("the cursor is not a key ID")
	case !storable(ownerID):
		return Page{}, nil
	case limit == 0:
		limit = DefaultListLimit
	}
	q, args := selectKey+" WHERE id > ?", []any{after}
	if ownerID != "" {
		q, args = q+" AND owner_id = ?", append(args, ownerID)
	}
	rows, err := s.db.QueryContext(ctx, s.dialect.bind(q+" ORDER BY id LIMIT ?"), append(args, limit+1)...)
	if err != nil {
		return Page{}, fmt.Errorf("sqlstore: List: %w", err)
	}
	defer rows.Close()
	var p Page
	now := s.set.now()
	for rows.Next() {
		k, err := scanKey(rows, now)
		if err != nil {
			return Page{}, fmt.Errorf("sqlstore: List: %w", err)
		}
		p.Keys = append(p.Keys, k)
	}
	if err := rows.Err(); err != nil {
		return Page{}, fmt.Errorf("sqlstore: List: %w", err)
	}
	if len(p.Keys) > limit {
		p.Keys = p.Keys[:limit]
		p.After = p.Keys[limit-1].ID
	}
	return p, nil
}

// Revoke deletes the key: from now on it is invalid everywhere (see Watch),
// and nothing of it stays but a line in the changes table. It returns
// ErrNotFound for an unknown ID.
func (s *Store) Revoke(ctx context.Context, id string) error {
	err := s.change(ctx, id, func(ctx context.Context, tx *sql.Tx) (sql.Result, error) {
		return tx.ExecContext(ctx, s.dialect.bind("DELETE FROM apikey_keys WHERE id = ?"), id)
	})
	return wrap("Revoke", err)
}

// Expire sets when the key stops being valid: at, or now when at is zero.
// A later time extends the key; the key's caches everywhere forget it (see
// Watch) and read the new time.
func (s *Store) Expire(ctx context.Context, id string, at time.Time) error {
	now := s.set.now()
	if at.IsZero() {
		at = now
	}
	err := s.change(ctx, id, func(ctx context.Context, tx *sql.Tx) (sql.Result, error) {
		return tx.ExecContext(ctx, s.dialect.bind("UPDATE apikey_keys SET expires_at = ?, updated_at = ? WHERE id = ?"),
			micros(at), micros(now), id)
	})
	return wrap("Expire", err)
}

// SetPermissions replaces the key's permissions.
func (s *Store) SetPermissions(ctx context.Context, id string, perms []string) error {
	if err := checkPermissions(perms); err != nil {
		return err
	}
	b, _ := json.Marshal(append([]string{}, perms...))
	return wrap("SetPermissions", s.set1(ctx, id, "permissions", string(b)))
}

// SetMetadata replaces the key's metadata.
func (s *Store) SetMetadata(ctx context.Context, id string, m map[string]string) error {
	if err := checkMetadata(m); err != nil {
		return err
	}
	b, _ := json.Marshal(cloneMetadata(m))
	return wrap("SetMetadata", s.set1(ctx, id, "metadata", string(b)))
}

func (s *Store) set1(ctx context.Context, id, column, value string) error {
	return s.change(ctx, id, func(ctx context.Context, tx *sql.Tx) (sql.Result, error) {
		return tx.ExecContext(ctx, s.dialect.bind("UPDATE apikey_keys SET "+column+" = ?, updated_at = ? WHERE id = ?"),
			value, micros(s.set.now()), id)
	})
}

// Rotate replaces a key: it issues a new one with the same name, owner,
// permissions, metadata, expiry and rate limits, and makes the old one
// expire after grace (at once for 0, never later than it would have), in
// one transaction. The quota moves to the new key, credits and refill
// alike: the old one keeps none left and no refill for its grace, so that
// rotating never doubles a customer's credits. It returns the new key and
// its value, shown this once.
func (s *Store) Rotate(ctx context.Context, id string, grace time.Duration) (*apikey.Key, string, error) {
	if grace < 0 {
		return nil, "", invalidInput("the grace period must not be negative, not %v", grace)
	}
	var (
		k     *apikey.Key
		value string
	)
	err := s.change(ctx, id, func(ctx context.Context, tx *sql.Tx) (sql.Result, error) {
		old, err := scanKey(tx.QueryRowContext(ctx, s.dialect.bind(selectKey+" WHERE id = ?"), id), s.set.now())
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrNotFound
		} else if err != nil {
			return nil, err
		}
		k, value, err = s.insert(ctx, tx, NewKey{Name: old.Name, Owner: old.Owner, Permissions: old.Permissions,
			Metadata: old.Metadata, ExpiresAt: old.ExpiresAt, Limits: old.Limits})
		if err != nil {
			return nil, err
		}
		if k.Quota, err = s.moveQuota(ctx, tx, id, k.ID); err != nil {
			return nil, err
		}
		now := s.set.now()
		end := now.Add(grace)
		if !old.ExpiresAt.IsZero() && old.ExpiresAt.Before(end) {
			end = old.ExpiresAt
		}
		return tx.ExecContext(ctx, s.dialect.bind("UPDATE apikey_keys SET expires_at = ?, updated_at = ? WHERE id = ?"),
			micros(end), micros(now), id)
	})
	if err != nil {
		return nil, "", wrap("Rotate", err)
	}
	return k, value, nil
}

func wrap(op string, err error) error {
	if err == nil || errors.Is(err, ErrNotFound) || errors.Is(err, ErrInvalidInput) || errors.Is(err, ErrKeyFormatMismatch) {
		return err
	}
	return fmt.Errorf("sqlstore: %s: %w", op, err)
}

// MoveQuota moves the quota of the key from, as it stands, to the key to:
// credits, refill and the time run towards the next refill. The key from
// keeps none left and no refill. It is what Rotate does, for a successor
// made with Create; a key from without quota moves nothing. Every
// process's cache forgets both keys (see Watch).
func (s *Store) MoveQuota(ctx context.Context, from, to string) error {
	if !storable(to) {
		return ErrNotFound
	}
	if from == to {
		// Moving onto itself would leave the key with none left.
		return invalidInput("a quota moves to another key, not to the key that holds it")
	}
	touch := func(id string) func(ctx context.Context, tx *sql.Tx) (sql.Result, error) {
		return func(ctx context.Context, tx *sql.Tx) (sql.Result, error) {
			return tx.ExecContext(ctx, s.dialect.bind("UPDATE apikey_keys SET updated_at = ? WHERE id = ?"), micros(s.set.now()), id)
		}
	}
	err := s.change(ctx, from, func(ctx context.Context, tx *sql.Tx) (sql.Result, error) {
		if _, err := s.moveQuota(ctx, tx, from, to); err != nil {
			return nil, err
		}
		return touch(from)(ctx, tx)
	})
	if err == nil {
		err = s.change(ctx, to, touch(to))
	}
	return wrap("MoveQuota", err)
}

// moveQuota gives the key to the quota of the key from, as it stands, and
// leaves from none left and no refill. It returns the quota moved, nil if
// from has none.
func (s *Store) moveQuota(ctx context.Context, tx *sql.Tx, from, to string) (*apikey.Quota, error) {
	// The row stays locked to the end of the transaction, so that no spend
	// from it falls between reading and moving the quota.
	lock := ""
	if s.dialect.postgres() {
		lock = " FOR UPDATE"
	}
	var q storedQuota
	err := tx.QueryRowContext(ctx, s.dialect.bind(`SELECT `+quotaColumns+` FROM apikey_keys WHERE id = ?`+lock), from).Scan(q.fields()...)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, ErrNotFound
	case err != nil || !q.remaining.Valid:
		return nil, err
	}
	set := s.dialect.bind(`UPDATE apikey_keys SET quota_remaining = ?, quota_refill_amount = ?, quota_refill_interval = ?,
		quota_refill_day = ?, quota_refilled_at = ? WHERE id = ?`)
	res, err := tx.ExecContext(ctx, set, q.remaining, q.amount, q.interval, q.day, q.refilledAt, to)
	if err != nil {
		return nil, err
	}
	if n, err := res.RowsAffected(); err != nil {
		return nil, err
	} else if n == 0 {
		return nil, ErrNotFound
	}
	if _, err := tx.ExecContext(ctx, set, 0, 0, 0, 0, q.refilledAt, from); err != nil {
		return nil, err
	}
	return q.at(micros(s.set.now())).quota(), nil
}
