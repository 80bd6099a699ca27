//! The Lua scripts: each step a worker takes on the shared state, made
//! atomic by running inside Redis (one round trip, and no other worker
//! sees half of it).
//!
//! Keys, all under the crawl's prefix `semcrawl:NAME:`:
//!
//! | key          | type   | what                                              |
//! |--------------|--------|---------------------------------------------------|
//! | `identity`   | string | the crawl's identity (JSON), set by the first worker |
//! | `seen`       | set    | 8-byte fingerprints of every URL ever queued      |
//! | `q:ORIGIN`   | list   | the origin's queued entries, FIFO                 |
//! | `ring`       | list   | origins with a non-empty queue, in round-robin order |
//! | `lease`      | hash   | lease id -> `ORIGIN\nENTRY` of each handed-out entry |
//! | `expiry`     | zset   | lease id -> when it expires (ms, the server's clock) |
//! | `slots`      | hash   | origin -> leases live on it (its requests crawl-wide) |
//! | `next`       | hash   | origin -> earliest start of its next request (ms)  |
//! | `count`      | hash   | `queued`, `done`, `reclaimed`, `late`             |
//! | `nextid`     | string | the last lease id given                           |
//! | `want`       | hash   | origin -> `WORKER MS`: who last found its slots all taken |
//! | `workers`    | hash   | worker -> `LAST_SEEN_MS PAGES ERRORS`             |
//!
//! Times come from the server's clock (`TIME`), so workers' clocks need not
//! agree. Invariant: an origin is in `ring` exactly when its queue is not
//! empty; every script keeps it.

use redis::Script;

/// Functions every script shares. `p` is the key prefix (`ARGV[1]`).
const PRELUDE: &str = r#"
local p = ARGV[1]
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function release_slot(o)
  if redis.call('HINCRBY', p .. 'slots', o, -1) <= 0 then
    redis.call('HDEL', p .. 'slots', o)
  end
end
local function split(v)
  local nl = string.find(v, '\n', 1, true)
  return string.sub(v, 1, nl - 1), string.sub(v, nl + 1)
end
-- Put a lease's entry back at the front of its origin's queue, free its slot.
local function requeue(id)
  local v = redis.call('HGET', p .. 'lease', id)
  redis.call('ZREM', p .. 'expiry', id)
  if not v then return 0 end
  redis.call('HDEL', p .. 'lease', id)
  local o, e = split(v)
  release_slot(o)
  if redis.call('LPUSH', p .. 'q:' .. o, e) == 1 then
    redis.call('RPUSH', p .. 'ring', o)
  end
  redis.call('HINCRBY', p .. 'count', 'queued', 1)
  return 1
end
-- Requeue the leases whose holders stopped renewing them.
local function reclaim(now)
  local ids = redis.call('ZRANGEBYSCORE', p .. 'expiry', '-inf', now, 'LIMIT', 0, 1000)
  local n = 0
  for _, id in ipairs(ids) do n = n + requeue(id) end
  if n > 0 then redis.call('HINCRBY', p .. 'count', 'reclaimed', n) end
  return n
end
local function counts()
  return {tonumber(redis.call('HGET', p .. 'count', 'queued') or '0'),
          redis.call('ZCARD', p .. 'expiry')}
end
"#;

/// Mark seen and enqueue. ARGV: prefix, then (fingerprint, origin, entry)
/// triples. Returns `[queued, duplicates, queued crawl-wide, leased]`.
const PUSH: &str = r#"
local new, dup = 0, 0
for i = 2, #ARGV, 3 do
  if redis.call('SADD', p .. 'seen', ARGV[i]) == 1 then
    local o = ARGV[i + 1]
    if redis.call('RPUSH', p .. 'q:' .. o, ARGV[i + 2]) == 1 then
      redis.call('RPUSH', p .. 'ring', o)
    end
    new = new + 1
  else
    dup = dup + 1
  end
end
if new > 0 then redis.call('HINCRBY', p .. 'count', 'queued', new) end
local c = counts()
return {new, dup, c[1], c[2]}
"#;

