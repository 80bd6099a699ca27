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
//! | `lease`      | hash   | lease id -> `ORIGIN\nSET PREV\nENTRY` of each handed-out entry |
//! | `expiry`     | zset   | lease id -> when it expires (ms, the server's clock) |
//! | `slots`      | hash   | origin -> leases live on it (its requests crawl-wide) |
//! | `next`       | hash   | origin -> earliest start of its next request (ms)  |
//! | `pace`       | hash   | origin -> its robots.txt `Crawl-delay` (ms), if any |
//! | `robots`     | hash   | origin -> its robots.txt as a worker kept it      |
//! | `claim:ORIGIN` | string | the worker fetching the origin's robots.txt (expires) |
//! | `count`      | hash   | `queued`, `done`, `reclaimed`, `late`, `started`, `limit` |
//! | `nextid`     | string | the last lease id given                           |
//! | `want`       | hash   | origin -> `WORKER MS`: who waits for it, since when (or until when its delay runs) |
//! | `workers`    | hash   | worker -> `LAST_SEEN_MS PAGES ERRORS`             |
//!
//! Times come from the server's clock (`TIME`), so workers' clocks need not
//! agree. Invariant: an origin is in `ring` exactly when its queue is not
//! empty; every script keeps it.
//!
//! # Pacing
//!
//! A host's delay is the larger of `--delay` and its robots.txt
//! `Crawl-delay` (`pace`, written with the file by the worker that fetched
//! it). A host with a delay has one request at a time crawl-wide (as on
//! one machine), and `next` keeps when the next may start: the pop that
//! leases an entry sets it to `now + delay`, and the acknowledgement of the
//! page, which comes after the request ended, pushes it to at least `now +
//! delay` again. So two requests to the host start at least the delay
//! apart, and one starts at least the delay after the previous one ended,
//! whichever workers make them. A lease records the `next` it set and the
//! one before (`SET PREV`, `0 0` without a delay), so that an entry given
//! back unworked, or skipped, does not hold the host back for nothing.
//!
//! # Pages counted for `--max-pages`
//!
//! `count.started` is the number of entries handed out and not given back:
//! a pop adds the entries it leases; a lease given back (unworked, or by
//! a worker that stops), a lease that expired with its holder, and an
//! entry robots.txt disallowed take theirs off (an entry given back is
//! counted again when handed out again). That is what `--max-pages` counts
//! on one machine: the entries whose fetch started (pages, error pages,
//! sitemaps; not robots.txt files, nor URLs robots.txt disallows). A pop
//! hands out nothing once the count reaches the worker's `--max-pages`.

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
-- A lease's value: its origin, its pacing (`SET PREV`) and its entry.
local function split(v)
  local a = string.find(v, '\n', 1, true)
  local b = string.find(v, '\n', a + 1, true)
  return string.sub(v, 1, a - 1), string.sub(v, a + 1, b - 1), string.sub(v, b + 1)
end
-- The host's delay: the crawl's, or its robots.txt Crawl-delay if longer.
local function delay_of(o, delay)
  local d = tonumber(redis.call('HGET', p .. 'pace', o) or '0')
  if d > delay then return d end
  return delay
end
-- A lease's request was never made: put `next` back as it was before the
-- lease set it, unless something moved it since.
local function unpace(o, pace)
  local sp = string.find(pace, ' ', 1, true)
  local set, prev = string.sub(pace, 1, sp - 1), string.sub(pace, sp + 1)
  if set == '0' or redis.call('HGET', p .. 'next', o) ~= set then return end
  if prev == '0' then
    redis.call('HDEL', p .. 'next', o)
  else
    redis.call('HSET', p .. 'next', o, prev)
  end
end
-- End a lease and free its slot: its origin, pacing and entry (nil when
-- the lease is gone).
local function unlease(id)
  local v = redis.call('HGET', p .. 'lease', id)
  redis.call('ZREM', p .. 'expiry', id)
  if not v then return nil end
  redis.call('HDEL', p .. 'lease', id)
  local o, pace, e = split(v)
  release_slot(o)
  return o, pace, e
end
-- Put a lease's entry back at the front of its origin's queue; it no
-- longer counts as started. `unworked`: its request was never made.
local function requeue(id, unworked)
  local o, pace, e = unlease(id)
  if not o then return 0 end
  if unworked then unpace(o, pace) end
  if redis.call('LPUSH', p .. 'q:' .. o, e) == 1 then
    redis.call('RPUSH', p .. 'ring', o)
  end
  redis.call('HINCRBY', p .. 'count', 'queued', 1)
  redis.call('HINCRBY', p .. 'count', 'started', -1)
  return 1
end
-- Requeue the leases whose holders stopped renewing them.
local function reclaim(now)
  local ids = redis.call('ZRANGEBYSCORE', p .. 'expiry', '-inf', now, 'LIMIT', 0, 1000)
  local n = 0
  for _, id in ipairs(ids) do n = n + requeue(id, false) end
  if n > 0 then redis.call('HINCRBY', p .. 'count', 'reclaimed', n) end
  return n
