#include "yaml_reader.hpp"

#include <algorithm>
#include <charconv>
#include <map>

#include "sluice/config/redact.hpp"

namespace sluice::config::detail {
namespace {

std::string_view describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return "a scalar";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a map";
    default:
      return "an empty value";
  }
}

// Optimal string alignment distance: Levenshtein plus adjacent transpositions, the most
// common typo ("tabels").
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

std::string list_keys(key_list keys) {
  std::string out;
  for (auto key : keys) out += (out.empty() ? "" : ", ") + std::string(key);
  return out;
}

}  // namespace

YAML::Mark field::mark() const {
  return value.IsNull() ? key.Mark() : value.Mark();
}

const field* map_node::find(std::string_view key) const {
  auto it = std::ranges::find(fields, key, &field::label);
  return it == fields.end() ? nullptr : &*it;
}

std::string map_node::where() const {
  return path.empty() ? "at the top level" : "in " + path;
}

std::string quote(std::string_view value) {
  return "'" + redact(value) + "'";
}

std::optional<std::string_view> closest_key(std::string_view unknown, key_list allowed) {
  // Short keys tolerate one edit, longer ones two; a prefix either way ("heartbeat" for
  // "heartbeat_seconds", "ttl_seconds" for "ttl") is also a likely slip.
  std::size_t limit = std::clamp<std::size_t>(unknown.size() / 3, 1, 2);
  std::optional<std::string_view> best;
  std::size_t best_distance = limit + 1;
  for (auto key : allowed) {
    std::size_t distance = edit_distance(unknown, key);
    bool prefix = std::min(unknown.size(), key.size()) >= 3 &&
                  (key.starts_with(unknown) || unknown.starts_with(key));
    if (distance < best_distance || (prefix && !best)) {
      best = key;
      best_distance = std::min(distance, limit);
    }
  }
  return best;
}

void yaml_reader::report(const YAML::Mark& at, std::string message) {
  // yaml-cpp marks are 0-based; a node built without a position (empty document) has -1.
  diagnostics_.push_back(
      {file_, std::max(at.line, 0) + 1, std::max(at.column, 0) + 1, std::move(message)});
}

std::vector<diagnostic> yaml_reader::take_diagnostics() {
  auto by_position = [](const diagnostic& d) { return std::pair(d.line, d.column); };
  std::ranges::stable_sort(diagnostics_, {}, by_position);
  std::vector<diagnostic> unique;
  for (auto& d : diagnostics_) {
    bool repeat = std::ranges::any_of(unique, [&](const diagnostic& kept) {
      return kept.line == d.line && kept.column == d.column && kept.message == d.message;
    });
    if (!repeat) unique.push_back(std::move(d));
  }
  diagnostics_.clear();
  return unique;
}

void yaml_reader::report_type(const field& f, std::string_view expected) {
  report(f.mark(),
         f.label + " must be " + std::string(expected) + ", got " + std::string(describe(f.value)));
}

std::optional<map_node> yaml_reader::map(const YAML::Node& node, const YAML::Mark& at,
                                         std::string label, std::string path, key_list allowed) {
  if (!node.IsMap()) {
    report(node.IsNull() ? at : node.Mark(),
           label + " must be a map, got " + std::string(describe(node)));
    return std::nullopt;
  }
  map_node m{std::move(path), node.Mark(), {}, {}};
  // yaml-cpp keeps every pair of a map, duplicates included, and lookups return the first:
  // so duplicates are found here, and the first occurrence is the one used.
  std::map<std::string, int, std::less<>> first_line;
  for (const auto& pair : node) {
    const YAML::Node& key = pair.first;
    if (!key.IsScalar()) {
      report(key.Mark(),
             "keys must be plain names, got " + std::string(describe(key)) + " " + m.where());
      continue;
    }
    const std::string& name = key.Scalar();
    if (auto seen = first_line.find(name); seen != first_line.end()) {
      report(key.Mark(),
             "duplicate key '" + name + "' (first at line " + std::to_string(seen->second) + ")");
      continue;
    }
    first_line.emplace(name, key.Mark().line + 1);
    if (!allowed.empty() && std::ranges::find(allowed, name) == allowed.end()) {
      std::string message = "unknown key '" + name + "' " + m.where();
      if (auto guess = closest_key(name, allowed)) {
        message += "; did you mean '" + std::string(*guess) + "'?";
        m.suggested.push_back(*guess);
      } else {
        message += " (expected one of: " + list_keys(allowed) + ")";
      }
      report(key.Mark(), std::move(message));
      continue;
    }
    m.fields.push_back({name, key, pair.second});
  }
  return m;
}