/// Lease up to `max` entries, round robin over the origins with a free
/// slot (fewer than `per_host` leases) whose next-allowed time has come,
/// skipping the origins listed; expired leases are requeued first.
///
/// Fairness: the worker that frees a host's slot (by acknowledging) is
/// usually the next to pop, and would keep the host to itself. So a worker
/// that finds a host's slots all taken records itself in `want`, and for
/// `fair` ms the next free slot of that host is left to it.
///
/// ARGV: prefix, max, per_host, delay_ms, ttl_ms, skipped origins
/// (newline-separated), worker, fair_ms. Returns `[queued, leased, id, entry, id, entry...]`.
const POP: &str = r#"
local max, per_host = tonumber(ARGV[2]), tonumber(ARGV[3])
local delay, ttl = tonumber(ARGV[4]), tonumber(ARGV[5])
local me, fair = ARGV[7], tonumber(ARGV[8])
local skip = {}
for o in string.gmatch(ARGV[6], '[^\n]+') do skip[o] = true end
local now = now_ms()
reclaim(now)
local out = {}
local handed, idle = 0, 0
while handed < max do
  local n = redis.call('LLEN', p .. 'ring')
  if idle >= n then break end
  local o = redis.call('LMOVE', p .. 'ring', p .. 'ring', 'LEFT', 'RIGHT')
  local ok = not skip[o]
  if ok then
    local slots = tonumber(redis.call('HGET', p .. 'slots', o) or '0')
    local nxt = tonumber(redis.call('HGET', p .. 'next', o) or '0')
    if slots >= per_host then
      -- Every slot taken: this worker waits for the host.
      redis.call('HSET', p .. 'want', o, me .. ' ' .. now)
      ok = false
    elseif nxt > now then
      ok = false
    else
      local w = redis.call('HGET', p .. 'want', o)
      if w then
        local sp = string.find(w, ' ', 1, true)
        local who, at = string.sub(w, 1, sp - 1), tonumber(string.sub(w, sp + 1))
        if who == me or now - at > fair then
          redis.call('HDEL', p .. 'want', o)
        else
          -- Another worker waited for this host lately: leave it the slot.
          ok = false
        end
      end
    end
  end
  if ok then
    local q = p .. 'q:' .. o
    local e = redis.call('LPOP', q)
    if redis.call('LLEN', q) == 0 then redis.call('LREM', p .. 'ring', -1, o) end
    local id = redis.call('INCR', p .. 'nextid')
    redis.call('HSET', p .. 'lease', id, o .. '\n' .. e)
    redis.call('ZADD', p .. 'expiry', now + ttl, id)
    redis.call('HINCRBY', p .. 'slots', o, 1)
    if delay > 0 then redis.call('HSET', p .. 'next', o, now + delay) end
    redis.call('HINCRBY', p .. 'count', 'queued', -1)
    out[#out + 1] = id
    out[#out + 1] = e
    handed = handed + 1
    idle = 0
  else
    idle = idle + 1
  end
end
local c = counts()
local r = {c[1], c[2]}
for _, v in ipairs(out) do r[#r + 1] = v end
return r
"#;

/// Acknowledge leases: their records are stored. ARGV: prefix, ids.
/// A lease already gone (it expired and was requeued) is counted `late`.
/// Returns `[queued, leased]`.
const ACK: &str = r#"
local acked = 0
for i = 2, #ARGV do
  local v = redis.call('HGET', p .. 'lease', ARGV[i])
  if v then
    redis.call('HDEL', p .. 'lease', ARGV[i])
    redis.call('ZREM', p .. 'expiry', ARGV[i])
    local o = split(v)
    release_slot(o)
    acked = acked + 1
  end
end
redis.call('HINCRBY', p .. 'count', 'done', acked)
if #ARGV - 1 > acked then redis.call('HINCRBY', p .. 'count', 'late', #ARGV - 1 - acked) end
return counts()
"#;

/// Give leases back unworked (the worker could not start them): their
/// entries go back to the front of their queues. ARGV: prefix, ids.
/// Returns `[queued, leased]`.
const RELEASE: &str = r#"
for i = 2, #ARGV do requeue(ARGV[i]) end
return counts()
"#;

/// Renew a worker's leases and record that it is alive; requeue expired
/// leases of others on the way. ARGV: prefix, ttl_ms, worker, figures,
/// ids. Returns the number of the worker's leases that were already gone.
const RENEW: &str = r#"
local now = now_ms()
local ttl = tonumber(ARGV[2])
local lost = 0
for i = 5, #ARGV do
  if redis.call('ZSCORE', p .. 'expiry', ARGV[i]) then
    redis.call('ZADD', p .. 'expiry', 'XX', now + ttl, ARGV[i])
  else
    lost = lost + 1
  end
end
redis.call('HSET', p .. 'workers', ARGV[3], now .. ' ' .. ARGV[4])
reclaim(now)
return lost
"#;

/// Claim the crawl for an identity, or read the identity it has.
/// ARGV: prefix, identity. Returns `[1 if claimed now, identity]`.
const IDENTITY: &str = r#"
local cur = redis.call('GET', p .. 'identity')
if cur then return {0, cur} end
redis.call('SET', p .. 'identity', ARGV[2])
return {1, ARGV[2]}
"#;

/// The crawl-wide figures. ARGV: prefix. Returns `[now, queued, leased,
/// done, reclaimed, late, seen, workers (flat hash), hosts (origin,
/// length pairs, the first 10,000 origins of the ring)]`.
const STATUS: &str = r#"
local now = now_ms()
local function num(f) return tonumber(redis.call('HGET', p .. 'count', f) or '0') end
local hosts = {}
for _, o in ipairs(redis.call('LRANGE', p .. 'ring', 0, 9999)) do
  hosts[#hosts + 1] = o
  hosts[#hosts + 1] = redis.call('LLEN', p .. 'q:' .. o)
end
return {now, num('queued'), redis.call('ZCARD', p .. 'expiry'), num('done'),
        num('reclaimed'), num('late'), redis.call('SCARD', p .. 'seen'),
        redis.call('HGETALL', p .. 'workers'), hosts}
"#;

/// The scripts, compiled once (their SHA-1s computed) per process.
pub struct Scripts {
    pub push: Script,
    pub pop: Script,
    pub ack: Script,
    pub release: Script,
    pub renew: Script,
    pub identity: Script,
    pub status: Script,
}

impl Scripts {
    pub fn new() -> Scripts {
        let s = |body: &str| Script::new(&format!("{PRELUDE}{body}"));
        Scripts {
            push: s(PUSH),
            pop: s(POP),
            ack: s(ACK),
            release: s(RELEASE),
            renew: s(RENEW),
            identity: s(IDENTITY),
            status: s(STATUS),
        }
    }
}