end
local function counts()
  return {tonumber(redis.call('HGET', p .. 'count', 'queued') or '0'),
          redis.call('ZCARD', p .. 'expiry'),
          tonumber(redis.call('HGET', p .. 'count', 'started') or '0')}
end
"#;

/// Mark seen and enqueue. ARGV: prefix, then (fingerprint, origin, entry)
/// triples. Returns `[queued, duplicates, queued crawl-wide, leased,
/// started]`.
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
return {new, dup, c[1], c[2], c[3]}
"#;

/// Lease up to `max` entries, round robin over the origins with a free
/// slot (fewer than `per_host` leases, or than one for a host with a
/// delay) whose next-allowed time has come, skipping the origins listed,
/// and none once `started` reaches `max_pages`; expired leases are
/// requeued first.
///
/// Fairness: the worker that frees a host's slot (by acknowledging) is
/// usually the next to pop, and would keep the host to itself. So a worker
/// that finds a host's slots all taken records itself in `want`, and for
/// `fair` ms the next free slot of that host is left to it. A host waiting
/// for its delay is likewise left to the first worker that waited for it,
/// until `fair` ms after its time has come: the worker that made the last
/// request polls in step with its own acknowledgement, and would otherwise
/// be first every time.
///
/// ARGV: prefix, max, per_host, delay_ms, ttl_ms, skipped origins
/// (newline-separated), worker, fair_ms, max_pages (-1: none). Returns
/// `[queued, leased, started, id, entry, id, entry...]`.
const POP: &str = r#"
local max, per_host = tonumber(ARGV[2]), tonumber(ARGV[3])
local delay, ttl = tonumber(ARGV[4]), tonumber(ARGV[5])
local me, fair = ARGV[7], tonumber(ARGV[8])
local max_pages = tonumber(ARGV[9])
local skip = {}
for o in string.gmatch(ARGV[6], '[^\n]+') do skip[o] = true end
-- Who waits for the host, since when (or until when its delay is over).
local function wanted(o)
  local w = redis.call('HGET', p .. 'want', o)
  if not w then return nil end
  local sp = string.find(w, ' ', 1, true)
  return string.sub(w, 1, sp - 1), tonumber(string.sub(w, sp + 1))
