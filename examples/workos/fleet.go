package main

import (
	"errors"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/apikeyauth/apikey/redisfleet"
)

// A key validated by one replica is served to the others from Redis for
// sharedTTL, and each of them keeps it in its local cache for fleetCacheTTL
// but never longer than its shared entry lives: a key revoked without any
// invalidation (no webhook) is served for the longer of the two at most,
// and even their sum stays within revocationBound, the local cache's TTL
// without a fleet.
const (
	revocationBound = 30 * time.Second
	sharedTTL       = 10 * time.Second
	fleetCacheTTL   = revocationBound - sharedTTL
)

// joinFleet connects to the Redis at cfg.redisURL, to share invalidations
// and validations with the other replicas there. It does not wait for
// Redis: one that is down is retried in the background, meanwhile every
// replica answers alone.
func joinFleet(cfg config, logger *slog.Logger) (*redisfleet.Fleet, error) {
	opt, err := redis.ParseURL(cfg.redisURL)
	if err != nil {
		// Not wrapped: the parser's errors quote the URL, password and all.
		return nil, errors.New("REDIS_URL is not a Redis URL such as redis://127.0.0.1:6379/0")
	}
	opts := []redisfleet.Option{redisfleet.WithSharedCache(sharedTTL), redisfleet.WithLogger(logger)}
	if cfg.fleetSecret != "" {
		opts = append(opts, redisfleet.WithSharedSecret([]byte(cfg.fleetSecret)))
	} else {
		logger.Warn("REDIS_FLEET_SECRET is not set: whoever can write to REDIS_URL can make the replicas accept any key")
	}
	if cfg.redisPrefix != "" {
		opts = append(opts, redisfleet.WithPrefix(cfg.redisPrefix))
	}
	fleet, err := redisfleet.New(opt, opts...)
	if err != nil {
		return nil, err
	}
	logger.Info("joined the fleet on REDIS_URL: invalidations reach every replica, validations are shared",
		"redis", opt.Addr, "db", opt.DB)
	return fleet, nil
}
