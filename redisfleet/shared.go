package redisfleet

import (
	"context"
	"crypto/hmac"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/apikeyauth/apikey"
	"github.com/apikeyauth/apikey/internal/nilcheck"
)

// sharedDownFor is how long shared-cache calls are skipped after one failed.
const sharedDownFor = time.Second

// leasePoll is how often a replica waiting for another's validation looks
// for its result.
const leasePoll = 5 * time.Millisecond

// Validator returns next behind the shared cache: a key another replica
// validated is answered from Redis, and a valid key validated here is stored
// for the others. Without WithSharedCache it returns next itself.
//
// When several replicas miss the same key at once, one validates it and the
// others wait for its result, up to WithLeaseWait. Only valid keys are
// shared. While an invalidation applied here has not reached Redis, this
// replica does not read the shared cache, which may still hold what the
// invalidation removes. A Redis that fails or does not answer in time is
// skipped, and then left alone for a second: the validation goes upstream,
// as it would without a shared cache. The returned Validator is safe for
// concurrent use.
//
// A nil next, or one holding a nil pointer, gives nil: apikey.New and
// apikey.NewCache refuse it with an error matching apikey.ErrMisconfigured,
// so the mistake shows at setup, not as a panic on the first request.
func (f *Fleet) Validator(next apikey.Validator) apikey.Validator {
	if nilcheck.Is(next) {
		return nil
	}
	if f.s.sharedTTL == 0 {
		return next
	}
	return &sharedValidator{f: f, next: next}
}

type sharedValidator struct {
	f    *Fleet
	next apikey.Validator
}

// snapshot is what readScript answered.
type snapshot struct {
	key   *apikey.Key // nil on a miss
	clock string      // the shared cache's clock when read
	epoch string
	lease bool // this validation holds the lease
	// unreadable is set when the entry could not be decoded: no one is
	// validating, so there is nothing to wait for.
	unreadable bool
}

func (v *sharedValidator) Validate(ctx context.Context, value string) (*apikey.Key, error) {
	f := v.f
	// An invalidation applied here that has not reached Redis when the read
	// is sent may reach it after the read: the answer may be what it
	// removes, even if it has been published by the time the answer comes.
	if f.sharedDown() || f.unpublished() {
		return v.next.Validate(ctx, value)
	}
	start := time.Now()
	digest := digestHex(apikey.DigestOf(value))
	token := ""
	if f.s.leaseWait > 0 {
		token = randomToken()
	}
	before := f.enqueued.Load()
	snap, err := f.sharedRead(ctx, digest, token)
	if err != nil {
		return v.next.Validate(ctx, value)
	}
	if snap.key == nil && token != "" && !snap.lease && !snap.unreadable && !f.changedSince(before) {
		snap, err = f.awaitShared(ctx, digest, token, snap)
		if err != nil {
			return nil, err
		}
	}
	if f.changedSince(before) {
		// This replica applied an invalidation that has not reached Redis
		// yet, or did while this validation read or waited: what the
		// shared cache answered may be what it removes.
		if snap.lease {
			f.releaseLease(ctx, digest, token)
		}
		return v.next.Validate(ctx, value)
	}
	if snap.key != nil {
		f.st.sharedHits.Add(1)
		return snap.key, nil
	}
	f.st.sharedMisses.Add(1)
	key, err := v.next.Validate(ctx, value)
	switch {
	case err == nil && key != nil:
		f.sharedWrite(ctx, digest, key, snap, token, start)
	case snap.lease:
		f.releaseLease(ctx, digest, token)
	}
	return key, err
}

// changedSince reports whether an invalidation applied here has not reached
// Redis yet, or was applied since enqueued was before.
func (f *Fleet) changedSince(before uint64) bool {
	return f.unpublished() || f.enqueued.Load() != before
}

