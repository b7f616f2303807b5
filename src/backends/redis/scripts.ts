/**
 * The Lua scripts: every step on a session is one script, atomic on the server, touching one
 * slot (the session's key and its bucket's deadline index share a hash tag). They run by
 * EVALSHA; connection.ts loads a script again (EVAL) when Redis answers NOSCRIPT.
 *
 * Keys: KEYS[1] the session, KEYS[2] its bucket's deadline index (hashed keys; absent when plain).
 * A session is live when its key exists and its deadline (the index's score; plain: now + PTTL)
 * is after `now`. The hash keeps the deadline too, as `e`, so that a read of a hashed key is one
 * plain HMGET (no script: what a read costs Redis is what a GET costs). With hashed keys the key itself lives `grace` ms past the deadline, so the
 * sweep that reports the expiry still finds who it belonged to; until then nothing reads it.
 * Times are the caller's clock (ms since the epoch); TTLs are set relative to it (PEXPIRE), so a
 * skew between host and server clocks shifts nothing.
 */
import { createHash } from 'node:crypto';
import type { LuaScript } from './connection.js';

function script(name: string, body: string): LuaScript {
  const source = `${PRELUDE}\n${body}`;
  return { name, source, sha: createHash('sha1').update(source).digest('hex') };
}

const PRELUDE = `
local k, dz = KEYS[1], KEYS[2]
local now = tonumber(ARGV[1])
local tok = ARGV[2]
-- The session's deadline, or nil when there is no session under k. Hashed keys keep it in the
-- hash (field e); plain keys too, but connect-redis strings have only their TTL.
local function deadline()
  if dz then
    local e = redis.call('HGET', k, 'e')
    if not e then return nil end
    return tonumber(e)
  end
  local t = redis.call('PTTL', k)
  if t == -2 then return nil end
  if redis.call('TYPE', k).ok == 'hash' then
    local e = redis.call('HGET', k, 'e')
    if e then return tonumber(e) end
  end
  if t == -1 then return 8640000000000000 end
  return now + t
end
-- connect-redis's JSON string (plain keys only).
local function legacy()
  return (not dz) and redis.call('TYPE', k).ok == 'string'
end
-- Removes a session past its deadline that the sweep has not reported; returns its user.
local function clear_due(u)
  redis.call('DEL', k)
  if dz then redis.call('ZREM', dz, tok) end
  return u or false
end
-- The stored session fields, or nil; e its deadline, due when that has passed.
local function current()
  if (not dz) and legacy() then
    local e = deadline()
    if not e then return nil end
    local abs = tonumber(ARGV[6])
    return { legacy = true, c = now, a = (abs and abs > 0) and (now + abs) or 0, v = 0, e = e, due = e <= now }
  end
  local f = redis.call('HMGET', k, 'c', 'a', 'i', 'v', 'u', 'e')
  if not f[4] then return nil end
  local e = tonumber(f[6]) or deadline()
  return { c = tonumber(f[1]), a = tonumber(f[2]), i = tonumber(f[3]), v = tonumber(f[4]), u = f[5], e = e, due = e <= now }
end
local function store(d, c, a, i, v, u, e, grace, had_user)
  redis.call('HSET', k, 'd', d, 'c', c, 'a', a, 'i', i, 'v', v, 'e', e)
  if u then redis.call('HSET', k, 'u', u) elseif had_user then redis.call('HDEL', k, 'u') end
  if dz then
    redis.call('ZADD', dz, e, tok)
    redis.call('PEXPIRE', k, math.max(1, e - now + grace))
  else
    redis.call('PEXPIRE', k, math.max(1, e - now))
  end
end`;

/**
 * The read of a plain key, which may hold connect-redis's JSON string (hashed keys are read with
 * HMGET: see {@link READ_FIELDS}). ARGV: now, tok. Reply: nil, {'s', json, deadline} or
 * {'h', d, c, a, i, v, u, deadline}.
 */
