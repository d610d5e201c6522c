package redisfleet

import "errors"

// ErrAttached is returned by Attach when the Fleet already serves a cache,
// or has been closed.
var ErrAttached = errors.New("redisfleet: the fleet is already attached or closed")

// ErrNotAcknowledged is matched by Revoke's error when the invalidation
// did not reach Redis in time: the other replicas may never learn it, so
// the caller must not report the revocation done (a webhook answers 5xx,
// for the sender to deliver it again).
var ErrNotAcknowledged = errors.New("redisfleet: the invalidation is not acknowledged: Redis did not take it in time")
