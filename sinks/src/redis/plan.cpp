#include "sluice/sinks/redis/plan.hpp"

#include <algorithm>
#include <charconv>
#include <map>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>

#include "layout.hpp"
#include "sluice/schemas/codec.hpp"

namespace sluice::sinks::redis {
namespace {

bool is_column_char(char c, bool first) {
  const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  return first ? alpha : (alpha || (c >= '0' && c <= '9') || c == '$');
}

bool wanted(const cache_options& o, std::string_view column) {
  if (!o.include_columns.empty()) {
    return std::find(o.include_columns.begin(), o.include_columns.end(), column) !=
           o.include_columns.end();
  }
  return std::find(o.exclude_columns.begin(), o.exclude_columns.end(), column) ==
         o.exclude_columns.end();
}

// A JSON string's content as the encoder writes it (escaped, without the quotes): the batch
// script finds members of a stored JSON row by this form.
std::string json_name(std::string_view name) {
  std::string quoted;
  schemas::append_json_string(quoted, name);
  return quoted.substr(1, quoted.size() - 2);
}

}  // namespace

std::expected<key_template, std::string> key_template::parse(std::string_view text) {
  key_template t;
  t.text_ = std::string(text);
  std::string literal;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '}') return std::unexpected("has a '}' without a matching '{'");
    if (c != '{') {
      literal += c;
      continue;
    }
    const auto close = text.find('}', i);
    if (close == std::string_view::npos) return std::unexpected("has a '{' without a matching '}'");
    const std::string_view column = text.substr(i + 1, close - i - 1);
    if (column.empty() || !is_column_char(column[0], true) ||
        !std::all_of(column.begin(), column.end(),
                     [](char ch) { return is_column_char(ch, false); })) {
      return std::unexpected("has '{" + std::string(column) + "}', not a column name");
    }
    t.literals_.push_back(std::move(literal));
    literal.clear();
    t.columns_.emplace_back(column);
    i = close;
  }
  if (t.columns_.empty()) return std::unexpected("must reference at least one column");
  t.literals_.push_back(std::move(literal));
  return t;
}

std::expected<std::string, std::string> key_template::render(const schemas::row& key) const {
  std::string out = literals_[0];
  for (std::size_t i = 0; i < columns_.size(); ++i) {
    const schemas::value* v = key.find(columns_[i]);
    if (v == nullptr) {
      std::string have;
      for (const auto& c : key.columns) have += (have.empty() ? "" : ", ") + c.name;
      return std::unexpected("key template '" + text_ + "' needs column '" + columns_[i] +
                             "', which the record key does not have (key columns: " +
                             (have.empty() ? "none" : have) + ")");
    }
    auto text = field_text(*v);
    if (!text) return std::unexpected("key column '" + columns_[i] + "' is null");
    out += *text;
    out += literals_[i + 1];
  }
  return out;
}

std::optional<std::string> field_text(const schemas::value& v) {
  return std::visit(
      [](const auto& x) -> std::optional<std::string> {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, schemas::null_value>) {
          return std::nullopt;
        } else if constexpr (std::is_same_v<T, bool>) {
          return std::string(x ? "true" : "false");
        } else if constexpr (std::is_same_v<T, std::int64_t>) {
          char buf[24];
          return std::string(buf, std::to_chars(buf, buf + sizeof buf, x).ptr);
        } else if constexpr (std::is_same_v<T, std::string>) {
          return x;
        } else {
          // Doubles and embedded JSON: the event's own JSON form (shortest round-trip doubles
          // with a '.' or exponent, compact JSON with sorted keys).
          schemas::row r;
          r.columns.push_back({"v", x});
          std::string json = schemas::encode_key(r);  // {"v":...}
          return json.substr(5, json.size() - 6);
        }
      },
      v);
}

std::string encode_position(schemas::position p) {
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string out(24, '0');
  std::uint64_t lsn = p.commit_lsn.value;
  for (int i = 15; i >= 0; --i, lsn >>= 4) out[static_cast<std::size_t>(i)] = digits[lsn & 15];
  std::uint32_t seq = p.seq;
  for (int i = 23; i >= 16; --i, seq >>= 4) out[static_cast<std::size_t>(i)] = digits[seq & 15];
  return out;
}