export const READ = script('read', `
local e = deadline()
if not e or e <= now then return false end
if legacy() then return {'s', redis.call('GET', k), e} end
local f = redis.call('HMGET', k, 'd', 'c', 'a', 'i', 'v', 'u')
return {'h', f[1], f[2], f[3], f[4], f[5], f[6], e}`);

/**
 * A declarative write (setSession, createSession). ARGV: now, tok, data, ttl ('' none), idle
 * default, absolute timeout (0 none), user mode ('set' | 'clear' | 'auto'), user (given, or
 * derived from the data for 'auto'; '' none), must be new (0/1), if exists (0/1), if version
 * ('' none), grace. Reply: {existed, before user, before version, v, c, a, i, u, deadline,
 * due, due user, due deadline} or an error reply SESSMAP_NEW_TAKEN / SESSMAP_GONE / SESSMAP_VERSION <v>.
 */
export const PUT = script('put', `
local st = current()
local cur = nil
local had_user = false
if st and not st.due then
  cur = st
  had_user = st.u and true or false
end
if ARGV[9] == '1' and cur then return redis.error_reply('SESSMAP_NEW_TAKEN') end
if ARGV[10] == '1' and not cur then return redis.error_reply('SESSMAP_GONE') end
if ARGV[11] ~= '' and ((not cur) or cur.v ~= tonumber(ARGV[11])) then
  return redis.error_reply('SESSMAP_VERSION ' .. (cur and tostring(cur.v) or 'none'))
end
local due, due_u = 0, false
if st and st.due then due = 1; due_u = clear_due(st.u) end
if cur and cur.legacy then redis.call('DEL', k) end
local u
if ARGV[7] == 'clear' then u = false
elseif ARGV[7] == 'set' then u = ARGV[8]
elseif cur and cur.u then u = cur.u
elseif ARGV[8] ~= '' then u = ARGV[8]
else u = false end
local c = cur and cur.c or now
local abs = tonumber(ARGV[6])
local a = cur and cur.a or ((abs > 0) and (now + abs) or 0)
local i = (ARGV[4] ~= '' and tonumber(ARGV[4])) or (cur and cur.i) or tonumber(ARGV[5])
local v = (cur and cur.v or 0) + 1
local e = now + i
if a > 0 and a < e then e = a end
store(ARGV[3], c, a, i, v, u, e, tonumber(ARGV[12]), had_user)
return {cur and 1 or 0, cur and cur.u or false, cur and cur.v or false, v, c, a, i, u, e, due, due_u, st and st.e or false}`);

/**
 * Compare-and-set after a read (updateSession's callback runs in the caller). ARGV: now, tok,
 * expected version ('' expects no session), op ('put' | 'del'), then for put: d, c, a, i, v,
 * u ('' none), deadline, grace. Reply: {1, due, due user, due deadline} when done, {0, version}
 * when the session changed since the read.
 */
export const CAS = script('cas', `
local st = current()
local live = st and not st.due
local curv = live and st.v or false
local had_user = live and st.u and true or false
if ARGV[3] == '' then
  if live then return {0, curv} end
elseif (not live) or curv ~= tonumber(ARGV[3]) then
  return {0, curv}
end
local due, due_u = 0, false
if st and st.due then due = 1; due_u = clear_due(st.u) end
if ARGV[4] == 'del' then
  if live then
    redis.call('DEL', k)
    if dz then redis.call('ZREM', dz, tok) end
  end
  return {1, due, due_u, st and st.e or false}
end
if live and st.legacy then redis.call('DEL', k) end
local u = ARGV[10] ~= '' and ARGV[10] or false
store(ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9], u, tonumber(ARGV[11]), tonumber(ARGV[12]), had_user)
return {1, due, due_u, st and st.e or false}`);

/** Moves a live session's deadline (never rewrites it, never revives it). ARGV: now, tok, deadline, slack, grace. Reply: 2 moved, 1 already within the slack, 0 no session. */
export const TOUCH = script('touch', `
local e0 = deadline()
if not e0 or e0 <= now then return 0 end
local e = tonumber(ARGV[3])
if math.abs(e0 - e) <= tonumber(ARGV[4]) then return 1 end
if dz then
  redis.call('ZADD', dz, 'XX', e, tok)
  redis.call('HSET', k, 'e', e)
  redis.call('PEXPIRE', k, math.max(1, e - now + tonumber(ARGV[5])))
else
  if not legacy() then redis.call('HSET', k, 'e', e) end
  redis.call('PEXPIRE', k, math.max(1, e - now))
end
return 2`);

