-- API keys, by the digest of their value: the value itself is never stored.
-- Times are microseconds since the Unix epoch, UTC; 0 means "never".
CREATE TABLE apikey_keys (
    id                    TEXT PRIMARY KEY,
    digest                BLOB NOT NULL UNIQUE,
    name                  TEXT NOT NULL,
    owner_type            TEXT NOT NULL,
    owner_id              TEXT NOT NULL,
    owner_organization_id TEXT NOT NULL,
    display_value         TEXT NOT NULL,
    permissions           TEXT NOT NULL, -- JSON array of strings
    metadata              TEXT NOT NULL, -- JSON object of strings
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL,
    expires_at            INTEGER NOT NULL,
    last_used_at          INTEGER NOT NULL
);
CREATE INDEX apikey_keys_owner ON apikey_keys (owner_id, id);

-- Every change that a cache must hear of, in order. Replicas poll it from
-- the last sequence number they applied.
CREATE TABLE apikey_changes (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    key_id     TEXT NOT NULL,
    changed_at INTEGER NOT NULL
);