std::expected<batch_plan, bad_event> plan_batch(std::span<const sink_event> events,
                                                const cache_options& options,
                                                const key_template& key,
                                                const table_id_lookup& table_id) {
  batch_plan plan;
  plan.ops.reserve(events.size());
  std::vector<partition_ref> seen;
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto& e = events[i];
    if (seen.empty() || seen.back().partition != e.record.partition ||
        seen.back().topic != e.record.topic) {
      partition_ref where = e.record.where();
      if (std::find(seen.begin(), seen.end(), where) == seen.end()) {
        plan.partitions.push_back(where.to_string());
        seen.push_back(std::move(where));
      }
    }
    auto tid = table_id(e.table);
    if (!tid)
      return std::unexpected(bad_event{i, "table " + e.table + " is not cached by this sink"});
    if (std::find(plan.table_ids.begin(), plan.table_ids.end(), *tid) == plan.table_ids.end()) {
      plan.table_ids.push_back(*tid);
    }
    if (e.change && e.change->op == schemas::op::truncate) {
      // Position-based, so where the truncate sits in the batch does not matter: the floor is
      // raised before any row of the batch is compared with it (docs/sinks.md).
      auto& floor = plan.truncates[*tid];
      floor = std::max(floor, encode_position(e.change->source.pos()));
      continue;
    }
    auto rkey = key.render(e.key);
    if (!rkey) return std::unexpected(bad_event{i, rkey.error()});
    cache_op op;
    op.event = i;
    op.key = std::move(*rkey);
    op.table_id = std::move(*tid);
    if (!e.change) {
      op.what = cache_op::kind::tombstone;
      if (e.tombstone_of) op.position = encode_position(*e.tombstone_of);
    } else if (e.change->op == schemas::op::remove) {
      op.what = cache_op::kind::remove;
      op.position = encode_position(e.change->source.pos());
    } else {
      if (!e.change->after)
        return std::unexpected(bad_event{i, "a create or update without 'after'"});
      op.what = cache_op::kind::upsert;
      op.position = encode_position(e.change->source.pos());
      for (const auto& c : e.change->unchanged) {
        if (!wanted(options, c)) continue;
        op.kept.push_back(options.format == row_format::json ? json_name(c) : c);
      }
    }
    plan.ops.push_back(std::move(op));
  }
  return plan;
}

bool needs_stored_row(const cache_op& op) {
  // json merges the kept members into the new document. A hash keeps its fields by leaving
  // them alone, so it reads their names: to remove those of columns the row no longer has, and
  // (when rows expire) to know whether the row is still there.
  return !op.kept.empty();
}

request read_request(const batch_plan& plan, const cache_options& options) {
  request r;
  // Who else may write these keys: replay (pause), a truncate on another partition (floors),
  // and a worker that lost one of these partitions but is still applying (fences).
  r.begin(3 + plan.partitions.size());
  r.arg("WATCH");
  r.arg(layout::pause_key);
  r.arg(layout::floors_key);
  std::string fence;
  for (const auto& p : plan.partitions) {
    fence.assign(layout::fence_prefix).append(p);
    r.arg(fence);
  }
  r.command({"GET", layout::pause_key});
  if (!plan.ops.empty()) {
    r.begin(2 + plan.ops.size());
    r.arg("HMGET");
    r.arg(layout::rows_key);
    for (const auto& op : plan.ops) r.arg(op.key);
  }
  if (!plan.table_ids.empty()) {
    r.begin(2 + plan.table_ids.size());
    r.arg("HMGET");
    r.arg(layout::floors_key);
    for (const auto& t : plan.table_ids) r.arg(t);
  }
  for (const auto& op : plan.ops) {
    if (!needs_stored_row(op)) continue;
    r.command({options.format == row_format::json ? "GET" : "HKEYS", op.key});
  }
  return r;
}