/** Destroys a live session. ARGV: now, tok. Reply: nil (none, or past its deadline: the sweep reports it) or {1, user}. */
export const REMOVE = script('remove', `
local st = current()
if not st or st.due then return false end
redis.call('DEL', k)
if dz then redis.call('ZREM', dz, tok) end
return {1, st.u or false}`);

/**
 * The per-user index (KEYS[1]): ARGV now, member, score. Drops members past their absolute
 * deadline. Reply: the other members (the caller drops those whose session is gone).
 */
export const INDEX_ADD = script('index-add', `
redis.call('ZREMRANGEBYSCORE', k, '-inf', '(' .. ARGV[1])
redis.call('ZADD', k, ARGV[3], tok)
local others = {}
for _, m in ipairs(redis.call('ZRANGE', k, 0, -1)) do
  if m ~= tok then others[#others + 1] = m end
end
return others`);

/** KEYS[1] the user's index; ARGV now. Reply: its members, once those past their absolute deadline are dropped. */
export const INDEX_LIST = script('index-list', `
redis.call('ZREMRANGEBYSCORE', k, '-inf', '(' .. ARGV[1])
return redis.call('ZRANGE', k, 0, -1)`);

/**
 * The sweep of buckets (KEYS: their deadline indexes; one per call on Redis Cluster, where a
 * script's keys share a slot; all 256 in one call on a single server). ARGV: now, '', limit per
 * bucket, the session key prefix up to the bucket (P + 's:{'). Removes the sessions past their
 * deadline and their index entries (also entries whose session Redis evicted or expired by
 * itself). Reply: {full, then flat {token, deadline, absolute deadline, user} per session
 * removed}; full = 1 when a bucket had more due than the limit (the caller sweeps again).
 */
export const SWEEP = script('sweep', `
local limit = tonumber(ARGV[3])
local out = {0}
for _, dk in ipairs(KEYS) do
  local due = redis.call('ZRANGEBYSCORE', dk, '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, limit)
  if #due >= 2 * limit then out[1] = 1 end
  local base = ARGV[4] .. string.sub(dk, -3, -2) .. '}:'
  for n = 1, #due, 2 do
    local t, score = due[n], due[n + 1]
    local key = base .. t
    redis.call('ZREM', dk, t)
    local f = redis.call('HMGET', key, 'a', 'u', 'v')
    if f[3] then
      redis.call('DEL', key)
      out[#out + 1] = t
      out[#out + 1] = score
      out[#out + 1] = f[1]
      out[#out + 1] = f[2]
    end
  end
end
return out`);

/** The live sessions of one bucket (KEYS[1] its deadline index). ARGV: now, '', '', session key prefix. Reply: flat {token, deadline, d, c, a, i, v, u}. */
export const LIST_BUCKET = script('list-bucket', `
local live = redis.call('ZRANGEBYSCORE', k, '(' .. ARGV[1], '+inf', 'WITHSCORES')
local out = {}
for n = 1, #live, 2 do
  local f = redis.call('HMGET', ARGV[4] .. live[n], 'd', 'c', 'a', 'i', 'v', 'u')
  if f[5] then
    out[#out + 1] = live[n]
    out[#out + 1] = live[n + 1]
    for j = 1, 6 do out[#out + 1] = f[j] end
  end
end
return out`);

/** The fields a read of a hashed key takes with HMGET, in this order (the deadline `e` last). */
export const READ_FIELDS = ['d', 'c', 'a', 'i', 'v', 'u', 'e'] as const;

export const SCRIPTS = [READ, PUT, CAS, TOUCH, REMOVE, INDEX_ADD, INDEX_LIST, SWEEP, LIST_BUCKET] as const;
