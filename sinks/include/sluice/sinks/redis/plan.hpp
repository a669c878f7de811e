#pragma once
// The Redis cache's pure steps: a batch of change events → what to read from Redis → the
// transaction that writes what is newer. No sockets; unit-tested (tests/unit/sinks_redis_plan.cpp).
#include <cstddef>
#include <expected>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/schemas/position.hpp"
#include "sluice/schemas/row.hpp"
#include "sluice/schemas/value.hpp"
#include "sluice/sinks/redis/resp.hpp"
#include "sluice/sinks/sink_kind.hpp"

namespace sluice::sinks::redis {

enum class row_format { hash, json };

/// How rows become Redis values (the `redis` block of a pipeline file, minus the connection).
struct cache_options {
  std::string key_template;  // "order:{id}", "line:{order_id}:{n}"
  row_format format = row_format::hash;
  std::vector<std::string> include_columns;  // empty: all
  std::vector<std::string> exclude_columns;
  std::optional<int> ttl_seconds;
};

/// A parsed key template. Columns come from the record key (the primary key), so deletes and
/// tombstones, which carry only the key, map to the same Redis key as the row.
class key_template {
 public:
  /// Errors say what is wrong with the template ("has a '{' without a matching '}'").
  [[nodiscard]] static std::expected<key_template, std::string> parse(std::string_view text);
  /// The Redis key of a row, or why there is none (a column missing from the key, or null).
  [[nodiscard]] std::expected<std::string, std::string> render(const schemas::row& key) const;
  [[nodiscard]] const std::vector<std::string>& columns() const { return columns_; }
  [[nodiscard]] const std::string& text() const { return text_; }

 private:
  std::string text_;
  std::vector<std::string> literals_;  // literals_[i] comes before columns_[i]; one extra at end
  std::vector<std::string> columns_;
};

/// A column value as a hash field: strings as they are, booleans "true"/"false", numbers as
/// in the event (JSON), embedded JSON (json, jsonb, arrays) compact. nullopt for NULL: the
/// field is left out of the hash.
[[nodiscard]] std::optional<std::string> field_text(const schemas::value& v);

/// A position as 24 hex digits (16 for the commit LSN, 8 for seq): string order is position
/// order, which is what the Lua scripts compare.
[[nodiscard]] std::string encode_position(schemas::position p);

/// One event as the cache applies it.
struct cache_op {
  enum class kind : char { upsert, remove, tombstone };
  kind what = kind::upsert;
  std::size_t event = 0;  // index in the batch
  std::string key;        // the Redis key
  std::string position;   // encode_position; a tombstone's is its delete's, or empty
  std::string table_id;
  std::vector<std::string> kept;  // unchanged (TOAST) columns the cache keeps; json: as escaped
};

/// A batch, planned: what to read from Redis before deciding, and the events as operations.
struct batch_plan {
  std::vector<cache_op> ops;
  std::map<std::string, std::string> truncates;  // table id → newest truncate position in batch
  std::vector<std::string> table_ids;            // every table of the batch (floors are read)
  std::vector<std::string> partitions;           // "topic/partition" of every record (fences)
};

/// The sink's short id for a table ("schema.table"), nullopt for a table it does not cache.
using table_id_lookup = std::function<std::optional<std::string>(const table_ref&)>;

/// Pure: renders keys and positions. An event that cannot be cached (a key column missing or
/// null, a table the sink does not cache) is reported as bad_event with its index.
[[nodiscard]] std::expected<batch_plan, bad_event> plan_batch(std::span<const sink_event> events,
                                                              const cache_options& options,
                                                              const key_template& key,
                                                              const table_id_lookup& table_id);

/// What Redis held when the batch was read: one pipelined round trip under WATCH (read_request).
struct stored_state {
  bool paused = false;                              // replay is switching databases
  std::vector<std::optional<std::string>> entries;  // per op: its key's entry in the rows hash
  std::map<std::string, std::string> floors;        // table id → truncate floor ("" for none)
  /// Per op that keeps unchanged columns, json format: the stored document (nullopt for the
  /// others, and when the row is gone).
  std::vector<std::optional<std::string>> rows;
  /// Per op that keeps unchanged columns, hash format: the stored hash's field names (empty for
  /// the others, and when the row is gone). A field of no column of the event (the column was
  /// dropped, or is excluded now) is removed by name, since such an update does not rewrite
  /// the row whole.
  std::vector<std::vector<std::string>> fields;
};

/// WATCH the keys whose change must abort the batch, then read what decide() needs.
/// Replies: WATCH, GET pause, HMGET rows (if ops), HMGET floors (if tables), then one GET
/// (json) or HKEYS (hash) per op that needs_stored_row().
[[nodiscard]] request read_request(const batch_plan& plan, const cache_options& options);
[[nodiscard]] bool needs_stored_row(const cache_op& op);

/// The batch's transaction (MULTI … EXEC) and what it does.
struct batch_writes {
  request transaction;
  std::size_t written = 0;      // events that changed the cache
  std::size_t skipped = 0;      // events not newer than what it holds
  std::size_t left_absent = 0;  // of `written`: updates whose kept columns expired with the row
  std::vector<std::string> raised_floors;  // table ids: sweep their older rows afterwards
};

/// Pure: compares each event's position with its key's entry, and writes the ones that are
/// newer, their entries, the raised floors, the partitions' fences and `offsets`, in one
/// transaction. A key that holds another table's row is a bad_event (nothing is written);
/// `table_name` names the other table in its message.
[[nodiscard]] std::expected<batch_writes, bad_event> decide(
    std::span<const sink_event> events, const batch_plan& plan, const stored_state& stored,
    const cache_options& options, const std::vector<partition_offset>& offsets,
    const std::function<std::string(const std::string& table_id)>& table_name);

/// Pure: the transaction that puts back the bookkeeping a batch's transaction wrote, after
/// a command in it failed while the others took effect (Redis does not roll back): every key's
/// entry and the raised floors as `stored` had them, and each partition's offset at the batch's
/// first record, with the partitions' fences bumped. The rows the batch did write stay; they
/// are older or equal to what a retry writes, so applying the batch again converges, and the
/// event that failed is neither skipped by its position nor passed by the offsets.
[[nodiscard]] request undo_request(std::span<const sink_event> events, const batch_plan& plan,
                                   const stored_state& stored, const batch_writes& writes);

/// The raw text of each top-level member of a JSON object, by name as escaped in the document.
/// Used to keep unchanged columns of a stored JSON row.
[[nodiscard]] std::vector<std::pair<std::string_view, std::string_view>> json_members(
    std::string_view object);

}  // namespace sluice::sinks::redis