namespace {

bool is_live(const std::optional<std::string>& entry) {
  return entry && entry->size() > layout::state_at && (*entry)[layout::state_at] == 'l';
}

std::string_view position_of(const std::string& entry) {
  return std::string_view(entry).substr(0, layout::position_size);
}

std::string entry(const std::string& position, char state, const std::string& table_id) {
  std::string e;
  e.reserve(position.size() + 1 + table_id.size());
  e.append(position).push_back(state);
  e.append(table_id);
  return e;
}

// Appends a column's hash field value (never called for NULL, which has no field).
void put_field(request& r, const schemas::value& v) {
  if (const auto* s = std::get_if<std::string>(&v)) {
    r.arg(*s);
  } else if (const auto* i = std::get_if<std::int64_t>(&v)) {
    r.arg(*i);
  } else if (const auto* b = std::get_if<bool>(&v)) {
    r.arg(*b ? "true" : "false");
  } else {
    r.arg(field_text(v).value_or(""));
  }
}

// The kept members of `prior` appended to `doc` (both compact JSON objects).
std::string merge_kept(std::string doc, std::string_view prior,
                       const std::vector<std::string>& kept) {
  const auto members = json_members(prior);
  std::string extra;
  for (const auto& name : kept) {
    for (const auto& [n, raw] : members) {
      if (n != name) continue;
      extra.append(extra.empty() ? "" : ",").append("\"").append(name).append("\":").append(raw);
      break;
    }
  }
  if (extra.empty()) return doc;
  doc.pop_back();  // '}'
  if (doc.size() > 1) doc.push_back(',');
  doc.append(extra).push_back('}');
  return doc;
}

}  // namespace

