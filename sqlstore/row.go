package sqlstore

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/apikeyauth/apikey"
)

const selectKey = `SELECT id, name, owner_type, owner_id, owner_organization_id, display_value,
	permissions, metadata, created_at, updated_at, expires_at, last_used_at,
	limits, ` + quotaColumns + ` FROM apikey_keys`

type scanner interface{ Scan(dest ...any) error }

// scanKey reads a row of selectKey. The key's quota shows the count left
// at now, after any refill due by then.
func scanKey(row scanner, now time.Time) (*apikey.Key, error) {
	var (
		k                                   apikey.Key
		perms, meta, limits                 string
		created, updated, expires, lastUsed int64
		q                                   storedQuota
	)
	err := row.Scan(append([]any{&k.ID, &k.Name, &k.Owner.Type, &k.Owner.ID, &k.Owner.OrganizationID, &k.DisplayValue,
		&perms, &meta, &created, &updated, &expires, &lastUsed, &limits}, q.fields()...)...)
	if err != nil {
		return nil, err
	}
	if k.Limits, err = decodeLimits(limits); err != nil {
		return nil, fmt.Errorf("key %s: limits: %w", k.ID, err)
	}
	k.Quota = q.at(micros(now)).quota()
	if err := json.Unmarshal([]byte(perms), &k.Permissions); err != nil {
		return nil, fmt.Errorf("key %s: permissions: %w", k.ID, err)
	}
	if err := json.Unmarshal([]byte(meta), &k.Metadata); err != nil {
		return nil, fmt.Errorf("key %s: metadata: %w", k.ID, err)
	}
	k.CreatedAt, k.UpdatedAt = fromMicros(created), fromMicros(updated)
	k.ExpiresAt, k.LastUsedAt = fromMicros(expires), fromMicros(lastUsed)
	return &k, nil
}

// Times are stored as microseconds since the Unix epoch, the same way on
// both backends; 0 stands for the zero time ("never").
func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}
