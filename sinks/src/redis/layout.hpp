#pragma once
// The Redis cache's own keys, all in the sink's database (docs/sinks.md, "Redis databases"):
//   __sluice:owner               "<pipeline>/<sink>": the database belongs to this sink
//   __sluice:format              "hash" or "json": how the rows are stored
//   __sluice:shadow              present while replay builds this database as a shadow copy
//   __sluice:tables              hash "schema.table" → short table id
//   __sluice:rows                hash Redis key → entry: position (24 hex) + 'l' live or 'd'
//                                deleted + table id
//   __sluice:offsets             hash "topic/partition" → next offset applied
//   __sluice:floors              hash table id → position of the table's newest truncate
//   __sluice:sweeps              hash table id → cursor of a truncate's sweep in progress
//   __sluice:fence:<topic/part>  bumped by every batch of that partition (see plan.cpp)
//   __sluice:pause               set by replay while it switches databases
#include <string_view>

namespace sluice::sinks::redis::layout {

inline constexpr std::string_view owner_key = "__sluice:owner";
inline constexpr std::string_view format_key = "__sluice:format";
inline constexpr std::string_view shadow_key = "__sluice:shadow";
inline constexpr std::string_view tables_key = "__sluice:tables";
inline constexpr std::string_view rows_key = "__sluice:rows";
inline constexpr std::string_view offsets_key = "__sluice:offsets";
inline constexpr std::string_view floors_key = "__sluice:floors";
inline constexpr std::string_view sweeps_key = "__sluice:sweeps";
inline constexpr std::string_view fence_prefix = "__sluice:fence:";
inline constexpr std::string_view pause_key = "__sluice:pause";

/// An entry of the rows hash: position, state, table id.
inline constexpr std::size_t position_size = 24;
inline constexpr std::size_t state_at = 24;
inline constexpr std::size_t table_id_at = 25;

}  // namespace sluice::sinks::redis::layout
