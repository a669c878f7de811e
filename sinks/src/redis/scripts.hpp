#pragma once
// The Lua scripts the Redis cache runs. Each runs atomically in Redis (EVALSHA), so a key's
// stored position and its write change together. Layout of the sink's own keys, all in the
// sink's database:
//   __sluice:owner               "<pipeline>/<sink>": the database belongs to this sink
//   __sluice:shadow              present while replay builds this database as a shadow copy
//   __sluice:tables              hash "schema.table" → short table id
//   __sluice:rows                hash Redis key → position (24 hex) + 'l' live | 'd' deleted
//                                + table id
//   __sluice:offsets             hash "topic/partition" → next offset applied
//   __sluice:truncate:<id>       hash floor → truncate position, cursor → sweep in progress
//   __sluice:pause               set by replay while it switches databases

namespace sluice::sinks::redis::scripts {

inline constexpr const char* rows_key = "__sluice:rows";
inline constexpr const char* offsets_key = "__sluice:offsets";
inline constexpr const char* pause_key = "__sluice:pause";
inline constexpr const char* owner_key = "__sluice:owner";
inline constexpr const char* shadow_key = "__sluice:shadow";
inline constexpr const char* tables_key = "__sluice:tables";
inline constexpr const char* truncate_prefix = "__sluice:truncate:";

/// KEYS: rows, offsets, pause. ARGV (built by plan_batch):
///   format ('h'|'j'), ttl (0: none),
///   truncate count, [table id, truncate position]...,
///   operation count, operations...:
///     U key position table nfields [field value]... nkeep [field]...   hash row
///     J key position table json nkeep [member]...                      json row
///     D key position table                                             delete
///     X key table position-or-empty                                    tombstone
///   offset count, ["topic/partition" next-offset]...
/// Returns {'ok', written, skipped}, {'paused'}, or {'collision', operation, table id} (then
/// nothing was written).
inline constexpr const char* apply_batch = R"lua(
local rows, offsets_key, pause = KEYS[1], KEYS[2], KEYS[3]
if redis.call('EXISTS', pause) == 1 then return {'paused'} end
local A = ARGV
local ttl = tonumber(A[2])
local CHUNK = 1000

local function json_members(s)
  local out = {}
  local n = #s
  local i = 2
  while i <= n do
    local q = string.find(s, '"', i, true)
    if not q then break end
    local j = q + 1
    while true do
      local e = string.find(s, '["\\]', j)
      if not e then return out end
      if string.sub(s, e, e) == '\\' then j = e + 2 else j = e; break end
    end
    local name = string.sub(s, q + 1, j - 1)
    local colon = string.find(s, ':', j + 1, true)
    if not colon then return out end
    local start = colon + 1
    local k = start
    local depth = 0
    while k <= n do
      local e = string.find(s, '[",{}%[%]]', k)
      if not e then k = n + 1; break end
      local ch = string.sub(s, e, e)
      if ch == '"' then
        local m = e + 1
        while true do
          local f = string.find(s, '["\\]', m)
          if not f then return out end
          if string.sub(s, f, f) == '\\' then m = f + 2 else m = f; break end
        end
        k = m + 1
      elseif ch == '{' or ch == '[' then
        depth = depth + 1; k = e + 1
      elseif ch == '}' or ch == ']' then
        if depth == 0 then k = e; break end
        depth = depth - 1; k = e + 1
      else
        if depth == 0 then k = e; break end
        k = e + 1
      end
    end
    out[name] = string.sub(s, start, k - 1)
    i = k + 1
  end
  return out
end

local i = 3
local truncating = {}
local nt = tonumber(A[i]); i = i + 1
for t = 1, nt do truncating[A[i]] = A[i + 1]; i = i + 2 end

local floors = {}
local function floor_of(tid)
  local f = floors[tid]
  if f == nil then
    f = redis.call('HGET', '__sluice:truncate:' .. tid, 'floor') or ''
    floors[tid] = f
  end
  return f
end

local nops = tonumber(A[i]); i = i + 1
local starts, keys = {}, {}
for n = 1, nops do
  starts[n] = i
  local code = A[i]
  keys[n] = A[i + 1]
  if code == 'U' then
    local j = i + 5 + 2 * tonumber(A[i + 4])
    i = j + 1 + tonumber(A[j])
  elseif code == 'J' then
    i = i + 6 + tonumber(A[i + 5])
  else
    i = i + 4
  end
end

local cur = {}
for s = 1, nops, CHUNK do
  local e = math.min(s + CHUNK - 1, nops)
  local vals = redis.call('HMGET', rows, unpack(keys, s, e))
  for n = s, e do
    if cur[keys[n]] == nil then cur[keys[n]] = vals[n - s + 1] end
  end
end

-- A key belongs to one table: two tables whose rows map to the same key would overwrite each
-- other, so that is refused before anything is written.
local owner = {}
for n = 1, nops do
  local s = starts[n]
  local tid = (A[s] == 'X') and A[s + 2] or A[s + 3]
  local key = keys[n]
  local o = owner[key]
  if o == nil then
    local c = cur[key]
    if c then o = string.sub(c, 26) else o = tid end
    owner[key] = o
  end
  if o ~= tid then return {'collision', n, o} end
end

for tid, f in pairs(truncating) do
  if f > floor_of(tid) then
    redis.call('HSET', '__sluice:truncate:' .. tid, 'floor', f, 'cursor', '0')
    floors[tid] = f
  end
end

local function live(c) return c and string.sub(c, 25, 25) == 'l' end
local dirty = {}
local written, skipped = 0, 0
for n = 1, nops do
  local s = starts[n]
  local code, key = A[s], keys[n]
  local c = cur[key]
  if code == 'X' then
    local tid, pos = A[s + 2], A[s + 3]
    if pos == '' then
      if c and not live(c) then
        skipped = skipped + 1
      else
        redis.call('DEL', key)
        cur[key] = false
        dirty[key] = false
        written = written + 1
      end
    elseif pos < floor_of(tid) or (c and string.sub(c, 1, 24) >= pos) then
      skipped = skipped + 1
    else
      redis.call('DEL', key)
      local v = pos .. 'd' .. tid
      cur[key] = v
      dirty[key] = v
      written = written + 1
    end
  else
    local pos, tid = A[s + 2], A[s + 3]
    if pos < floor_of(tid) or (c and string.sub(c, 1, 24) >= pos) then
      skipped = skipped + 1
    else
      local v = pos .. 'l' .. tid
      if code == 'D' then
        redis.call('DEL', key)
        v = pos .. 'd' .. tid
      elseif code == 'U' then
        local nf = tonumber(A[s + 4])
        local f0 = s + 5
        local j = f0 + 2 * nf
        local nk = tonumber(A[j])
        if nk == 0 then
          if nf == 0 then
            redis.call('DEL', key)
          else
            redis.call('HSET', key, unpack(A, f0, j - 1))
            if live(c) and redis.call('HLEN', key) ~= nf then
              redis.call('DEL', key)
              redis.call('HSET', key, unpack(A, f0, j - 1))
            end
          end
        else
          if nf > 0 then redis.call('HSET', key, unpack(A, f0, j - 1)) end
          local keep = {}
          for x = f0, j - 1, 2 do keep[A[x]] = true end
          for x = j + 1, j + nk do keep[A[x]] = true end
          local gone = {}
          for _, f in ipairs(redis.call('HKEYS', key)) do
            if not keep[f] then gone[#gone + 1] = f end
          end
          if #gone > 0 then redis.call('HDEL', key, unpack(gone)) end
        end
        if ttl > 0 then redis.call('EXPIRE', key, ttl) end
      else
        local doc = A[s + 4]
        local nk = tonumber(A[s + 5])
        if nk > 0 then
          local old = redis.call('GET', key)
          if old then
            local members = json_members(old)
            local extra = {}
            for x = s + 6, s + 5 + nk do
              local raw = members[A[x]]
              if raw then extra[#extra + 1] = '"' .. A[x] .. '":' .. raw end
            end
            if #extra > 0 then
              if doc == '{}' then
                doc = '{' .. table.concat(extra, ',') .. '}'
              else
                doc = string.sub(doc, 1, -2) .. ',' .. table.concat(extra, ',') .. '}'
              end
            end
          end
        end
        if ttl > 0 then
          redis.call('SET', key, doc, 'EX', ttl)
        else
          redis.call('SET', key, doc)
        end
      end
      cur[key] = v
      dirty[key] = v
      written = written + 1
    end
  end
end

local hset, hdel = {}, {}
for k, v in pairs(dirty) do
  if v then
    hset[#hset + 1] = k
    hset[#hset + 1] = v
  else
    hdel[#hdel + 1] = k
  end
end
for s = 1, #hset, 2 * CHUNK do
  redis.call('HSET', rows, unpack(hset, s, math.min(s + 2 * CHUNK - 1, #hset)))
end
for s = 1, #hdel, CHUNK do
  redis.call('HDEL', rows, unpack(hdel, s, math.min(s + CHUNK - 1, #hdel)))
end

local no = tonumber(A[i]); i = i + 1
for x = 1, no do
  local f, o = A[i], A[i + 1]
  i = i + 2
  local old = redis.call('HGET', offsets_key, f)
  if not old or tonumber(old) < tonumber(o) then redis.call('HSET', offsets_key, f, o) end
end
return {'ok', written, skipped}
)lua";

/// One step of a truncate's sweep: removes the rows of one table older than its truncate
/// position among the next ARGV[2] entries of the rows hash. KEYS: rows, truncate state.
/// ARGV: table id, count. Returns the next cursor ('0' when the sweep is complete; 'done' when
/// there was none to do) and the number of rows removed.
inline constexpr const char* sweep_step = R"lua(
local floor = redis.call('HGET', KEYS[2], 'floor')
local cursor = redis.call('HGET', KEYS[2], 'cursor')
if not floor or not cursor then return {'done', 0} end
local r = redis.call('HSCAN', KEYS[1], cursor, 'COUNT', ARGV[2])
local items = r[2]
local gone = {}
for x = 1, #items, 2 do
  local v = items[x + 1]
  if string.sub(v, 26) == ARGV[1] and string.sub(v, 1, 24) < floor then
    redis.call('DEL', items[x])
    gone[#gone + 1] = items[x]
  end
end
if #gone > 0 then redis.call('HDEL', KEYS[1], unpack(gone)) end
if r[1] == '0' then
  redis.call('HDEL', KEYS[2], 'cursor')
else
  redis.call('HSET', KEYS[2], 'cursor', r[1])
end
return {r[1], #gone}
)lua";

/// Claims the selected database for a sink. KEYS: owner. ARGV: identity.
/// Returns 'ok', 'owned' (and the owner), or 'foreign' (and the number of keys).
inline constexpr const char* claim = R"lua(
local o = redis.call('GET', KEYS[1])
if o then
  if o == ARGV[1] then return {'ok'} end
  return {'owned', o}
end
local n = redis.call('DBSIZE')
if n > 0 then return {'foreign', tostring(n)} end
redis.call('SET', KEYS[1], ARGV[1])
return {'ok'}
)lua";

/// Short ids for tables, stable for the life of the database. KEYS: tables. ARGV: names.
inline constexpr const char* register_tables = R"lua(
local ids = {}
for x = 1, #ARGV do
  local id = redis.call('HGET', KEYS[1], ARGV[x])
  if not id then
    id = tostring(redis.call('HLEN', KEYS[1]) + 1)
    redis.call('HSET', KEYS[1], ARGV[x], id)
  end
  ids[x] = id
end
return ids
)lua";

/// Replay's switch, atomic: if the shadow database has applied at least as far as the live
/// one on every partition, swap them and empty the old copy. ARGV: live db, shadow db.
/// Returns {'swapped'} or {'behind', partition, live offset, shadow offset}.
inline constexpr const char* swap = R"lua(
local live, shadow = ARGV[1], ARGV[2]
redis.call('SELECT', live)
local lo = redis.call('HGETALL', '__sluice:offsets')
redis.call('SELECT', shadow)
for x = 1, #lo, 2 do
  local s = redis.call('HGET', '__sluice:offsets', lo[x])
  if not s or tonumber(s) < tonumber(lo[x + 1]) then
    return {'behind', lo[x], lo[x + 1], s or '0'}
  end
end
redis.call('DEL', '__sluice:shadow')
redis.call('SWAPDB', live, shadow)
redis.call('SELECT', shadow)
redis.call('FLUSHDB', 'ASYNC')
return {'swapped'}
)lua";

/// Claims database ARGV[1] as the shadow copy of sink ARGV[2]. A shadow of this same sink left
/// by an interrupted replay is emptied and reused. Returns {'ok'}, {'owned', owner} or
/// {'foreign', keys}.
inline constexpr const char* claim_shadow = R"lua(
redis.call('SELECT', ARGV[1])
local o = redis.call('GET', '__sluice:owner')
if o == ARGV[2] and redis.call('EXISTS', '__sluice:shadow') == 1 then
  redis.call('FLUSHDB', 'ASYNC')
  o = false
end
if o then return {'owned', o} end
local n = redis.call('DBSIZE')
if n > 0 then return {'foreign', tostring(n)} end
redis.call('SET', '__sluice:owner', ARGV[2])
redis.call('SET', '__sluice:shadow', '1')
return {'ok'}
)lua";

/// Small reads and writes on another database than the connection's. ARGV[1]: database.
inline constexpr const char* flush_database = R"lua(
redis.call('SELECT', ARGV[1])
redis.call('FLUSHDB', 'ASYNC')
return 'OK'
)lua";
inline constexpr const char* read_offsets = R"lua(
redis.call('SELECT', ARGV[1])
return redis.call('HGETALL', '__sluice:offsets')
)lua";
inline constexpr const char* count_keys = R"lua(
redis.call('SELECT', ARGV[1])
return redis.call('DBSIZE')
)lua";

}  // namespace sluice::sinks::redis::scripts