// sharedRead looks digest up, taking the lease on a miss if token is set.
func (f *Fleet) sharedRead(ctx context.Context, digest, token string) (snapshot, error) {
	cctx, cancel := f.call(ctx)
	defer cancel()
	r, err := readScript.Run(cctx, f.client, nil, f.p, randomToken(), digest, token, f.s.leaseWait.Milliseconds()).Slice()
	if err == nil && len(r) != 6 {
		err = fmt.Errorf("redisfleet: read answered %d values, not 6", len(r))
	}
	if err != nil {
		f.sharedFailed()
		return snapshot{}, err
	}
	entry, _ := r[0].(string)
	snap := snapshot{}
	snap.clock, _ = r[1].(string)
	snap.epoch, _ = r[2].(string)
	lease, _ := r[3].(int64)
	snap.lease = lease == 1
	if buried, _ := r[5].(int64); buried == 1 {
		f.st.sharedRejected.Add(1) // written back after its key was invalidated
	}
	if entry != "" {
		var e sharedEntry
		switch snap.key, e, err = f.decodeEntry(digest, snap.epoch, entry, time.Now()); {
		case errors.Is(err, errBadMAC):
			f.st.sharedRejected.Add(1) // forged, or signed with another secret
			snap.unreadable = true
		case err != nil:
			f.st.sharedErrors.Add(1) // an entry this version cannot read: validate again
			snap.unreadable = true
		default:
			// The local cache keeps it no longer than the shared entry
			// lives, so that the two TTLs never add up.
			pttl, _ := r[4].(int64)
			lives := min(time.Duration(max(pttl, 0))*time.Millisecond, time.Until(time.UnixMilli(e.notAfter)))
			snap.key = apikey.CacheUntil(snap.key, time.Now().Add(lives))
		}
	}
	return snap, nil
}

// awaitShared waits while another replica holds the lease on digest, until
// its result is in the shared cache, the lease is free (then this replica
// takes it), or the lease wait is over. Its answer is the last snapshot.
// It returns an error only when ctx ends.
func (f *Fleet) awaitShared(ctx context.Context, digest, token string, snap snapshot) (snapshot, error) {
	f.st.sharedWaits.Add(1)
	deadline := time.NewTimer(f.s.leaseWait)
	defer deadline.Stop()
	tick := time.NewTicker(leasePoll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return snap, ctx.Err()
		case <-deadline.C:
			return snap, nil
		case <-tick.C:
		}
		next, err := f.sharedRead(ctx, digest, token)
		if err != nil {
			return snap, nil
		}
		if next.key != nil || next.lease {
			return next, nil
		}
	}
}

// sharedWrite stores key for the other replicas, unless it was invalidated
// since snap was read, the validation took too long to be sure of that, or
// snap was never read (its clock is empty).
func (f *Fleet) sharedWrite(ctx context.Context, digest string, key *apikey.Key, snap snapshot, token string, start time.Time) {
	ttl := f.s.sharedTTL
	if !key.ExpiresAt.IsZero() {
		ttl = min(ttl, time.Until(key.ExpiresAt))
	}
	// A key without an ID could not be tombstoned by its ID: it is not shared.
	if ttl < time.Millisecond || snap.clock == "" || key.ID == "" || time.Since(start) > writeWindow {
		if snap.lease {
			f.releaseLease(ctx, digest, token)
		}
		return
	}
	body, err := json.Marshal(key)
	if err != nil {
		f.st.sharedErrors.Add(1)
		return
	}
	if !snap.lease {
		token = ""
	}
	cctx, cancel := f.call(ctx)
	defer cancel()
	entry := f.encodeEntry(sharedEntry{digest: digest, epoch: snap.epoch, clock: snap.clock,
		notAfter: time.Now().Add(ttl).UnixMilli(), id: key.ID, body: body})
	stored, err := writeScript.Run(cctx, f.client, nil, f.p, digest, key.ID, snap.clock, snap.epoch,
		entry, ttl.Milliseconds(), token).Int()
	switch {
	case err != nil:
		f.sharedFailed()
	case stored == 1:
		f.st.sharedStored.Add(1)
	default:
		f.st.sharedRefused.Add(1)
	}
}

func (f *Fleet) releaseLease(ctx context.Context, digest, token string) {
	cctx, cancel := f.call(ctx)
	defer cancel()
	if err := releaseScript.Run(cctx, f.client, nil, f.p, digest, token).Err(); err != nil {
		f.sharedFailed()
	}
}