std::expected<batch_writes, bad_event> decide(
    std::span<const sink_event> events, const batch_plan& plan, const stored_state& stored,
    const cache_options& options, const std::vector<partition_offset>& offsets,
    const std::function<std::string(const std::string& table_id)>& table_name) {
  const std::size_t n = plan.ops.size();
  // Each key as the batch goes, starting from what Redis held.
  struct key_state {
    std::optional<std::string> entry;  // its entry in the rows hash (nullopt: none)
    std::string_view owner;            // the table whose row the key holds (first pass only)
    bool dirty = false;                // the entry changes with this batch
    bool keeps = false;                // some event of the batch keeps unchanged columns
    // What this batch last wrote to the row, for the columns later events keep (json: the
    // document; hash: "" while it exists), since Redis sees it only at EXEC.
    std::optional<std::string> written;
  };
  std::unordered_map<std::string_view, key_state> keys;
  keys.reserve(n);
  std::vector<key_state*> state_of(n);
  std::vector<std::string_view> dirty_order;
  for (std::size_t i = 0; i < n; ++i) {
    const auto& op = plan.ops[i];
    auto [it, first] = keys.try_emplace(op.key);
    key_state& k = it->second;
    if (first) {
      k.entry = stored.entries.at(i);
      k.owner = k.entry && k.entry->size() > layout::table_id_at
                    ? std::string_view(*k.entry).substr(layout::table_id_at)
                    : std::string_view(op.table_id);
    }
    // Two tables whose rows map to one key would overwrite each other: refuse before writing.
    if (k.owner != op.table_id) {
      return std::unexpected(bad_event{
          op.event, "Redis key " + op.key + " already holds a row of " +
                        table_name(std::string(k.owner)) +
                        "; the key template must give rows of different tables different keys"});
    }
    k.keeps = k.keeps || !op.kept.empty();
    state_of[i] = &k;
  }

  batch_writes out;
  request& r = out.transaction;
  std::size_t estimate = 256;
  for (const auto& e : events) estimate += 64 + (e.record.value ? e.record.value->size() : 0);
  r.reserve(estimate);
  r.command({"MULTI"});

  std::vector<std::pair<std::string_view, std::string>> floors;  // by table id
  for (const auto& t : plan.table_ids) {
    auto it = stored.floors.find(t);
    floors.emplace_back(t, it == stored.floors.end() ? std::string() : it->second);
  }
  auto floor_of = [&floors](std::string_view tid) -> std::string& {
    for (auto& [t, f] : floors) {
      if (t == tid) return f;
    }
    return floors.emplace_back(tid, std::string()).second;
  };
  for (const auto& [tid, position] : plan.truncates) {
    auto& floor = floor_of(tid);
    if (position <= floor) continue;
    floor = position;
    out.raised_floors.push_back(tid);
  }

  const bool json = options.format == row_format::json;
  const std::int64_t ttl = options.ttl_seconds.value_or(0);
  const std::string ttl_text = std::to_string(ttl);
  auto set_entry = [&](const cache_op& op, key_state& k, std::optional<std::string> value) {
    k.entry = std::move(value);
    if (!k.dirty) dirty_order.push_back(op.key);
    k.dirty = true;
  };

  for (std::size_t i = 0; i < n; ++i) {
    const auto& op = plan.ops[i];
    const auto& e = events[op.event];
    key_state& k = *state_of[i];
    const bool was_live = is_live(k.entry);
    if (op.what == cache_op::kind::tombstone && op.position.empty()) {
      // A tombstone met without its delete (compaction dropped the delete, or reading began
      // between the two): the key is gone, and so is its entry, unless it is already deleted.
      if (k.entry && !was_live) {
        ++out.skipped;
        continue;
      }
      r.command({"DEL", op.key});
      k.written.reset();
      set_entry(op, k, std::nullopt);
      ++out.written;
      continue;
    }
    if (op.position < floor_of(op.table_id) ||
        (k.entry && position_of(*k.entry) >= std::string_view(op.position))) {
      ++out.skipped;
      continue;
    }
    ++out.written;
    if (op.what != cache_op::kind::upsert) {
      r.command({"DEL", op.key});
      k.written.reset();
      set_entry(op, k, entry(op.position, 'd', op.table_id));
      continue;
    }
    std::optional<std::string_view> prior;  // the row whose unchanged columns are kept
    if (!op.kept.empty()) {
      // A hash row is there when rows never expire, or when Redis listed its fields; its kept
      // fields stay as they are.
      const bool hash_found = i < stored.fields.size() && !stored.fields[i].empty();
      if (k.written) {
        prior = *k.written;
      } else if (was_live && json && stored.rows.at(i)) {
        prior = *stored.rows.at(i);
      } else if (was_live && !json && (!ttl || hash_found)) {
        prior = "";
      }
    }
    set_entry(op, k, entry(op.position, 'l', op.table_id));
    if (!op.kept.empty() && !prior) {
      // The columns to keep are gone with the row (it expired): a cached row without them
      // would be wrong, so the key stays absent until the next full write of the row.
      ++out.left_absent;
      continue;
    }
    if (json) {
      std::string doc;
      schemas::row wanted_columns;
      for (const auto& c : e.change->after->columns) {
        if (wanted(options, c.name)) wanted_columns.columns.push_back(c);
      }
      schemas::encode_key(wanted_columns, doc);
      if (prior) doc = merge_kept(std::move(doc), *prior, op.kept);
      if (ttl) {
        r.command({"SET", op.key, doc, "EX", ttl_text});
      } else {
        r.command({"SET", op.key, doc});
      }
      if (k.keeps) k.written = std::move(doc);
      continue;
    }
    std::size_t fields = 0;
    for (const auto& c : e.change->after->columns) {
      if (!wanted(options, c.name)) continue;
      if (!std::holds_alternative<schemas::null_value>(c.v)) ++fields;
    }
    if (op.kept.empty() && was_live) r.command({"DEL", op.key});  // no stale fields survive
    if (fields > 0) {
      r.begin(2 + 2 * fields);
      r.arg("HSET");
      r.arg(op.key);
      for (const auto& c : e.change->after->columns) {
        if (!wanted(options, c.name) || std::holds_alternative<schemas::null_value>(c.v)) continue;
        r.arg(c.name);
        put_field(r, c.v);
      }
    }
    if (!op.kept.empty()) {
      // Kept fields stay, so fields that must go are removed by name: the columns that became
      // NULL, and, when Redis' copy is what this update starts from, fields of no column of
      // the event (a dropped column, or one excluded since the row was written).
      std::vector<std::string_view> gone;
      for (const auto& c : e.change->after->columns) {
        if (wanted(options, c.name) && std::holds_alternative<schemas::null_value>(c.v)) {
          gone.push_back(c.name);
        }
      }
      if (!k.written && i < stored.fields.size()) {
        for (const auto& f : stored.fields[i]) {
          const bool written_column = std::any_of(
              e.change->after->columns.begin(), e.change->after->columns.end(),
              [&](const schemas::column_value& c) { return c.name == f && wanted(options, f); });
          if (!written_column && std::find(op.kept.begin(), op.kept.end(), f) == op.kept.end()) {
            gone.push_back(f);
          }
        }
      }
      if (!gone.empty()) {
        r.begin(2 + gone.size());
        r.arg("HDEL");
        r.arg(op.key);
        for (auto f : gone) r.arg(f);
      }
    }
    if (ttl) r.command({"EXPIRE", op.key, ttl_text});
    if (k.keeps) k.written = "";
  }

  // The entries, the floors, the fences and the offsets change with the rows, atomically.
  std::size_t sets = 0;
  for (auto key : dirty_order) sets += keys[key].entry ? 1 : 0;
  if (sets > 0) {
    r.begin(2 + 2 * sets);
    r.arg("HSET");
    r.arg(layout::rows_key);
    for (auto key : dirty_order) {
      const auto& entry = keys[key].entry;
      if (!entry) continue;
      r.arg(key);
      r.arg(*entry);
    }
  }
  if (sets < dirty_order.size()) {
    r.begin(2 + dirty_order.size() - sets);
    r.arg("HDEL");
    r.arg(layout::rows_key);
    for (auto key : dirty_order) {
      if (!keys[key].entry) r.arg(key);
    }
  }
  for (const auto& tid : out.raised_floors) {
    r.command({"HSET", layout::floors_key, tid, floor_of(tid)});
    r.command({"HSET", layout::sweeps_key, tid, "0"});
  }
  std::string fence;
  for (const auto& p : plan.partitions) {
    fence.assign(layout::fence_prefix).append(p);
    r.command({"INCR", fence});
  }
  if (!offsets.empty()) {
    r.begin(2 + 2 * offsets.size());
    r.arg("HSET");
    r.arg(layout::offsets_key);
    for (const auto& o : offsets) {
      r.arg(o.partition.to_string());
      r.arg(o.next_offset);
    }
  }
  r.command({"EXEC"});
  return out;
}

