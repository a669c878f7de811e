#pragma once
#include <compare>
#include <expected>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace sluice::config {

/// A captured table, always schema-qualified. Both parts are folded to lower case, as Postgres
/// folds unquoted identifiers, so "Public.Orders" and "public.orders" name the same table.
struct table_name {
  std::string schema;
  std::string table;

  auto operator<=>(const table_name&) const = default;
  /// "schema.table".
  [[nodiscard]] std::string to_string() const;
  /// Parses "schema.table"; each part matches [A-Za-z_][A-Za-z0-9_$]* and has at most 63
  /// characters (Postgres NAMEDATALEN). Quoted identifiers are not supported. The error
  /// explains what is wrong without quoting the input.
  [[nodiscard]] static std::expected<table_name, std::string> parse(std::string_view text);
};

enum class snapshot_mode { initial, never };

/// `source.postgres`: where changes come from.
struct postgres_source {
  std::string dsn;  // libpq URI or key=value conninfo; holds secrets, print through redact()
  std::string slot;
  std::string publication;
  std::vector<table_name> tables;  // non-empty, no duplicates
  snapshot_mode snapshot = snapshot_mode::initial;
  int snapshot_parallelism = 4;    // >= 1
  int heartbeat_seconds = 0;       // 0 = off
  bool alter_publication = false;  // may capture add missing tables to an existing publication
};

/// `transport.kafka`: one topic per table, named by topic_for().
struct kafka_transport {
  std::string brokers;  // "host:port[,host:port...]"
  std::string topic_prefix;
  int partitions = 1;
  int replication_factor = 1;
  std::map<std::string, std::string> producer;  // extra librdkafka properties, passed as given
};

enum class redis_format { hash, json };

struct redis_sink {
  std::string url;  // redis://, rediss:// or unix://; holds secrets, print through redact()
  std::vector<table_name> tables;
  std::string key;  // template such as "order:{id}"; references at least one column
  redis_format format = redis_format::hash;
  std::vector<std::string> include_columns;  // at most one of include/exclude is non-empty
  std::vector<std::string> exclude_columns;
  std::optional<int> ttl_seconds;
};

enum class search_engine { opensearch, sqlite };

struct search_sink {
  search_engine engine = search_engine::opensearch;
  std::string url;   // opensearch only; holds secrets, print through redact()
  std::string path;  // sqlite only: the database file
  std::string index;
  std::vector<table_name> tables;
};

struct view_column {
  std::string name;
  std::string expression;  // SQL aggregate such as "sum(amount)", passed to Postgres as written
};

/// A materialized aggregate of one source table, kept in a Postgres table named after the sink.
struct view_sink {
  std::string dsn;  // holds secrets, print through redact()
  table_name from;
  std::optional<std::string> where;   // SQL condition on the source row
  std::vector<std::string> group_by;  // non-empty
  std::vector<view_column> columns;   // non-empty, in file order
};

/// What a sink worker does with an event it cannot apply.
enum class error_policy { stop, dead_letter };

struct sink {
  std::string name;  // also the Kafka consumer group suffix
  std::variant<redis_sink, search_sink, view_sink> kind;
  error_policy on_error = error_policy::stop;
  int workers = 1;  // workers a `sluice sink` process runs (--workers overrides)
};

/// The most workers one `sluice sink` process may run; beyond the cores they only contend.
inline constexpr int max_sink_workers = 64;

/// One pipeline file, loaded and validated by load_pipeline() (loader.hpp).
struct pipeline {
  std::string name;
  std::string file;  // the path it was loaded from, for messages
  postgres_source source;
  kafka_transport transport;
  std::vector<sink> sinks;  // in file order
};

/// The topic that carries a table's changes: "<prefix>.<schema>.<table>".
[[nodiscard]] std::string topic_for(const kafka_transport& transport, const table_name& table);

/// "redis", "search" or "view".
[[nodiscard]] std::string_view kind_name(const sink& s);

/// The source tables a sink consumes (its `tables`, or a view's `from`).
[[nodiscard]] std::vector<table_name> tables_of(const sink& s);

/// A few lines for `sluice validate`: what the pipeline reads, where it writes. Every DSN and
/// URL is passed through redact(), so the output is safe to paste into a ticket.
[[nodiscard]] std::string summary(const pipeline& p);

}  // namespace sluice::config
