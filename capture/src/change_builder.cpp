#include "sluice/capture/change_builder.hpp"

#include <chrono>

#include "sluice/schemas/codec.hpp"
#include "sluice/schemas/log.hpp"

namespace sluice::capture {
namespace {

// Postgres timestamps count microseconds from 2000-01-01; the envelope counts Unix milliseconds.
constexpr std::int64_t postgres_epoch_ms = 946'684'800'000;

std::int64_t unix_ms_from_postgres(std::int64_t pg_micros) {
  return postgres_epoch_ms + pg_micros / 1000;
}

std::int64_t system_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

template <class... Ts>
struct overloaded : Ts... {
  using Ts::operator()...;
};

}  // namespace

change_builder::change_builder(builder_options options, type_mapper types, key_lookup keys)
    : options_(std::move(options)), types_(std::move(types)), keys_(std::move(keys)) {
  if (!options_.now_ms) options_.now_ms = system_now_ms;
}

std::string table_topic(const std::string& prefix, const std::string& schema,
                        const std::string& table) {
  return prefix + "." + schema + "." + table;
}

std::string change_builder::topic_for(const std::string& schema, const std::string& table) const {
  return table_topic(options_.topic_prefix, schema, table);
}

std::string change_builder::schema_changes_topic() const {
  return options_.topic_prefix + ".schema_changes";
}

std::expected<const change_builder::relation_entry*, build_error> change_builder::relation_for(
    std::uint32_t oid) const {
  auto it = relations_.find(oid);
  if (it == relations_.end()) {
    // pgoutput always sends a Relation message before the first change of a relation in a
    // session; a change without one means a broken stream, and guessing would misname columns.
    return std::unexpected(build_error{"change for unknown relation id " + std::to_string(oid) +
                                       " (no Relation message seen)"});
  }
  return &it->second;
}

std::expected<void, build_error> change_builder::on_relation(const pgoutput::relation& r,
                                                             change_output& out) {
  relation_entry entry;
  entry.schema = std::string(r.schema);
  entry.table = std::string(r.name);
  entry.replica_identity = r.replica_identity;
  for (const auto& c : r.columns) {
    entry.columns.push_back(column{std::string(c.name), c.type_oid, c.type_modifier, c.is_key});
  }
  entry.topic = topic_for(entry.schema, entry.table);

  // Key columns: the primary key (or replica-identity index) as the catalog says; under
  // REPLICA IDENTITY FULL the message flags every column, which would make a useless key.
  const std::vector<std::string> key_names =
      keys_ ? keys_(entry.schema, entry.table) : std::vector<std::string>{};
  for (std::size_t i = 0; i < entry.columns.size(); ++i) {
    if (std::find(key_names.begin(), key_names.end(), entry.columns[i].name) != key_names.end()) {
      entry.key_indexes.push_back(i);
    }
  }
  // The names were looked up at start-up; a key column renamed since leaves them stale, and
  // the message's own replica-identity flags are then the best knowledge of the key.
  if (key_names.empty() || entry.key_indexes.size() != key_names.size()) {
    entry.key_indexes.clear();
    for (std::size_t i = 0; i < entry.columns.size(); ++i) {
      if (entry.columns[i].is_key) entry.key_indexes.push_back(i);
    }
  }
  if (entry.key_indexes.empty()) {
    return std::unexpected(build_error{"table " + entry.schema + "." + entry.table +
                                       " has no primary key or replica-identity index"});
  }

  auto it = relations_.find(r.oid);
  if (it != relations_.end() && it->second.columns != entry.columns) {
    // A schema change: it takes effect before the next row because the cache is replaced now.
    nlohmann::json change{{"schema", entry.schema}, {"table", entry.table}};
    auto describe = [](const std::vector<column>& cols) {
      nlohmann::json arr = nlohmann::json::array();
      for (const auto& c : cols) {
        arr.push_back({{"name", c.name}, {"type_oid", c.type_oid}, {"key", c.is_key}});
      }
      return arr;
    };
    change["before"] = describe(it->second.columns);
    change["after"] = describe(entry.columns);
    change["commit_lsn"] = txn_.commit_lsn.to_string();
    log(log_level::info, "capture",
        "schema change table=" + entry.schema + "." + entry.table +
            " lsn=" + txn_.commit_lsn.to_string() + " columns=" + change["after"].dump());
    const std::string key = nlohmann::json{{"schema", entry.schema}, {"table", entry.table}}.dump();
    const std::string value = change.dump();
    const std::string topic = schema_changes_topic();
    out.record(outgoing_record{topic, key, value, false});
  }
  relations_[r.oid] = std::move(entry);
  return {};
}

std::expected<schemas::row, build_error> change_builder::to_row(const relation_entry& rel,
                                                                const pgoutput::tuple& t,
                                                                std::vector<std::string>* unchanged,
                                                                bool key_only) const {
  if (t.size() != rel.columns.size()) {
    return std::unexpected(build_error{"tuple of " + std::to_string(t.size()) + " columns for " +
                                       rel.schema + "." + rel.table + " which has " +
                                       std::to_string(rel.columns.size())});
  }
  schemas::row row;
  row.columns.reserve(t.size());
  for (std::size_t i = 0; i < t.size(); ++i) {
    const column& col = rel.columns[i];
    if (key_only &&
        std::find(rel.key_indexes.begin(), rel.key_indexes.end(), i) == rel.key_indexes.end()) {
      continue;  // an old-key image carries nulls for non-key columns: they are unknown, not null
    }
    switch (t[i].k) {
      case pgoutput::tuple_field::kind::null:
        row.columns.push_back({col.name, schemas::null_value{}});
        break;
      case pgoutput::tuple_field::kind::unchanged_toast:
        // Never a placeholder: the column is left out and listed, sinks keep their value.
        if (unchanged != nullptr) unchanged->push_back(col.name);
        break;
      case pgoutput::tuple_field::kind::text:
        row.columns.push_back({col.name, types_.map(col.type_oid, t[i].data)});
        break;
      case pgoutput::tuple_field::kind::binary:
        return std::unexpected(build_error{"binary tuple data is not requested and not supported"});
    }
  }
  return row;
}

schemas::row change_builder::key_of(const relation_entry& rel, const schemas::row& image) const {
  schemas::row key;
  for (std::size_t i : rel.key_indexes) {
    const schemas::value* v = image.find(rel.columns[i].name);
    key.columns.push_back({rel.columns[i].name, v ? *v : schemas::value{schemas::null_value{}}});
  }
  return key;
}

void change_builder::stamp(const relation_entry& rel, schemas::change_event& e, lsn change_lsn) {
  e.source.version = options_.version;
  e.source.db = options_.db;
  e.source.schema = rel.schema;
  e.source.table = rel.table;
  e.source.change_lsn = change_lsn;
  e.source.commit_lsn = txn_.commit_lsn;
  e.source.seq = txn_.next_seq++;
  e.source.tx_id = txn_.xid;
  e.source.ts_ms = txn_.commit_ts_ms;
  e.ts_ms = options_.now_ms();
}

void change_builder::emit(const relation_entry& rel, schemas::change_event& e,
                          const schemas::row& key, lsn change_lsn, change_output& out) {
  stamp(rel, e, change_lsn);
  key_buffer_.clear();
  value_buffer_.clear();
  schemas::encode_key(key, key_buffer_);
  schemas::encode_event(e, value_buffer_);
  out.record(outgoing_record{rel.topic, key_buffer_, value_buffer_, false});
}

void change_builder::emit_tombstone(const relation_entry& rel, const schemas::row& key,
                                    change_output& out) {
  key_buffer_.clear();
  schemas::encode_key(key, key_buffer_);
  out.record(outgoing_record{rel.topic, key_buffer_, std::nullopt, false});
}

std::expected<void, build_error> change_builder::apply(const pgoutput::any& message, lsn change_lsn,
                                                       change_output& out) {
  using result = std::expected<void, build_error>;
  auto require_txn = [&](const char* what) -> result {
    if (!txn_.open)
      return std::unexpected(build_error{std::string(what) + " outside a transaction"});
    return {};
  };
  return std::visit(
      overloaded{
          [&](const pgoutput::begin& b) -> result {
            txn_ = transaction{true, b.final_lsn, b.xid, unix_ms_from_postgres(b.commit_time), 0};
            return {};
          },
          [&](const pgoutput::commit& c) -> result {
            if (auto ok = require_txn("commit"); !ok) return ok;
            txn_.open = false;
            out.transaction_end(c.end_lsn);
            return {};
          },
          [&](const pgoutput::relation& r) -> result { return on_relation(r, out); },
          [&](const pgoutput::insert& ins) -> result {
            if (auto ok = require_txn("insert"); !ok) return ok;
            auto rel = relation_for(ins.relation_oid);
            if (!rel) return std::unexpected(rel.error());
            schemas::change_event e;
            e.op = schemas::op::create;
            auto after = to_row(**rel, ins.new_tuple, &e.unchanged, false);
            if (!after) return std::unexpected(after.error());
            e.after = std::move(*after);
            emit(**rel, e, key_of(**rel, *e.after), change_lsn, out);
            return {};
          },
          [&](const pgoutput::update& u) -> result {
            if (auto ok = require_txn("update"); !ok) return ok;
            auto rel = relation_for(u.relation_oid);
            if (!rel) return std::unexpected(rel.error());
            schemas::change_event e;
            e.op = schemas::op::update;
            auto after = to_row(**rel, u.new_tuple, &e.unchanged, false);
            if (!after) return std::unexpected(after.error());
            e.after = std::move(*after);
            schemas::row new_key = key_of(**rel, *e.after);
            if (u.old_kind) {
              auto before = to_row(**rel, u.old_tuple, nullptr, *u.old_kind == 'K');
              if (!before) return std::unexpected(before.error());
              schemas::row old_key = key_of(**rel, *before);
              if (old_key != new_key) {
                // A key change moves the row: delete + tombstone under the old key, then a
                // create under the new one, so compaction and caches drop the old key.
                schemas::change_event del;
                del.op = schemas::op::remove;
                del.before = std::move(*before);
                emit(**rel, del, old_key, change_lsn, out);
                emit_tombstone(**rel, old_key, out);
                e.op = schemas::op::create;
              } else {
                e.before = std::move(*before);
              }
            }
            emit(**rel, e, new_key, change_lsn, out);
            return {};
          },
          [&](const pgoutput::remove& d) -> result {
            if (auto ok = require_txn("delete"); !ok) return ok;
            auto rel = relation_for(d.relation_oid);
            if (!rel) return std::unexpected(rel.error());
            schemas::change_event e;
            e.op = schemas::op::remove;
            auto before = to_row(**rel, d.old_tuple, nullptr, d.old_kind == 'K');
            if (!before) return std::unexpected(before.error());
            e.before = std::move(*before);
            const schemas::row key = key_of(**rel, *e.before);
            emit(**rel, e, key, change_lsn, out);
            emit_tombstone(**rel, key, out);
            return {};
          },
          [&](const pgoutput::truncate& t) -> result {
            if (auto ok = require_txn("truncate"); !ok) return ok;
            for (std::uint32_t oid : t.relation_oids) {
              auto rel = relation_for(oid);
              if (!rel) return std::unexpected(rel.error());
              schemas::change_event e;
              e.op = schemas::op::truncate;
              // Every sink worker must see the truncate in order with the rows of its own
              // partitions, so it goes to every partition; compacted topics need a key: {}.
              stamp(**rel, e, change_lsn);
              value_buffer_.clear();
              schemas::encode_event(e, value_buffer_);
              out.record(outgoing_record{(*rel)->topic, "{}", value_buffer_, true});
            }
            return {};
          },
          [&](const pgoutput::origin&) -> result { return {}; },
          [&](const pgoutput::type&) -> result { return {}; },  // the type lookup asks pg_type
          [&](const pgoutput::message& m) -> result {
            out.message(m);  // heartbeats and snapshot watermarks
            return {};
          },
      },
      message);
}

}  // namespace sluice::capture