request undo_request(std::span<const sink_event> events, const batch_plan& plan,
                     const stored_state& stored, const batch_writes& writes) {
  request r;
  r.command({"MULTI"});
  std::unordered_set<std::string_view> seen;
  for (std::size_t i = 0; i < plan.ops.size(); ++i) {
    const auto& key = plan.ops[i].key;
    if (!seen.insert(key).second) continue;  // the entry read for a key is at its first op
    const auto& entry = stored.entries.at(i);
    if (entry) {
      r.command({"HSET", layout::rows_key, key, *entry});
    } else {
      r.command({"HDEL", layout::rows_key, key});
    }
  }
  for (const auto& tid : writes.raised_floors) {
    auto it = stored.floors.find(tid);
    if (it == stored.floors.end() || it->second.empty()) {
      r.command({"HDEL", layout::floors_key, tid});
    } else {
      r.command({"HSET", layout::floors_key, tid, it->second});
    }
    r.command({"HDEL", layout::sweeps_key, tid});
  }
  std::map<std::string, std::int64_t> first;  // "topic/partition" → the batch's first offset
  for (const auto& e : events) {
    auto [it, added] = first.try_emplace(e.record.where().to_string(), e.record.offset);
    if (!added) it->second = std::min(it->second, e.record.offset);
  }
  std::string fence;
  for (const auto& [partition, offset] : first) {
    r.command({"HSET", layout::offsets_key, partition, std::to_string(offset)});
    fence.assign(layout::fence_prefix).append(partition);
    r.command({"INCR", fence});
  }
  r.command({"EXEC"});
  return r;
}

std::vector<std::pair<std::string_view, std::string_view>> json_members(std::string_view s) {
  std::vector<std::pair<std::string_view, std::string_view>> out;
  std::size_t i = 0;
  auto skip_space = [&] {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
  };
  // Past the closing quote of the string whose opening quote is at i.
  auto skip_string = [&] {
    for (++i; i < s.size(); ++i) {
      if (s[i] == '\\') {
        ++i;
      } else if (s[i] == '"') {
        ++i;
        return true;
      }
    }
    return false;
  };
  skip_space();
  if (i >= s.size() || s[i] != '{') return out;
  ++i;
  for (;;) {
    skip_space();
    if (i >= s.size() || s[i] != '"') return out;
    const std::size_t name_at = i + 1;
    if (!skip_string()) return out;
    const std::string_view name = s.substr(name_at, i - 1 - name_at);
    skip_space();
    if (i >= s.size() || s[i] != ':') return out;
    ++i;
    skip_space();
    const std::size_t value_at = i;
    int depth = 0;
    while (i < s.size()) {
      const char c = s[i];
      if (c == '"') {
        if (!skip_string()) return out;
        continue;
      }
      if (c == '{' || c == '[') {
        ++depth;
      } else if (c == '}' || c == ']') {
        if (depth == 0) break;
        --depth;
      } else if (c == ',' && depth == 0) {
        break;
      }
      ++i;
    }
    if (i >= s.size()) return out;
    std::size_t value_end = i;
    while (value_end > value_at && (s[value_end - 1] == ' ' || s[value_end - 1] == '\n')) {
      --value_end;
    }
    out.emplace_back(name, s.substr(value_at, value_end - value_at));
    if (s[i] == '}') return out;
    ++i;  // ','
  }
}

}  // namespace sluice::sinks::redis
