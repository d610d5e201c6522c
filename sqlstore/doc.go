// Package sqlstore keeps your own API keys in your own database, PostgreSQL
// (through pgx) or SQLite (pure Go, no cgo), and validates them for the
// apikey middleware: issue, list, rotate, expire and revoke keys without any
// vendor.
//
//	store, err := sqlstore.Open(ctx, "sqlite:apikeys.db", sqlstore.WithKeyFormat(apikey.KeyFormat{Prefix: "acme_live_"}))
//	defer store.Close()
//	err = store.Migrate(ctx)
//	auth, err := apikey.New(store, apikey.WithFormatCheck(store.KeyFormat().Check), apikey.WithHooks(store.Hooks()))
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
// SetMetadata, SetLimits, SetQuota, MoveQuota) is written with a line in apikey_changes in the same
// transaction, which runs to its end even if the caller's context ends. A
// Store that Watches a cache applies each change to it as an
// apikey.Invalidation of the key's ID: its own changes at once, with
// Origin apikey.OriginLocal; and every change read from the feed, its own
// included, with Origin apikey.OriginStore, on PostgreSQL within
// milliseconds through LISTEN/NOTIFY, and on any backend within the poll
// interval (WithPollInterval, default 1 second) by reading apikey_changes
// from the last change applied. Each change names the one before it, and
// changes commit one at a time in the order of their sequence numbers, so
// a number never used (a rollback, the numbers PostgreSQL skips after a
// crash) costs nothing. When it cannot read the changes, or a change was
// lost to it (a restore from a backup, a reset table, a new database,
// changes pruned while it could not read them), it purges the cache, with
// Origin apikey.OriginStore, and logs why: it can no longer tell what
// changed, and a 503 is better than serving a revoked key.
//
// # Key format
//
// Migrate records the format of the database's keys, and a Store opened
// without WithKeyFormat issues keys of that format: a tool such as the
// apikeys command issues the keys the application accepts. A Store given
// another format gets ErrKeyFormatMismatch from Migrate, Create and
// Rotate.
//
// # Rate limits and quotas
//
// A key can carry rate limits and a quota of credits (NewKey, SetLimits,
// SetQuota), which Validate hands to the middleware in Key.Limits and
// Key.Quota. The Store is the apikey.QuotaStore that keeps the count: give
// it to apikey.WithQuotas. Spend is one conditional UPDATE that takes the
// credits only if enough are left after any refill due, computed from the
// row's own columns, so that spends from any number of processes are
// neither lost nor counted twice. A spend records no change: caches keep
// the key, whose Quota.Remaining is what it was when read.
//
// # With redisfleet
//
// The store's change feed reaches every replica by itself, so redisfleet
// does not need to carry the store's changes, and does not: it publishes
// to the other replicas only the invalidations whose Origin is
// apikey.OriginLocal or apikey.OriginWebhook. A change made through a
// replica's Store is OriginLocal there, so it is published (and applied by
// the others twice, once from the fleet and once from their own feed,
// which is harmless). An OriginStore invalidation, read from the feed or a
// purge because the feed cannot be read, only clears the fleet's shared
// Redis cache, if any, and is never published: every replica's own watcher
// applies the same change, and one replica's trouble with the database
// never purges the whole fleet.
//
// A Store is safe for concurrent use, never logs or returns a key value
// (except the new one from Create and Rotate), and stops its goroutines on
// Close.
package sqlstore
