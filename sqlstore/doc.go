// Package sqlstore keeps your own API keys in your own database, PostgreSQL
// (through pgx) or SQLite (pure Go, no cgo), and validates them for the
// apikey middleware: issue, list, rotate, expire and revoke keys without any
// vendor.
//
//	store, err := sqlstore.Open(ctx, "sqlite:apikeys.db", sqlstore.WithKeyFormat(apikey.KeyFormat{Prefix: "acme_live_"}))
//	defer store.Close()
//	err = store.Migrate(ctx)
//	auth, err := apikey.New(store, apikey.WithFormatCheck(store.Format().Check), apikey.WithHooks(store.Hooks()))
//	err = store.Watch(ctx, auth.Cache())
//	key, value, err := store.Create(ctx, sqlstore.NewKey{Name: "CI", Owner: owner, Permissions: []string{"posts:read"}})
//	err = store.Revoke(ctx, key.ID)
//
// # Storage
//
// A key is stored by the digest of its value (SHA-256, or HMAC-SHA256 with
// a pepper: see WithHasher), never by value: Create and Rotate return the
// value once, and nothing can show it again. Validation is one indexed
// lookup by digest. The tables, apikey_keys and apikey_changes, are created
// by Migrate from migrations embedded in the package, versioned in
// apikey_schema_migrations; nothing is created behind your back. On
// PostgreSQL, set search_path in the DSN to keep them in a schema.
//
// # Last use
//
// Validate never writes. It queues the key's use, at most once per key per
// interval (WithLastUsedInterval, default 1 minute), and a goroutine writes
// the queue in one transaction every interval, and on Close. A database
// that fails keeps the uses queued for the next try; a request never waits
// for it. Behind a cache the store sees only misses: give Hooks to the
// middleware (apikey.WithHooks) to count cache hits too.
//
// # Revocation everywhere
//
// Every change to a key (Revoke, Expire, Rotate, SetPermissions,
// SetMetadata) is written with a line in apikey_changes in the same
// transaction. A Store that Watches a cache applies each change to it as an
// apikey.Invalidation of the key's ID with Origin apikey.OriginStore: its
// own changes at once, other processes' on PostgreSQL within milliseconds
// through LISTEN/NOTIFY, and on any backend within the poll interval
// (WithPollInterval, default 1 second) by reading apikey_changes from the
// last change applied. When it cannot read them, it purges the cache: it can
// no longer tell what changed, and a 503 is better than serving a revoked
// key.
//
// # With redisfleet
//
// The store's change feed reaches every replica by itself, so redisfleet is
// not needed to carry the store's revocations. Both together are fine: the
// fleet publishes every invalidation a cache applies whose Origin is not
// apikey.OriginReplica, the store's included, so each replica's
// OriginStore invalidation is published once more through Redis and applied
// again by the others, which is harmless; and with the fleet's shared
// cache, that publication is what removes the revoked key from Redis and
// keeps other replicas from writing it back.
//
// A Store is safe for concurrent use, never logs or returns a key value
// (except the new one from Create and Rotate), and stops its goroutines on
// Close.
package sqlstore
