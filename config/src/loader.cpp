#include "sluice/config/loader.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "yaml_reader.hpp"

namespace sluice::config {
namespace {

using detail::field;
using detail::key_list;
using detail::map_node;
using detail::quote;
using detail::yaml_reader;

constexpr std::string_view top_keys[] = {"pipeline", "source", "transport", "sinks"};
constexpr std::string_view source_keys[] = {"postgres"};
constexpr std::string_view postgres_keys[] = {"dsn",
                                              "slot",
                                              "publication",
                                              "tables",
                                              "snapshot",
                                              "snapshot_parallelism",
                                              "heartbeat_seconds",
                                              "alter_publication"};
constexpr std::string_view transport_keys[] = {"kafka"};
constexpr std::string_view kafka_keys[] = {"brokers", "topic_prefix", "partitions",
                                           "replication_factor", "producer"};
constexpr std::string_view sink_keys[] = {"redis", "search", "view", "on_error", "workers"};
constexpr std::string_view sink_kinds[] = {"redis", "search", "view"};
constexpr std::string_view redis_keys[] = {"url",     "tables",  "key", "format",
                                           "include", "exclude", "ttl"};
constexpr std::string_view search_keys[] = {"engine", "url", "path", "index", "tables"};
constexpr std::string_view view_keys[] = {"dsn", "from", "where", "group_by", "columns"};

constexpr std::pair<std::string_view, snapshot_mode> snapshot_modes[] = {
    {"initial", snapshot_mode::initial}, {"never", snapshot_mode::never}};
constexpr std::pair<std::string_view, redis_format> redis_formats[] = {
    {"hash", redis_format::hash}, {"json", redis_format::json}};
constexpr std::pair<std::string_view, search_engine> search_engines[] = {
    {"opensearch", search_engine::opensearch}, {"sqlite", search_engine::sqlite}};
constexpr std::pair<std::string_view, error_policy> error_policies[] = {
    {"stop", error_policy::stop}, {"dead_letter", error_policy::dead_letter}};

// Kafka's topic-name rule (kafka.common.internals.Topic): [a-zA-Z0-9._-], at most 249.
constexpr std::size_t max_topic_length = 249;

bool all_of_chars(std::string_view text, std::string_view extra, bool upper) {
  return std::ranges::all_of(text, [&](char c) {
    return (c >= 'a' && c <= 'z') || (upper && c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           extra.find(c) != std::string_view::npos;
  });
}

// Topic names, and pipeline and sink names, which end up in consumer group ids, metric labels
// and file names, keep to the characters Kafka allows.
bool is_kafka_name(std::string_view text) {
  return all_of_chars(text, "._-", true);
}

// Replication slot names may only hold lower-case letters, digits and '_' (Postgres
// ReplicationSlotValidateName); publications follow the same rule so both read alike.
bool is_slot_name(std::string_view text) {
  return text.size() <= 63 && all_of_chars(text, "_", false);
}

// Column names are matched exactly against the field names of change events.
bool is_column_name(std::string_view text) {
  return !text.empty() && !(text[0] >= '0' && text[0] <= '9') && text[0] != '$' &&
         all_of_chars(text, "_$", true);
}

bool has_scheme(std::string_view url, std::initializer_list<std::string_view> schemes) {
  return std::ranges::any_of(schemes, [&](std::string_view s) { return url.starts_with(s); });
}

// Why a Redis key template is unusable, if it is.
std::optional<std::string> key_template_problem(std::string_view key) {
  int columns = 0;
  for (std::size_t i = 0; i < key.size(); ++i) {
    if (key[i] == '}') return "has a '}' without a matching '{'";
    if (key[i] != '{') continue;
    auto close = key.find('}', i);
    if (close == std::string_view::npos) return "has a '{' without a matching '}'";
    std::string_view column = key.substr(i + 1, close - i - 1);
    if (!is_column_name(column)) return "has '{" + std::string(column) + "}', not a column name";
    ++columns;
    i = close;
  }
  if (columns == 0) return "must reference at least one column, like 'order:{id}'";
  return std::nullopt;
}

struct located_table {
  table_name name;
  YAML::Mark mark;
};

std::string join(const std::vector<located_table>& tables) {
  std::string out;
  for (const auto& t : tables) out += (out.empty() ? "" : ", ") + t.name.to_string();
  return out;
}

std::vector<table_name> names_of(const std::vector<located_table>& tables) {
  std::vector<table_name> names;
  for (const auto& t : tables) names.push_back(t.name);
  return names;
}

// The pipeline schema on top of the generic reader. Reads the source first whatever the order
// in the file, because transport and sinks are checked against the source tables.
class pipeline_reader {
 public:
  explicit pipeline_reader(yaml_reader& reader) : r_(reader) {}

  pipeline read(const YAML::Node& root) {
    if (root.IsNull()) {
      r_.report(root.Mark(), "the pipeline file is empty");
      return {};
    }
    auto top = r_.map(root, root.Mark(), "the pipeline file", "", top_keys);
    if (!top) return {};
    pipeline p;
    p.name = read_name(*top);
    p.source = read_source(*top);
    p.transport = read_transport(*top);
    p.sinks = read_sinks(*top);
    return p;
  }

 private:
  std::string read_name(const map_node& top) {
    auto name = r_.required_text(top, "pipeline");
    if (name && !is_kafka_name(*name)) {
      r_.report(
          top.find("pipeline")->mark(),
          "pipeline name may only contain letters, digits, '.', '_' and '-'; got " + quote(*name));
    }
    return name.value_or("");
  }

  // The map under a required key, e.g. `postgres` under `source`.
  std::optional<map_node> required_map(const map_node& parent, std::string_view key,
                                       key_list allowed) {
    const field* f = r_.require(parent, key);
    if (f == nullptr) return std::nullopt;
    return r_.map(*f, parent, allowed);
  }

  postgres_source read_source(const map_node& top) {
    auto source = required_map(top, "source", source_keys);
    auto m = source ? required_map(*source, "postgres", postgres_keys) : std::nullopt;
    if (!m) return {};
    postgres_source s;
    s.dsn = r_.required_text(*m, "dsn").value_or("");
    s.slot = read_slot_name(*m, "slot");
    s.publication = read_slot_name(*m, "publication");
    if (const field* f = r_.require(*m, "tables")) {
      std::size_t errors_before = r_.error_count();
      source_tables_ = read_tables(*f);
      source_tables_known_ = r_.error_count() == errors_before;
      s.tables = names_of(source_tables_);
    }
    s.snapshot =
        r_.choice_or<snapshot_mode>(*m, "snapshot", snapshot_mode::initial, snapshot_modes);
    s.snapshot_parallelism = r_.integer_or(*m, "snapshot_parallelism", 4, 1);
    s.heartbeat_seconds = r_.integer_or(*m, "heartbeat_seconds", 0, 0);
    s.alter_publication = r_.boolean_or(*m, "alter_publication", false);
    return s;
  }

  std::string read_slot_name(const map_node& m, std::string_view key) {
    auto name = r_.required_text(m, key);
    if (name && !is_slot_name(*name)) {
      r_.report(m.find(key)->mark(),
                std::string(key) +
                    " may only contain lower-case letters, digits and _ (at most 63); got " +
                    quote(*name));
    }
    return name.value_or("");
  }

  kafka_transport read_transport(const map_node& top) {
    auto transport = required_map(top, "transport", transport_keys);
    auto m = transport ? required_map(*transport, "kafka", kafka_keys) : std::nullopt;
    if (!m) return {};
    kafka_transport t;
    t.brokers = r_.required_text(*m, "brokers").value_or("");
    if (auto prefix = r_.required_text(*m, "topic_prefix")) {
      if (is_kafka_name(*prefix)) {
        t.topic_prefix = *prefix;
        check_topics(t);
      } else {
        r_.report(m->find("topic_prefix")->mark(),
                  "topic_prefix may only contain letters, digits, '.', '_' and '-' (Kafka topic "
                  "names); got " +
                      quote(*prefix));
      }
    }
    t.partitions = r_.integer_or(*m, "partitions", 1, 1);
    t.replication_factor = r_.integer_or(*m, "replication_factor", 1, 1);
    if (const field* f = m->find("producer")) {
      if (auto producer = r_.map(*f, *m, detail::any_key)) {
        for (const auto& property : producer->fields) {
          if (auto value = r_.text(property)) t.producer[property.label] = *value;
        }
      }
    }
    return t;
  }

  // Table names may hold '$', which Kafka topic names may not.
  void check_topics(const kafka_transport& t) {
    for (const auto& [name, mark] : source_tables_) {
      std::string topic = topic_for(t, name);
      if (!is_kafka_name(topic) || topic.size() > max_topic_length) {
        r_.report(mark, "table " + name.to_string() + " cannot be captured: its topic '" + topic +
                            "' is not a valid Kafka topic name (letters, digits, '.', '_' and "
                            "'-', at most 249)");
      }
    }
  }

  std::vector<sink> read_sinks(const map_node& top) {
    const field* f = top.find("sinks");
    // An empty `sinks:` is a capture-only pipeline, e.g. with every sink commented out.
    if (f == nullptr || f->value.IsNull()) return {};
    auto m = r_.map(*f, top, detail::any_key);
    if (!m) return {};
    std::vector<sink> sinks;
    for (const auto& entry : m->fields) {
      if (auto s = read_sink(entry)) sinks.push_back(std::move(*s));
    }
    return sinks;
  }

  std::optional<sink> read_sink(const field& entry) {
    const std::string& name = entry.label;
    if (!is_kafka_name(name)) {
      r_.report(entry.key.Mark(),
                "sink name may only contain letters, digits, '.', '_' and '-'; got " + quote(name));
    }
    auto m =
        r_.map(entry.value, entry.key.Mark(), "sink '" + name + "'", "sinks." + name, sink_keys);
    if (!m) return std::nullopt;
    std::vector<const field*> kinds;
    for (auto kind : sink_kinds) {
      if (const field* f = m->find(kind)) kinds.push_back(f);
    }
    if (kinds.empty()) {
      r_.report(m->mark, "sink '" + name + "' needs one of: redis, search, view");
      return std::nullopt;
    }
    for (std::size_t i = 1; i < kinds.size(); ++i) {
      r_.report(kinds[i]->key.Mark(), "sink '" + name + "' already is a " + kinds[0]->label +
                                          " sink; a sink has exactly one of: redis, search, view");
    }
    sink s{name, redis_sink{},
           r_.choice_or<error_policy>(*m, "on_error", error_policy::stop, error_policies)};
    s.workers = r_.integer_or(*m, "workers", 1, 1);
    if (s.workers > max_sink_workers) {
      r_.report(m->find("workers")->mark(), "workers must be at most " +
                                                std::to_string(max_sink_workers) + ", got " +
                                                std::to_string(s.workers));
      s.workers = 1;
    }
    const field& kind = *kinds[0];
    if (kind.label == "redis") {
      if (auto km = r_.map(kind, *m, redis_keys)) s.kind = read_redis(*km);
    } else if (kind.label == "search") {
      if (auto km = r_.map(kind, *m, search_keys)) s.kind = read_search(*km);
    } else if (auto km = r_.map(kind, *m, view_keys)) {
      s.kind = read_view(*km);
    }
    return s;
  }

  redis_sink read_redis(const map_node& m) {
    redis_sink s;
    s.url = read_url(m, "url", {"redis://", "rediss://", "unix://"});
    s.tables = read_sink_tables(m);
    if (auto key = r_.required_text(m, "key")) {
      if (auto problem = key_template_problem(*key)) {
        r_.report(m.find("key")->mark(), "key " + quote(*key) + " " + *problem);
      }
      s.key = *key;
    }
    s.format = r_.choice_or<redis_format>(m, "format", redis_format::hash, redis_formats);
    const field* include = m.find("include");
    const field* exclude = m.find("exclude");
    if (include != nullptr) s.include_columns = read_columns(*include);
    if (exclude != nullptr) s.exclude_columns = read_columns(*exclude);
    if (include != nullptr && exclude != nullptr) {
      const field* later = include->key.Mark().pos < exclude->key.Mark().pos ? exclude : include;
      r_.report(later->key.Mark(),
                "include and exclude cannot be used together: list the columns to keep, or the "
                "ones to drop");
    }
    if (const field* ttl = m.find("ttl")) s.ttl_seconds = r_.integer(*ttl, 1);
    return s;
  }

  search_sink read_search(const map_node& m) {
    search_sink s;
    std::size_t errors_before = r_.error_count();
    bool has_engine = r_.require(m, "engine") != nullptr;
    s.engine = r_.choice_or<search_engine>(m, "engine", search_engine::opensearch, search_engines);
    if (has_engine && r_.error_count() == errors_before) {
      bool sqlite = s.engine == search_engine::sqlite;
      if (sqlite) {
        s.path = r_.required_text(m, "path").value_or("");
      } else {
        s.url = read_url(m, "url", {"http://", "https://"});
      }
      reject_key(m, sqlite ? "url" : "path", sqlite ? "opensearch" : "sqlite");
    }
    if (auto index = r_.required_text(m, "index")) {
      if (!all_of_chars(*index, "_-", false) || index->starts_with('_') ||
          index->starts_with('-')) {
        r_.report(m.find("index")->mark(),
                  "index may only contain lower-case letters, digits, '_' and '-', and must not "
                  "start with '_' or '-'; got " +
                      quote(*index));
      }
      s.index = *index;
    }
    s.tables = read_sink_tables(m);
    return s;
  }

  void reject_key(const map_node& m, std::string_view key, std::string_view engine) {
    if (const field* f = m.find(key)) {
      r_.report(f->key.Mark(),
                std::string(key) + " is only used with engine " + std::string(engine));
    }
  }

  view_sink read_view(const map_node& m) {
    view_sink v;
    v.dsn = r_.required_text(m, "dsn").value_or("");
    if (const field* from = r_.require(m, "from")) {
      if (auto table = read_table(*from)) {
        check_captured(from->mark(), *table);
        v.from = *table;
      }
    }
    v.where = r_.optional_text(m, "where");
    if (const field* group_by = r_.require(m, "group_by")) {
      v.group_by = read_columns(*group_by, true);
    }
    if (const field* columns = r_.require(m, "columns")) {
      v.columns = read_view_columns(*columns, m, v);
    }
    return v;
  }

  std::vector<view_column> read_view_columns(const field& f, const map_node& parent,
                                             const view_sink& v) {
    auto m = r_.map(f, parent, detail::any_key);
    if (!m) return {};
    if (m->fields.empty()) r_.report(f.mark(), "columns must not be empty");
    std::vector<view_column> columns;
    for (const auto& column : m->fields) {
      if (!is_column_name(column.label)) {
        r_.report(column.key.Mark(), quote(column.label) + " is not a column name");
      } else if (std::ranges::find(v.group_by, column.label) != v.group_by.end()) {
        r_.report(column.key.Mark(), "column '" + column.label + "' is already a group_by column");
      }
      auto expression = r_.text(column);
      if (expression && expression->empty()) {
        r_.report(column.mark(), column.label + " must not be empty");
      } else if (expression) {
        columns.push_back({column.label, *expression});
      }
    }
    return columns;
  }

  std::string read_url(const map_node& m, std::string_view key,
                       std::initializer_list<std::string_view> schemes) {
    auto url = r_.required_text(m, key);
    if (url && !has_scheme(*url, schemes)) {
      std::string names;
      for (auto s : schemes) names += (names.empty() ? "" : ", ") + std::string(s);
      r_.report(m.find(key)->mark(),
                std::string(key) + " must start with one of: " + names + "; got " + quote(*url));
    }
    return url.value_or("");
  }

  std::optional<table_name> read_table(const field& f) {
    auto text = r_.text(f);
    if (!text) return std::nullopt;
    auto table = table_name::parse(*text);
    if (!table) {
      r_.report(f.mark(), "invalid table name " + quote(*text) + ": " + table.error());
      return std::nullopt;
    }
    return std::move(*table);
  }

  std::vector<located_table> read_tables(const field& f) {
    auto entries = r_.list(f, "table names");
    if (!entries) return {};
    if (entries->empty()) r_.report(f.mark(), f.label + " must not be empty");
    std::vector<located_table> tables;
    for (const auto& entry : *entries) {
      auto table = read_table(entry);
      if (!table) continue;
      auto seen = std::ranges::find(tables, *table, &located_table::name);
      if (seen != tables.end()) {
        r_.report(entry.mark(), "table " + table->to_string() + " is listed twice (first at line " +
                                    std::to_string(seen->mark.line + 1) + ")");
        continue;
      }
      tables.push_back({std::move(*table), entry.mark()});
    }
    return tables;
  }

  // A sink's `tables`: each must be captured by the source.
  std::vector<table_name> read_sink_tables(const map_node& m) {
    const field* f = r_.require(m, "tables");
    if (f == nullptr) return {};
    auto tables = read_tables(*f);
    for (const auto& table : tables) check_captured(table.mark, table.name);
    return names_of(tables);
  }

  void check_captured(const YAML::Mark& at, const table_name& table) {
    // Unknown source tables were already reported; checking against a partial list would
    // only add noise.
    if (!source_tables_known_) return;
    if (std::ranges::find(source_tables_, table, &located_table::name) != source_tables_.end()) {
      return;
    }
    r_.report(at, "table " + table.to_string() + " is not captured by the source (" +
                      "source.postgres.tables: " + join(source_tables_) + ")");
  }

  std::vector<std::string> read_columns(const field& f, bool required_non_empty = false) {
    auto entries = r_.list(f, "column names");
    if (!entries) return {};
    if (required_non_empty && entries->empty()) r_.report(f.mark(), f.label + " must not be empty");
    std::vector<std::string> columns;
    for (const auto& entry : *entries) {
      auto column = r_.text(entry);
      if (column && !is_column_name(*column)) {
        r_.report(entry.mark(), quote(*column) + " is not a column name");
      } else if (column) {
        columns.push_back(std::move(*column));
      }
    }
    return columns;
  }

  yaml_reader& r_;
  // The source tables with where they were named; sinks and topics are checked against them
  // once they have read without error.
  std::vector<located_table> source_tables_;
  bool source_tables_known_ = false;
};

std::string join_lines(const std::vector<diagnostic>& diagnostics) {
  std::string out;
  for (const auto& d : diagnostics) out += (out.empty() ? "" : "\n") + d.to_string();
  return out;
}

}  // namespace

std::string diagnostic::to_string() const {
  if (line == 0) return file + ": " + message;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + message;
}

config_error::config_error(std::vector<diagnostic> diagnostics)
    : std::runtime_error(join_lines(diagnostics)), diagnostics_(std::move(diagnostics)) {}

pipeline parse_pipeline(std::string_view yaml_text, const std::string& file_name,
                        const env_lookup& env) {
  yaml_reader reader(file_name, env);
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml_text));
  } catch (const YAML::Exception& e) {
    // yaml-cpp cannot resume after a syntax error, so this is the only diagnostic.
    reader.report(e.mark, "invalid YAML: " + e.msg);
    throw config_error(reader.take_diagnostics());
  }
  pipeline p = pipeline_reader(reader).read(root);
  p.file = file_name;
  if (reader.error_count() > 0) throw config_error(reader.take_diagnostics());
  return p;
}

pipeline load_pipeline(const std::string& path, const env_lookup& env) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw config_error(
        {{path, 0, 0, "cannot read the pipeline file: " + std::string(std::strerror(errno))}});
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parse_pipeline(text.str(), path, env);
}

}  // namespace sluice::config
