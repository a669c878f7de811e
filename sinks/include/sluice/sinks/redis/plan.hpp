#pragma once
// The Redis cache's pure step: change events → the arguments of one batch script run.
// No sockets; unit-tested on fixtures (tests/unit/sinks_redis_plan.cpp).
#include <cstddef>
#include <expected>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/schemas/position.hpp"
#include "sluice/schemas/row.hpp"
#include "sluice/schemas/value.hpp"
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

/// Arguments of one run of the batch script (ARGV; the layout is documented in scripts.cpp).
struct batch_plan {
  std::vector<std::string> args;
  std::size_t operations = 0;
  std::vector<std::size_t> event_of_operation;   // operation index → event index in the batch
  std::vector<std::string> truncated_table_ids;  // the shell finishes their sweeps afterwards
};

/// The sink's short id for a table ("schema.table"), nullopt for a table it does not cache.
using table_id_lookup = std::function<std::optional<std::string>(const table_ref&)>;

/// Pure: builds the batch script's arguments. An event that cannot be cached (a key column
/// missing or null, a table the sink does not cache) is reported as bad_event with its index.
[[nodiscard]] std::expected<batch_plan, bad_event> plan_batch(
    std::span<const sink_event> events, const cache_options& options, const key_template& key,
    const table_id_lookup& table_id, const std::vector<partition_offset>& offsets);

}  // namespace sluice::sinks::redis
