#include "sluice/sinks/event_decoder.hpp"

#include <charconv>
#include <cstdint>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>

namespace sluice::sinks {
namespace {

// Reads the canonical form only; any surprise returns false and the caller falls back.
class scanner {
 public:
  explicit scanner(std::string_view s) : p_(s.data()), end_(s.data() + s.size()) {}

  bool literal(std::string_view text) {
    if (static_cast<std::size_t>(end_ - p_) < text.size()) return false;
    if (std::memcmp(p_, text.data(), text.size()) != 0) return false;
    p_ += text.size();
    return true;
  }
  [[nodiscard]] bool at_end() const { return p_ == end_; }
  [[nodiscard]] char peek() const { return p_ < end_ ? *p_ : '\0'; }

  // A string without escapes or control characters (those go the slow way).
  bool string(std::string& out) {
    if (peek() != '"') return false;
    const char* start = ++p_;
    while (p_ < end_) {
      const auto c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        out.assign(start, p_);
        ++p_;
        return true;
      }
      if (c == '\\' || c < 0x20) return false;
      ++p_;
    }
    return false;
  }

  bool integer(std::int64_t& out) {
    auto [next, ec] = std::from_chars(p_, end_, out);
    if (ec != std::errc() || next == p_) return false;
    if (next < end_ && (*next == '.' || *next == 'e' || *next == 'E')) return false;
    p_ = next;
    return true;
  }

  bool value(schemas::value& out) {
    switch (peek()) {
      case 'n':
        out = schemas::null_value{};
        return literal("null");
      case 't':
        out = true;
        return literal("true");
      case 'f':
        out = false;
        return literal("false");
      case '"': {
        std::string s;
        if (!string(s)) return false;
        out = std::move(s);
        return true;
      }
      case '{':
      case '[':
        return embedded(out);
      default:
        return number(out);
    }
  }

  bool row(schemas::row& out) {
    if (!literal("{")) return false;
    if (literal("}")) return true;
    for (;;) {
      schemas::column_value c;
      if (!string(c.name) || !literal(":") || !value(c.v)) return false;
      out.columns.push_back(std::move(c));
      if (literal("}")) return true;
      if (!literal(",")) return false;
    }
  }

  bool optional_row(std::optional<schemas::row>& out) {
    if (literal("null")) return true;
    out.emplace();
    return row(*out);
  }

 private:
  bool number(schemas::value& out) {
    const char* start = p_;
    bool is_float = false;
    const char* q = p_;
    while (q < end_ && (std::strchr("-+0123456789.eE", *q) != nullptr)) {
      if (*q == '.' || *q == 'e' || *q == 'E') is_float = true;
      ++q;
    }
    if (q == start) return false;
    if (is_float) {
      double d = 0;
      auto [next, ec] = std::from_chars(start, q, d);
      if (ec != std::errc() || next != q) return false;
      out = d;
    } else {
      std::int64_t n = 0;
      auto [next, ec] = std::from_chars(start, q, n);
      if (ec != std::errc() || next != q) return false;  // beyond int64: the slow way
      out = n;
    }
    p_ = q;
    return true;
  }

  // json/jsonb/arrays: find the end, then let nlohmann parse just that part.
  bool embedded(schemas::value& out) {
    const char* start = p_;
    int depth = 0;
    const char* q = p_;
    while (q < end_) {
      const char c = *q;
      if (c == '"') {
        ++q;
        while (q < end_ && *q != '"') q += (*q == '\\') ? 2 : 1;
        if (q >= end_) return false;
      } else if (c == '{' || c == '[') {
        ++depth;
      } else if (c == '}' || c == ']') {
        if (--depth == 0) {
          ++q;
          break;
        }
      }
      ++q;
    }
    if (depth != 0) return false;
    auto j = nlohmann::json::parse(start, q, nullptr, false);
    if (j.is_discarded()) return false;
    out = schemas::from_json(j);
    p_ = q;
    return true;
  }