end
local now = now_ms()
reclaim(now)
local started = tonumber(redis.call('HGET', p .. 'count', 'started') or '0')
local out = {}
local handed, idle = 0, 0
while handed < max do
  if max_pages >= 0 and started + handed >= max_pages then break end
  local n = redis.call('LLEN', p .. 'ring')
  if idle >= n then break end
  local o = redis.call('LMOVE', p .. 'ring', p .. 'ring', 'LEFT', 'RIGHT')
  local ok = not skip[o]
  local d = 0
  if ok then
    d = delay_of(o, delay)
    local cap = per_host
    if d > 0 then cap = 1 end
    local slots = tonumber(redis.call('HGET', p .. 'slots', o) or '0')
    local nxt = tonumber(redis.call('HGET', p .. 'next', o) or '0')
    if slots >= cap then
      -- Every slot taken: this worker waits for the host.
      redis.call('HSET', p .. 'want', o, me .. ' ' .. now)
      ok = false
    elseif nxt > now then
      local who, at = wanted(o)
      if not who or who == me or now - at > fair then
        redis.call('HSET', p .. 'want', o, me .. ' ' .. nxt)
      end
      ok = false
    else
      local who, at = wanted(o)
      if who then
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
    local pace = '0 0'
    if d > 0 then
      local set = string.format('%d', now + d)
      pace = set .. ' ' .. (redis.call('HGET', p .. 'next', o) or '0')
      redis.call('HSET', p .. 'next', o, set)
    end
    redis.call('HSET', p .. 'lease', id, o .. '\n' .. pace .. '\n' .. e)
    redis.call('ZADD', p .. 'expiry', now + ttl, id)
    redis.call('HINCRBY', p .. 'slots', o, 1)
    redis.call('HINCRBY', p .. 'count', 'queued', -1)
    out[#out + 1] = id
    out[#out + 1] = e
    handed = handed + 1
    idle = 0
  else
    idle = idle + 1
  end
end
if handed > 0 then redis.call('HINCRBY', p .. 'count', 'started', handed) end
local c = counts()
local r = {c[1], c[2], c[3]}
for _, v in ipairs(out) do r[#r + 1] = v end
return r
"#;

/// Acknowledge leases: their records are stored (their hosts' `next` is
/// pushed to `now + delay`: the request has ended), or, `skipped`, they
/// were never fetched (robots.txt disallowed them: no request, and no
/// longer counted as started). ARGV: prefix, delay_ms, skipped (`1` or
/// `0`), ids. A lease already gone (it expired and was requeued) is
/// counted `late`. Returns `[queued, leased, started]`.
const ACK: &str = r#"
local delay, skipped = tonumber(ARGV[2]), ARGV[3] == '1'
local now = now_ms()
local acked = 0
for i = 4, #ARGV do
  local o, pace = unlease(ARGV[i])
  if o then
    acked = acked + 1
    if skipped then
      unpace(o, pace)
    else
      local d = delay_of(o, delay)
      local nxt = tonumber(redis.call('HGET', p .. 'next', o) or '0')
      if d > 0 and now + d > nxt then
        redis.call('HSET', p .. 'next', o, string.format('%d', now + d))
      end
    end
  end
end
redis.call('HINCRBY', p .. 'count', 'done', acked)
if skipped and acked > 0 then redis.call('HINCRBY', p .. 'count', 'started', -acked) end
if #ARGV - 3 > acked then redis.call('HINCRBY', p .. 'count', 'late', #ARGV - 3 - acked) end
return counts()
"#;

/// Give leases back: their entries go back to the front of their queues.
/// `unworked` (`1`): the worker could not start them, so their hosts'
/// pacing is undone; `0` for a worker that stops, whose requests in flight
/// were made. ARGV: prefix, unworked, ids. Returns `[queued, leased,
/// started]`.
const RELEASE: &str = r#"
local unworked = ARGV[2] == '1'
for i = 3, #ARGV do requeue(ARGV[i], unworked) end
return counts()
"#;

/// Renew a worker's leases and robots.txt claims and record that it is
/// alive; requeue expired leases of others on the way. ARGV: prefix,
/// ttl_ms, worker, figures, claimed origins (newline-separated), ids.
/// Returns the number of the worker's leases that were already gone.
const RENEW: &str = r#"
local now = now_ms()
local ttl = tonumber(ARGV[2])
local lost = 0
for i = 6, #ARGV do
  if redis.call('ZSCORE', p .. 'expiry', ARGV[i]) then
    redis.call('ZADD', p .. 'expiry', 'XX', now + ttl, ARGV[i])
  else
    lost = lost + 1
  end
end
for o in string.gmatch(ARGV[5], '[^\n]+') do
  local key = p .. 'claim:' .. o
  if redis.call('GET', key) == ARGV[3] then redis.call('PEXPIRE', key, ttl) end
end
redis.call('HSET', p .. 'workers', ARGV[3], now .. ' ' .. ARGV[4])
reclaim(now)
return lost
"#;

/// Claim the fetch of an origin's robots.txt for a worker, for `ttl` ms
/// (renewed with its leases). A claim is not deleted when its file is
/// kept: it expires, so a worker that found no file just before it was
/// kept still finds the claim taken, and reads the file instead of
/// fetching it again. ARGV: prefix, origin, worker, ttl_ms. Returns 1 when
/// the worker holds the claim.
const CLAIM: &str = r#"
local key = p .. 'claim:' .. ARGV[2]
local holder = redis.call('GET', key)
if holder and holder ~= ARGV[3] then return 0 end
redis.call('SET', key, ARGV[3], 'PX', tonumber(ARGV[4]))
return 1
"#;

/// Give up robots.txt claims (the file could not be fetched, or the
/// worker stops), so that another worker takes them at once. ARGV:
/// prefix, worker, origins.
const UNCLAIM: &str = r#"
for i = 3, #ARGV do
  local key = p .. 'claim:' .. ARGV[i]
  if redis.call('GET', key) == ARGV[2] then redis.call('DEL', key) end
end
return 0
"#;

/// Keep an origin's robots.txt, and its `Crawl-delay` with it (so no
/// worker can read the one without the other). ARGV: prefix, origin,
/// kept file, crawl_delay_ms (0: none).
const KEEP_ROBOTS: &str = r#"
local o, d = ARGV[2], tonumber(ARGV[4])
redis.call('HSET', p .. 'robots', o, ARGV[3])
if d > 0 then
  redis.call('HSET', p .. 'pace', o, d)
else
  redis.call('HDEL', p .. 'pace', o)
end
return 0
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
/// done, reclaimed, late, seen, started, limit (-1: none), workers (flat
/// hash), hosts (origin, length pairs, the first 10,000 origins of the
/// ring)]`.
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
        num('started'), tonumber(redis.call('HGET', p .. 'count', 'limit') or '-1'),
        redis.call('HGETALL', p .. 'workers'), hosts}
"#;

/// The scripts, compiled once (their SHA-1s computed) per process.
pub struct Scripts {
    pub push: Script,
    pub pop: Script,
    pub ack: Script,
    pub release: Script,
    pub renew: Script,
    pub claim: Script,
    pub unclaim: Script,
    pub keep_robots: Script,
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
            claim: s(CLAIM),
            unclaim: s(UNCLAIM),
            keep_robots: s(KEEP_ROBOTS),
            identity: s(IDENTITY),
            status: s(STATUS),
        }
    }
}
