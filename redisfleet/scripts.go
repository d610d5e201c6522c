package redisfleet

import (
	"time"

	"github.com/redis/go-redis/v9"
)

// The fleet's state in Redis, under the prefix P = "{prefix}:":
//
//	P stream        the invalidations, one entry each, trimmed to MaxLen
//	P gen           a counter: the sequence number of the last entry
//	P epoch         a random value that changes when Redis loses the above,
//	                or restarts (restartScript)
//	P runid         the run_id of the Redis that last checked the epoch
//	P clock         a counter the shared cache orders its reads, writes and
//	                removals by: it also counts removals never published
//	P key:<digest>  a shared validation result (encodeEntry): the clock
//	                when its validation read, its expiry, the epoch, the
//	                key's ID, a MAC, the key in JSON
//	P id:<id>       the digests stored for a key ID
//	P tomb:...      tombstones: the clock of the last removal of a digest,
//	                an ID, or everything
//	P lease:<digest> a replica is validating this key
//
// Every change happens inside one script, so no replica sees half of one.
// The scripts name keys they build themselves; the common hash tag keeps
// them in one slot. The shared cache has a clock of its own, not the
// stream's sequence number, because a store's invalidation clears it without
// a stream entry, and the sequence must have no gap.

// tombstoneTTL is how long a tombstone outlives its invalidation. It must
// exceed the longest shared TTL plus the longest validation (writeWindow),
// so that nothing written before it can still be read or written after it.
const tombstoneTTL = time.Hour

// writeWindow is the longest a validation may take and still write its
// result to the shared cache.
const writeWindow = time.Minute

// maxSharedTTL keeps the shared TTL within what tombstones cover.
const maxSharedTTL = tombstoneTTL - writeWindow

// withEpoch starts a script whose first two arguments are the prefix and a
// new epoch: it sets p to the prefix, and epoch to the fleet's epoch,
// created if Redis lost it.
const withEpoch = `
local p = ARGV[1]
local epoch = redis.call('GET', p..'epoch')
if not epoch then
  epoch = ARGV[2]
  redis.call('SET', p..'epoch', epoch)
end
`

// forgetLua defines forget(p, ttl, id, digest, all): it removes what an
// invalidation names from the shared cache, and leaves tombstones (for ttl
// ms) that refuse the writes of validations that read before it.
const forgetLua = `
local function forget(p, ttl, id, digest, all)
  local t = redis.call('INCR', p..'clock')
  if all == '1' then
    redis.call('SET', p..'tomb:all', t, 'PX', ttl)
  end
  if digest ~= '' then
    redis.call('SET', p..'tomb:key:'..digest, t, 'PX', ttl)
    redis.call('DEL', p..'key:'..digest)
  end
  if id ~= '' then
    redis.call('SET', p..'tomb:id:'..id, t, 'PX', ttl)
    local ids = p..'id:'..id
    for _, d in ipairs(redis.call('SMEMBERS', ids)) do
      redis.call('DEL', p..'key:'..d)
    end
    redis.call('DEL', ids)
  end
end
`

// publishScript appends one invalidation to the stream, and forgets what it
// names in the shared cache. It creates the epoch if Redis lost it. A
// stream whose last entry has the largest possible ID takes no entry after
// it: only a forged entry can put it there, so the stream is deleted and
// started again (the readers notice the gap and purge).
//
// ARGV: prefix, new epoch, maxlen, tombstone TTL (ms), replica, origin, id,
// digest (hex), all ("1" or ""), nonce, MAC (hex, or ""). Returns the
// entry's sequence number, negative when the stream had to be started
// again.
var publishScript = redis.NewScript(forgetLua + withEpoch + `
forget(p, ARGV[4], ARGV[7], ARGV[8], ARGV[9])
local seq = redis.call('INCR', p..'gen')
local fields = {'epoch', epoch, 'seq', seq, 'from', ARGV[5], 'origin', ARGV[6],
  'id', ARGV[7], 'digest', ARGV[8], 'all', ARGV[9], 'nonce', ARGV[10], 'mac', ARGV[11]}
local ok = redis.pcall('XADD', p..'stream', 'MAXLEN', '~', ARGV[3], '*', unpack(fields))
if type(ok) == 'table' and ok.err then
  redis.call('DEL', p..'stream')
  redis.call('XADD', p..'stream', 'MAXLEN', '~', ARGV[3], '*', unpack(fields))
  return -seq
end
return seq
`)

// clearScript forgets what an invalidation names in the shared cache
// without publishing it: for the invalidations every replica gets by
// itself.
//
// ARGV: prefix, tombstone TTL (ms), id, digest (hex), all ("1" or "").
var clearScript = redis.NewScript(forgetLua + `
forget(ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5])
return 1
`)

// syncScript tells the reader where the stream stands: the epoch (created
// if Redis lost it), the last sequence number, the last entry's ID, and the
// sequence number of the first entry after the reader's last ID ("" if none).
//
// ARGV: prefix, new epoch, the reader's last ID ("" for none).
var syncScript = redis.NewScript(withEpoch + `
local gen = redis.call('GET', p..'gen') or '0'
local lastID = '0-0'
local last = redis.call('XREVRANGE', p..'stream', '+', '-', 'COUNT', 1)
if #last > 0 then lastID = last[1][1] end
local nextSeq = ''
if ARGV[3] ~= '' then
  -- After the largest possible ID there is no exclusive range: nothing follows.
  local nx = redis.pcall('XRANGE', p..'stream', '('..ARGV[3], '+', 'COUNT', 1)
  if nx.err == nil and #nx > 0 then
    local f = nx[1][2]
    for i = 1, #f, 2 do
      if f[i] == 'seq' then nextSeq = f[i+1] end
    end
  end
end
return {epoch, gen, lastID, nextSeq}
`)