  const char* p_;
  const char* end_;
};

bool lsn_field(scanner& s, std::string_view name, schemas::lsn& out) {
  std::string text;
  if (!s.literal(name) || !s.string(text)) return false;
  auto parsed = schemas::lsn::parse(text);
  if (!parsed) return false;
  out = *parsed;
  return true;
}

std::optional<schemas::change_event> fast_event(std::string_view json) {
  scanner s(json);
  schemas::change_event e;
  std::string op;
  if (!s.literal(R"({"op":)") || !s.string(op) || op.size() != 1) return std::nullopt;
  switch (op[0]) {
    case 'c':
    case 'u':
    case 'd':
    case 'r':
    case 't':
      e.op = static_cast<schemas::op>(op[0]);
      break;
    default:
      return std::nullopt;
  }
  if (!s.literal(R"(,"before":)") || !s.optional_row(e.before)) return std::nullopt;
  if (!s.literal(R"(,"after":)") || !s.optional_row(e.after)) return std::nullopt;
  if (!s.literal(R"(,"unchanged":[)")) return std::nullopt;
  if (!s.literal("]")) {
    for (;;) {
      std::string name;
      if (!s.string(name)) return std::nullopt;
      e.unchanged.push_back(std::move(name));
      if (s.literal("]")) break;
      if (!s.literal(",")) return std::nullopt;
    }
  }
  auto& src = e.source;
  std::int64_t seq = 0;
  if (!s.literal(R"(,"source":{"connector":)") || !s.string(src.connector) ||
      !s.literal(R"(,"version":)") || !s.string(src.version) || !s.literal(R"(,"db":)") ||
      !s.string(src.db) || !s.literal(R"(,"schema":)") || !s.string(src.schema) ||
      !s.literal(R"(,"table":)") || !s.string(src.table) ||
      !lsn_field(s, R"(,"lsn":)", src.change_lsn) ||
      !lsn_field(s, R"(,"commit_lsn":)", src.commit_lsn) || !s.literal(R"(,"seq":)") ||
      !s.integer(seq) || !s.literal(R"(,"txId":)") || !s.integer(src.tx_id) ||
      !s.literal(R"(,"ts_ms":)") || !s.integer(src.ts_ms) || !s.literal(R"(,"snapshot":)")) {
    return std::nullopt;
  }
  if (s.literal("true")) {
    src.snapshot = true;
  } else if (!s.literal("false")) {
    return std::nullopt;
  }
  if (!s.literal(R"(},"ts_ms":)") || !s.integer(e.ts_ms) || !s.literal("}") || !s.at_end()) {
    return std::nullopt;
  }
  if (seq < 0 || seq > std::numeric_limits<std::uint32_t>::max() || src.tx_id < 0) {
    return std::nullopt;
  }
  src.seq = static_cast<std::uint32_t>(seq);
  // The envelope's rules per op (docs/events.md); a breach goes to decode_event for its message.
  using schemas::op;
  const bool before_ok = e.op == op::update || (e.op == op::remove) == e.before.has_value();
  const bool after_ok = (e.op == op::remove || e.op == op::truncate) != e.after.has_value();
  if (!before_ok || !after_ok) return std::nullopt;
  if (!e.unchanged.empty()) {
    if (e.op != op::update && e.op != op::create) return std::nullopt;
    for (const auto& name : e.unchanged) {
      if (e.after->find(name) != nullptr) return std::nullopt;
    }
  }
  return e;
}

}  // namespace

std::expected<schemas::change_event, schemas::decode_error> decode_value(std::string_view json) {
  if (auto e = fast_event(json)) {
    // Byte-exact round trip: what decode_event would read from these bytes is this event.
    thread_local std::string again;
    again.clear();
    schemas::encode_event(*e, again);
    if (again == json) return std::move(*e);
  }
  return schemas::decode_event(json);
}

std::expected<schemas::row, schemas::decode_error> decode_key(std::string_view json) {
  scanner s(json);
  schemas::row r;
  if (s.row(r) && s.at_end()) {
    thread_local std::string again;
    again.clear();
    schemas::encode_key(r, again);
    if (again == json) return r;
  }
  return schemas::decode_key(json);
}

}  // namespace sluice::sinks
