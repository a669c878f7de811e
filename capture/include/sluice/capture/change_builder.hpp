#pragma once
#include <cstdint>
#include <expected>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "sluice/capture/pgoutput.hpp"
#include "sluice/capture/record_sink.hpp"
#include "sluice/capture/type_map.hpp"
#include "sluice/schemas/event.hpp"

namespace sluice::capture {

/// Where the builder's output goes: records, logical messages (heartbeats, snapshot
/// watermarks), and the end of each source transaction.
class change_output {
 public:
  virtual ~change_output() = default;
  virtual void record(const outgoing_record& r) = 0;
  virtual void message(const pgoutput::message& /*m*/) {}
  virtual void transaction_end(lsn end_lsn) = 0;
};

/// Key columns of a table (primary key, else replica-identity index), by schema and name.
/// Empty means "use the replica-identity flags of the Relation message".
using key_lookup =
    std::function<std::vector<std::string>(const std::string& schema, const std::string& table)>;

struct builder_options {
  std::string db;                        // source.db
  std::string topic_prefix;              // topics are <prefix>.<schema>.<table>
  std::string version;                   // source.version
  std::function<std::int64_t()> now_ms;  // injectable clock for the envelope's ts_ms
};

struct build_error {
  std::string message;
};

/// Turns decoded pgoutput messages into change events and Kafka records (design.md, "Change
/// event"). Keeps the relation cache and the position (commit_lsn, seq) of the open transaction.
/// Pure apart from the injected lookups; one per replication stream; not thread-safe.
/// The topic of a table: "<prefix>.<schema>.<table>" (config::topic_for says the same). The
/// stream and the snapshot both name topics with it, so their records meet on one topic.
[[nodiscard]] std::string table_topic(const std::string& prefix, const std::string& schema,
                                      const std::string& table);

class change_builder {
 public:
  change_builder(builder_options options, type_mapper types, key_lookup keys);

  /// `change_lsn` is the WAL position of the message (XLogData start).
  [[nodiscard]] std::expected<void, build_error> apply(const pgoutput::any& message, lsn change_lsn,
                                                       change_output& out);

  [[nodiscard]] std::string topic_for(const std::string& schema, const std::string& table) const;
  [[nodiscard]] std::string schema_changes_topic() const;

  /// Tables seen so far, for logs and tests.
  [[nodiscard]] std::size_t known_relations() const { return relations_.size(); }
  [[nodiscard]] bool in_transaction() const { return txn_.open; }

 private:
  struct column {
    std::string name;
    std::uint32_t type_oid;
    std::int32_t type_modifier;
    bool is_key;
    bool operator==(const column&) const = default;
  };
  struct relation_entry {
    std::string schema;
    std::string table;
    char replica_identity = 'd';
    std::vector<column> columns;
    std::vector<std::size_t> key_indexes;
    std::string topic;
  };

  struct transaction {
    bool open = false;
    lsn commit_lsn;
    std::uint32_t xid = 0;
    std::int64_t commit_ts_ms = 0;
    std::uint32_t next_seq = 0;
  };

  std::expected<void, build_error> on_relation(const pgoutput::relation& r, change_output& out);
  std::expected<const relation_entry*, build_error> relation_for(std::uint32_t oid) const;
  std::expected<schemas::row, build_error> to_row(const relation_entry& rel,
                                                  const pgoutput::tuple& t,
                                                  std::vector<std::string>* unchanged,
                                                  bool key_only) const;
  schemas::row key_of(const relation_entry& rel, const schemas::row& image) const;
  /// Fills the envelope's source block and takes the next seq of the open transaction.
  void stamp(const relation_entry& rel, schemas::change_event& e, lsn change_lsn);
  void emit(const relation_entry& rel, schemas::change_event& e, const schemas::row& key,
            lsn change_lsn, change_output& out);
  void emit_tombstone(const relation_entry& rel, const schemas::row& key, change_output& out);

  builder_options options_;
  type_mapper types_;
  key_lookup keys_;
  std::unordered_map<std::uint32_t, relation_entry> relations_;
  transaction txn_;
  std::string key_buffer_;
  std::string value_buffer_;
};

}  // namespace sluice::capture
