// Package redisfleet carries a Cache's invalidations to every replica of a
// service through one Redis, so that a key revoked on one replica is refused
// by all of them within milliseconds, not after their caches' TTL. It can
// also share validation results between the replicas, so that they make one
// upstream call per key instead of one each.
//
//	opt, err := redis.ParseURL("redis://127.0.0.1:6379/0")
//	fleet, err := redisfleet.New(opt, redisfleet.WithSharedCache(10*time.Second),
//		redisfleet.WithSharedSecret(secret))
//	defer fleet.Close()
//	auth, err := apikey.New(fleet.Validator(upstream), apikey.WithHooks(fleet.Hooks()))
//	err = fleet.Attach(auth.Cache())
//
// # Delivery
//
// Every invalidation the cache applies, but for a store's (see below), is
// appended to a Redis Stream (key IDs and digests of values, never a value), and every
// replica reads the stream from the last entry it applied and applies what
// the others published, with apikey.OriginReplica, which it never publishes
// again. A replica that loses Redis resumes where it stopped. When it cannot
// show that it saw everything, because it was away longer than the stream
// keeps (WithMaxLen), or Redis lost the stream (a flush, a restart without
// persistence), it purges its local cache instead: entries carry a
// sequence number without gaps and the epoch of the fleet's state in Redis,
// so what was lost is always noticed.
//
// # Acknowledged revocations
//
// The hooks publish in the background: the cache's invalidation returns
// before Redis has it, and a replica that dies the next moment takes it
// along. Where a revocation is reported as done (a webhook's 2xx, an API's
// answer), use Revoke: it returns nil only once Redis holds the
// invalidation, in the stream and as tombstones in the shared cache, and
// an error matching ErrNotAcknowledged otherwise, within the timeout. A
// Fleet is a workos.Revoker: give it to workos.NewWebhookHandler and
// the handler answers 503 to a revocation it could not acknowledge, so
// that WorkOS delivers it again. An acknowledged revocation reaches every
// replica: those connected within a read (WithBlock), those away when they
// come back, and if Redis lost it meanwhile (a flush, a restart, a restore
// from an older snapshot, noticed by Redis's run_id) every replica purges
// its cache instead. See docs/reliability-fleet.md in the repository.
//
// # Redis trouble
//
// Redis is never needed to answer a request. Every call is bounded by
// WithTimeout; publications are queued and retried in the background; while
// Redis is away each local cache answers alone, and its TTL bounds how long
// a revocation it was not told about is missed. Stats and the logger show
// the state.
//
// # Shared cache
//
// With WithSharedCache, Validator keeps valid keys in Redis by digest, for a
// TTL never past the key's ExpiresAt. An invalidation removes them in the
// same script that publishes it, and leaves tombstones, by digest and by
// key ID: a validation that started before it, on any replica, cannot
// write the key back, and every read checks them, so an entry someone
// writes back after the revocation is refused too.
//
// A key read from the shared cache is kept in the local cache no longer
// than its shared entry still lives (apikey.CacheUntil), so a key revoked
// without any invalidation is served for up to the longer of the two TTLs,
// never their sum. The
// replicas believe what they read there: set WithSharedSecret, or trust
// everyone who can write to that Redis as much as the validator.
//
// # Sources of invalidation
//
// The fleet publishes what the cache applies, by its Origin:
//
//   - apikey.OriginLocal and apikey.OriginWebhook are published: a key
//     deleted through a client with the cache as its invalidator (DeleteKey),
//     a WorkOS webhook handled by any one replica (workos.NewWebhookHandler
//     with the cache), or a plain cache.InvalidateID reach every replica.
//     Let one replica, or each of them, feed the cache: an invalidation
//     published twice is applied twice, which is harmless. Fleet.Revoke
//     publishes once when Redis acknowledges it, and queues it for the
//     background retry only when Redis does not.
//   - apikey.OriginReplica, what the other replicas published, is never
//     published again.
//   - apikey.OriginStore, a key store's change feed, is never published:
//     every replica's own watcher applies the same change, and a store that
//     purges its cache because this replica cannot read its database must not
//     purge the whole fleet. With a shared cache, the key ID or value it names
//     is still removed from Redis (and tombstoned, as a published
//     invalidation does), since a change made outside the fleet, such as with
//     a command-line tool, reaches the replicas only through their watchers,
//     and the shared cache must not answer for the key meanwhile. A store's
//     purge voids the whole shared cache, for the same reason: the replicas
//     then validate again, but no one purges its local cache.
//   - Any other Origin is published, like apikey.OriginLocal.
//
// # Rate limits and quotas
//
// Fleet.Limiter counts apikey rate limits for the whole fleet, one script
// per request, and falls back to this replica's share of each limit while
// Redis does not answer (or refuses, WithFallback(FallbackRefuse));
// Fleet.Quotas keeps credits for keys whose store has none:
//
//	limiter, err := fleet.Limiter()
//	auth, err := apikey.New(v, apikey.WithLimiter(limiter), apikey.WithQuotas(fleet.Quotas()))
package redisfleet
