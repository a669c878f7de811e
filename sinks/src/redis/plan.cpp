#include "sluice/sinks/redis/plan.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <map>
#include <type_traits>

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
  char buf[25];
  std::snprintf(buf, sizeof buf, "%016llX%08X", static_cast<unsigned long long>(p.commit_lsn.value),
                static_cast<unsigned>(p.seq));
  return std::string(buf, 24);
}

std::expected<batch_plan, bad_event> plan_batch(std::span<const sink_event> events,
                                                const cache_options& options,
                                                const key_template& key,
                                                const table_id_lookup& table_id,
                                                const std::vector<partition_offset>& offsets) {
  batch_plan plan;
  auto& a = plan.args;
  a.reserve(events.size() * 16 + 16);
  a.emplace_back(options.format == row_format::json ? "j" : "h");
  a.push_back(std::to_string(options.ttl_seconds.value_or(0)));

  // Truncates first: each table's newest truncate position in the batch. Position-based, so
  // where the truncate sits in the batch does not matter (docs/sinks.md).
  std::map<std::string, std::string> floors;
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto& e = events[i];
    if (!e.change || e.change->op != schemas::op::truncate) continue;
    auto tid = table_id(e.table);
    if (!tid)
      return std::unexpected(bad_event{i, "table " + e.table + " is not cached by this sink"});
    auto& floor = floors[*tid];
    floor = std::max(floor, encode_position(e.change->source.pos()));
  }
  a.push_back(std::to_string(floors.size()));
  for (const auto& [tid, floor] : floors) {
    a.push_back(tid);
    a.push_back(floor);
    plan.truncated_table_ids.push_back(tid);
  }

  const std::size_t count_at = a.size();
  a.emplace_back();
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto& e = events[i];
    if (e.change && e.change->op == schemas::op::truncate) continue;
    auto tid = table_id(e.table);
    if (!tid)
      return std::unexpected(bad_event{i, "table " + e.table + " is not cached by this sink"});
    auto rkey = key.render(e.key);
    if (!rkey) return std::unexpected(bad_event{i, rkey.error()});

    if (!e.change) {
      a.emplace_back("X");
      a.push_back(std::move(*rkey));
      a.push_back(*tid);
      a.push_back(e.tombstone_of ? encode_position(*e.tombstone_of) : std::string());
    } else if (e.change->op == schemas::op::remove) {
      a.emplace_back("D");
      a.push_back(std::move(*rkey));
      a.push_back(encode_position(e.change->source.pos()));
      a.push_back(*tid);
    } else {
      if (!e.change->after)
        return std::unexpected(bad_event{i, "a create or update without 'after'"});
      std::vector<std::string> kept;
      for (const auto& c : e.change->unchanged) {
        if (wanted(options, c)) kept.push_back(c);
      }
      if (options.format == row_format::hash) {
        a.emplace_back("U");
        a.push_back(std::move(*rkey));
        a.push_back(encode_position(e.change->source.pos()));
        a.push_back(*tid);
        const std::size_t nf_at = a.size();
        a.emplace_back();
        std::size_t fields = 0;
        for (const auto& c : e.change->after->columns) {
          if (!wanted(options, c.name)) continue;
          auto text = field_text(c.v);
          if (!text) continue;
          a.push_back(c.name);
          a.push_back(std::move(*text));
          ++fields;
        }
        a[nf_at] = std::to_string(fields);
        a.push_back(std::to_string(kept.size()));
        for (auto& k : kept) a.push_back(std::move(k));
      } else {
        a.emplace_back("J");
        a.push_back(std::move(*rkey));
        a.push_back(encode_position(e.change->source.pos()));
        a.push_back(*tid);
        schemas::row doc;
        for (const auto& c : e.change->after->columns) {
          if (wanted(options, c.name)) doc.columns.push_back(c);
        }
        a.push_back(schemas::encode_key(doc));
        a.push_back(std::to_string(kept.size()));
        for (const auto& k : kept) a.push_back(json_name(k));
      }
    }
    plan.event_of_operation.push_back(i);
    ++plan.operations;
  }
  a[count_at] = std::to_string(plan.operations);

  a.push_back(std::to_string(offsets.size()));
  for (const auto& o : offsets) {
    a.push_back(o.partition.to_string());
    a.push_back(std::to_string(o.next_offset));
  }
  return plan;
}

}  // namespace sluice::sinks::redis
