package redisfleet

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/apikeyauth/apikey"
)

// Option configures a Fleet in New.
type Option func(*settings)

type settings struct {
	prefix    string
	maxLen    int64
	timeout   time.Duration
	block     time.Duration
	sharedTTL time.Duration
	leaseWait time.Duration
	queue     int
	retryFor  time.Duration
	logger    *slog.Logger
	secret    *sharedSecret // nil: entries are not signed
}

// The defaults of New's options.
const (
	DefaultPrefix    = "apikey"
	DefaultMaxLen    = 100_000
	DefaultTimeout   = 200 * time.Millisecond
	DefaultBlock     = 2 * time.Second
	DefaultLeaseWait = time.Second
	DefaultQueue     = 4096
	DefaultRetryFor  = 30 * time.Second
)

func defaultSettings() settings {
	return settings{
		prefix: DefaultPrefix, maxLen: DefaultMaxLen, timeout: DefaultTimeout, block: DefaultBlock,
		leaseWait: DefaultLeaseWait, queue: DefaultQueue, retryFor: DefaultRetryFor,
		logger: slog.Default(),
	}
}

// WithPrefix sets the prefix of every Redis key the Fleet uses. Replicas
// that share invalidations must use the same prefix; services that must not,
// different ones. The prefix is wrapped in braces, a Redis Cluster hash tag,
// so that all of a fleet's keys live together: it cannot hold one.
// Default: "apikey".
func WithPrefix(p string) Option { return func(s *settings) { s.prefix = p } }

// WithMaxLen bounds the invalidation stream, trimmed approximately (XADD
// MAXLEN ~). A replica away for longer than the stream keeps purges its
// cache when it comes back. Default: 100,000 entries (a few MiB).
func WithMaxLen(n int64) Option { return func(s *settings) { s.maxLen = n } }

// WithTimeout bounds every Redis call the Fleet makes on a request's behalf
// or in the background, but for the reader's blocking wait: the longest
// Redis can delay a validation or a publication. Default: 200ms.
func WithTimeout(d time.Duration) Option { return func(s *settings) { s.timeout = d } }

// WithBlock sets how long the reader waits for new invalidations in one
// call. Between waits it checks that Redis still holds the fleet's state, so
// it is also how late a Redis flushed while idle is noticed. Default: 2s.
func WithBlock(d time.Duration) Option { return func(s *settings) { s.block = d } }

// WithSharedCache turns the shared second-level cache on: Validator keeps
// valid keys in Redis, by digest, for ttl (never past a key's ExpiresAt), so
// that the replicas make one upstream call per key per ttl between them.
// Keep ttl at most the local cache's TTL: a key read from the shared cache
// is then kept in the local cache for its whole TTL, so a key revoked
// without any invalidation can be served for up to the two added together.
//
// The replicas believe what they read there: anyone who can write to this
// Redis could make them accept any key value with any permissions. Without
// WithSharedSecret, trust the Redis, and everyone who can reach it, as
// much as the upstream validator itself.
// At most 59 minutes. Default: 0, off.
func WithSharedCache(ttl time.Duration) Option { return func(s *settings) { s.sharedTTL = ttl } }

// WithLeaseWait sets how long a replica that finds another one already
// validating the same key waits for its answer in the shared cache before
// asking the upstream validator itself. Zero turns leases off: replicas
// that miss the same key at once each ask the upstream validator.
// Default: 1s.
func WithLeaseWait(d time.Duration) Option { return func(s *settings) { s.leaseWait = d } }

// WithQueue bounds the invalidations waiting to be published. When it
// overflows, the fleet is told to purge instead, since the ones dropped
// cannot be named; when all it dropped were a store's, which are not
// published, only the shared cache is voided. Default: 4096.
func WithQueue(n int) Option { return func(s *settings) { s.queue = n } }

// WithRetryFor sets how long a publication that failed is retried. Past
// it, the other replicas' TTLs have forgotten the key anyway: keep it at
// least the local cache's TTL. Zero gives up on the first failure: the
// invalidation is dropped and counted in Stats.Dropped. Default: 30s.
func WithRetryFor(d time.Duration) Option { return func(s *settings) { s.retryFor = d } }

// WithSharedSecret signs each shared cache entry with HMAC-SHA256 under
// secret, bound to the digest it is stored under, its key's ID, its expiry
// and the fleet's epoch, and refuses an entry whose MAC is missing or wrong
// (counted in Stats.SharedRejected; the key is validated upstream instead).
// A writer to Redis without the secret can then delete entries, but not
// mint or alter a key, move an entry to another key value, or keep one past
// its expiry; an entry written back after its key was revoked is refused by
// the key's tombstones, which every read checks, signed or not. The
// stream's entries are signed too: a replica that reads one without the
// right MAC, or a copy of an earlier one, purges its cache, since it may
// stand where a revocation was. Every
// replica of the fleet needs the same secret, of at least 32 bytes; New
// copies it, and the Fleet never prints it. Without a shared cache it does
// nothing. Default: none, the entries are not signed.
func WithSharedSecret(secret []byte) Option {
	return func(s *settings) { s.secret = newSharedSecret(secret) }
}

// WithLogger sets where the Fleet reports losing and regaining Redis and
// the purges it makes. It logs transitions, never one line per request,
// and never a key value. Default: slog.Default().
func WithLogger(l *slog.Logger) Option { return func(s *settings) { s.logger = l } }

func (s *settings) check() error {
	switch {
	case s.prefix == "":
		return misconfigured("the key prefix is empty")
	case strings.ContainsAny(s.prefix, "{}"):
		return misconfigured(fmt.Sprintf("the key prefix %q has a brace: it goes inside the fleet's hash tag", s.prefix))
	case s.maxLen <= 0:
		return misconfigured(fmt.Sprintf("the stream's MaxLen must be positive, not %d", s.maxLen))
	case s.timeout <= 0:
		return misconfigured(fmt.Sprintf("the timeout must be positive, not %v", s.timeout))
	case s.block < time.Millisecond:
		return misconfigured(fmt.Sprintf("the block time must be at least 1ms, not %v", s.block))
	case s.sharedTTL < 0:
		return misconfigured(fmt.Sprintf("the shared cache TTL must not be negative, not %v", s.sharedTTL))
	case s.sharedTTL > maxSharedTTL:
		return misconfigured(fmt.Sprintf("the shared cache TTL must be at most %v, not %v", maxSharedTTL, s.sharedTTL))
	case s.leaseWait < 0:
		return misconfigured(fmt.Sprintf("the lease wait must not be negative, not %v", s.leaseWait))
	case s.queue <= 0:
		return misconfigured(fmt.Sprintf("the queue size must be positive, not %d", s.queue))
	case s.retryFor < 0:
		return misconfigured(fmt.Sprintf("the retry window must not be negative, not %v", s.retryFor))
	case s.secret != nil && len(s.secret.reveal()) < minSecret:
		return misconfigured(fmt.Sprintf("the shared secret must be at least %d bytes, not %d", minSecret, len(s.secret.reveal())))
	case s.logger == nil:
		return misconfigured("the logger is nil")
	}
	return nil
}

// minSecret is the shortest shared secret: as long as the MAC.
const minSecret = 32

func misconfigured(what string) error {
	return fmt.Errorf("redisfleet: New: %s: %w", what, apikey.ErrMisconfigured)
}