func (f *Fleet) sharedFailed() {
	f.st.sharedErrors.Add(1)
	f.sharedDownUntil.Store(time.Now().Add(sharedDownFor).UnixNano())
}

func (f *Fleet) sharedDown() bool { return time.Now().UnixNano() < f.sharedDownUntil.Load() }

// errBadMAC is a shared entry whose MAC is missing or wrong, or that
// outlived the expiry it was written with.
var errBadMAC = errors.New("redisfleet: a shared entry's MAC is missing or wrong, or it has expired")

// entryPurpose labels the MAC of a shared entry, so that no other MAC the
// fleet computes with the same secret can pass for one.
const entryPurpose = "redisfleet shared entry v2"

// sharedEntry is a shared validation result, and what binds it: the digest
// it is stored under, the fleet's epoch when it was written, the clock of
// the read that started its validation, and when it expires.
type sharedEntry struct {
	digest, epoch, clock string
	notAfter             int64 // Unix milliseconds
	id                   string
	body                 []byte // the key in JSON
}

// encodeEntry builds "<clock>:<not after>:<epoch>:<hex ID>:<MAC hex>:<json>",
// the MAC empty without a shared secret. Everything before the JSON is
// digits and hex, so that the scripts can read the clock, the epoch and
// the ID, to check the entry against the tombstones.
func (f *Fleet) encodeEntry(e sharedEntry) string {
	var mac string
	if f.s.secret != nil {
		mac = hex.EncodeToString(f.entryMAC(e))
	}
	return e.clock + ":" + strconv.FormatInt(e.notAfter, 10) + ":" + e.epoch + ":" + hex.EncodeToString([]byte(e.id)) +
		":" + mac + ":" + string(e.body)
}

// entryMAC signs everything an entry holds and everything it is bound to,
// so that it cannot be moved to another key value's place, outlive its
// expiry, or survive the fleet's epoch.
func (f *Fleet) entryMAC(e sharedEntry) []byte {
	return macOf(f.s.secret.reveal(), entryPurpose, e.epoch, e.digest, e.id, e.clock,
		strconv.FormatInt(e.notAfter, 10), string(e.body))
}

// decodeEntry reads what encodeEntry built, stored under digest in the
// fleet's current epoch, at now. An entry of another epoch, past its
// expiry, without an ID, or whose ID is not its key's, is refused.
func (f *Fleet) decodeEntry(digest, epoch, entry string, now time.Time) (*apikey.Key, sharedEntry, error) {
	e := sharedEntry{digest: digest}
	parts := strings.SplitN(entry, ":", 6)
	if len(parts) != 6 {
		return nil, e, errors.New("redisfleet: a shared entry is not in this version's format")
	}
	var mac string
	e.clock, e.epoch, mac, e.body = parts[0], parts[2], parts[4], []byte(parts[5])
	id, err := hex.DecodeString(parts[3])
	e.id = string(id)
	if _, cerr := strconv.ParseUint(e.clock, 10, 64); cerr != nil || err != nil || e.id == "" {
		return nil, e, errors.New("redisfleet: a shared entry has no clock or no key ID")
	}
	if e.notAfter, err = strconv.ParseInt(parts[1], 10, 64); err != nil {
		return nil, e, errors.New("redisfleet: a shared entry has no expiry")
	}
	if f.s.secret != nil {
		got, err := hex.DecodeString(mac)
		if err != nil || !hmac.Equal(got, f.entryMAC(e)) {
			return nil, e, errBadMAC
		}
	}
	if e.epoch != epoch || now.UnixMilli() >= e.notAfter {
		// The scripts refuse an entry of another epoch; one past its expiry
		// is still there only if someone set it again without one.
		return nil, e, errBadMAC
	}
	var key *apikey.Key
	if err := json.Unmarshal(e.body, &key); err != nil {
		return nil, e, fmt.Errorf("redisfleet: a shared entry is unreadable: %w", err)
	}
	if key == nil || key.ID != e.id {
		return nil, e, errors.New("redisfleet: a shared entry holds no key, or another key than its ID")
	}
	return key, e, nil
}