std::optional<map_node> yaml_reader::map(const field& f, const map_node& parent, key_list allowed) {
  std::string path = parent.path.empty() ? f.label : parent.path + "." + f.label;
  return map(f.value, f.key.Mark(), f.label, std::move(path), allowed);
}

std::optional<std::vector<field>> yaml_reader::list(const field& f, std::string_view what) {
  if (!f.value.IsSequence()) {
    report_type(f, "a list of " + std::string(what));
    return std::nullopt;
  }
  std::vector<field> entries;
  for (const auto& entry : f.value) entries.push_back({"each entry of " + f.label, f.key, entry});
  return entries;
}

const field* yaml_reader::require(const map_node& m, std::string_view key) {
  const field* f = m.find(key);
  if (f == nullptr && std::ranges::find(m.suggested, key) == m.suggested.end()) {
    report(m.mark, "missing required key '" + std::string(key) + "' " + m.where());
  }
  return f;
}

std::optional<std::string> yaml_reader::text(const field& f) {
  if (!f.value.IsScalar()) {
    report_type(f, "a string");
    return std::nullopt;
  }
  auto value = interpolate(f.value.Scalar(), env_);
  if (!value) {
    for (auto& message : value.error()) report(f.mark(), std::move(message));
    return std::nullopt;
  }
  return std::move(*value);
}

std::optional<std::string> yaml_reader::required_text(const map_node& m, std::string_view key) {
  const field* f = require(m, key);
  if (f == nullptr) return std::nullopt;
  auto value = text(*f);
  if (value && value->empty()) {
    report(f->mark(), f->label + " must not be empty");
    return std::nullopt;
  }
  return value;
}

std::optional<std::string> yaml_reader::optional_text(const map_node& m, std::string_view key) {
  const field* f = m.find(key);
  return f == nullptr ? std::nullopt : text(*f);
}

std::optional<int> yaml_reader::integer(const field& f, int minimum) {
  auto value = text(f);
  if (!value) return std::nullopt;
  int number = 0;
  const char* end = value->data() + value->size();
  auto [stop, error] = std::from_chars(value->data(), end, number);
  if (error == std::errc::result_out_of_range && stop == end) {
    report(f.mark(), f.label + " is too large, got " + *value);
    return std::nullopt;
  }
  if (error != std::errc{} || stop != end) {
    report(f.mark(), f.label + " must be an integer, got " + quote(*value));
    return std::nullopt;
  }
  if (number < minimum) {
    report(f.mark(), f.label + " must be at least " + std::to_string(minimum) + ", got " + *value);
    return std::nullopt;
  }
  return number;
}

int yaml_reader::integer_or(const map_node& m, std::string_view key, int fallback, int minimum) {
  const field* f = m.find(key);
  if (f == nullptr) return fallback;
  return integer(*f, minimum).value_or(fallback);
}

bool yaml_reader::boolean_or(const map_node& m, std::string_view key, bool fallback) {
  const field* f = m.find(key);
  if (f == nullptr) return fallback;
  auto value = text(*f);
  if (value == "true") return true;
  if (value == "false") return false;
  // YAML 1.1's yes/no/on/off are refused: "no" silently meaning false surprises people.
  if (value) report(f->mark(), f->label + " must be true or false, got " + quote(*value));
  return fallback;
}

}  // namespace sluice::config::detail