// restartScript runs on every new connection: when Redis's run_id, which
// changes at every start, is not the one recorded beside the epoch, Redis
// restarted since the epoch was last checked, and may have come back from
// an older snapshot, with older entries, fewer tombstones and a sequence
// number that went back. So the epoch is renewed: every replica purges,
// and every shared entry is void. A restart that lost nothing costs one
// purge. A Redis that refuses INFO cannot be checked: the script says so.
//
// ARGV: prefix, new epoch. Returns {"checked", "renewed" or "unchecked"}.
var restartScript = redis.NewScript(`
local p = ARGV[1]
local info = redis.pcall('INFO', 'server')
local run = type(info) == 'string' and string.match(info, 'run_id:(%x+)')
if not run then return 'unchecked' end
local known = redis.call('GET', p..'runid')
if known == run then return 'checked' end
redis.call('SET', p..'runid', run)
if known and redis.call('EXISTS', p..'epoch') == 1 then
  redis.call('SET', p..'epoch', ARGV[2])
  return 'renewed'
end
return 'checked'
`)

// readScript looks a digest up in the shared cache and, on a miss, takes
// the lease on validating it if no other replica holds it. An entry counts
// as a miss when an invalidation of everything, of its digest or of its key
// ID came after the read that started its validation (its clock), or when
// it was written in another epoch: so an entry written back after its key
// was revoked is refused, whoever wrote it. An entry whose start the script
// cannot read is returned, for the caller to refuse. It also returns the
// clock and the epoch (created if Redis lost it) to hand to writeScript.
//
// ARGV: prefix, new epoch, digest (hex), lease token ("" for no lease),
// lease TTL (ms). Returns {entry or "", clock, epoch, 1 if the lease was
// taken, the entry's remaining TTL in ms (0 without an entry), 1 if an
// entry was refused for a tombstone}.
var readScript = redis.NewScript(withEpoch + `
local entry = redis.call('GET', p..'key:'..ARGV[3])
local buried = 0
if entry then
  local g, ep, idh = string.match(entry, '^(%d+):%d+:(%x+):(%x*):')
  if g then
    g = tonumber(g)
    local id = (string.gsub(idh, '%x%x', function(h) return string.char(tonumber(h, 16)) end))
    if ep ~= epoch then entry = false end
    for _, t in ipairs({p..'tomb:all', p..'tomb:key:'..ARGV[3], p..'tomb:id:'..id}) do
      local v = redis.call('GET', t)
      if entry and v and tonumber(v) > g then entry, buried = false, 1 end
    end
  end
end
local clock = redis.call('GET', p..'clock') or '0'
local lease = 0
if not entry and ARGV[4] ~= '' then
  if redis.call('SET', p..'lease:'..ARGV[3], ARGV[4], 'NX', 'PX', ARGV[5]) then lease = 1 end
end
local pttl = 0
if entry then pttl = redis.call('PTTL', p..'key:'..ARGV[3]) end
return {entry or '', clock, epoch, lease, pttl, buried}
`)

// writeScript stores a validation result unless an invalidation of its
// digest, its ID or everything came after the read that started the
// validation (at clock c), or Redis lost the fleet's state since (epoch).
// It releases the lease if it holds it.
//
// ARGV: prefix, digest (hex), key ID, c, epoch, entry, TTL (ms), lease token.
// Returns 1 if stored, 0 if refused.
var writeScript = redis.NewScript(`
local p = ARGV[1]
local g0 = tonumber(ARGV[4])
local ok = redis.call('GET', p..'epoch') == ARGV[5]
  and tonumber(redis.call('GET', p..'clock') or '0') >= g0
if ok then
  for _, t in ipairs({p..'tomb:all', p..'tomb:key:'..ARGV[2], p..'tomb:id:'..ARGV[3]}) do
    local v = redis.call('GET', t)
    if v and tonumber(v) > g0 then ok = false end
  end
end
if ok then
  redis.call('SET', p..'key:'..ARGV[2], ARGV[6], 'PX', ARGV[7])
  if ARGV[3] ~= '' then
    local ids = p..'id:'..ARGV[3]
    redis.call('SADD', ids, ARGV[2])
    if redis.call('PTTL', ids) < tonumber(ARGV[7]) then redis.call('PEXPIRE', ids, ARGV[7]) end
  end
end
if ARGV[8] ~= '' and redis.call('GET', p..'lease:'..ARGV[2]) == ARGV[8] then
  redis.call('DEL', p..'lease:'..ARGV[2])
end
if ok then return 1 end
return 0
`)

// releaseScript gives a lease back, if it is still the caller's.
//
// ARGV: prefix, digest (hex), lease token.
var releaseScript = redis.NewScript(`
if redis.call('GET', ARGV[1]..'lease:'..ARGV[2]) == ARGV[3] then
  return redis.call('DEL', ARGV[1]..'lease:'..ARGV[2])
end
return 0
`)
