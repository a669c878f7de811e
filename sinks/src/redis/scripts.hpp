#pragma once
// The Lua scripts of the Redis cache: the steps that must be atomic and read before they
// write (claiming a database, a truncate's sweep, replay's switch). A batch itself is a
// MULTI/EXEC transaction under WATCH (plan.cpp). The keys are listed in layout.hpp.

namespace sluice::sinks::redis::scripts {

/// One step of a truncate's sweep: removes the rows of one table older than its truncate
/// position among the next ARGV[2] entries of the rows hash. KEYS: rows, floors, sweeps.
/// ARGV: table id, count. Returns the next cursor ('0' when the sweep is complete; 'done' when
/// there was none to do) and the number of rows removed. The cursor lives apart from the
/// floor so that sweeping does not abort the batches that WATCH the floors.
inline constexpr const char* sweep_step = R"lua(
local floor = redis.call('HGET', KEYS[2], ARGV[1])
local cursor = redis.call('HGET', KEYS[3], ARGV[1])
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
  redis.call('HDEL', KEYS[3], ARGV[1])
else
  redis.call('HSET', KEYS[3], ARGV[1], r[1])
end
return {r[1], #gone}
)lua";

/// Claims the selected database for a sink that stores rows as ARGV[2] ('hash' or 'json').
/// KEYS: owner, format. ARGV: identity, format. Returns 'ok', 'owned' (and the owner),
/// 'foreign' (and the number of keys) or 'format' (and the format of the rows it holds).
inline constexpr const char* claim = R"lua(
local o = redis.call('GET', KEYS[1])
if o and o ~= ARGV[1] then return {'owned', o} end
if not o then
  local n = redis.call('DBSIZE')
  if n > 0 then return {'foreign', tostring(n)} end
  redis.call('SET', KEYS[1], ARGV[1])
end
local f = redis.call('GET', KEYS[2])
if f and f ~= ARGV[2] then return {'format', f} end
redis.call('SET', KEYS[2], ARGV[2])
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
