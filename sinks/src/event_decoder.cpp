#include "sluice/sinks/event_decoder.hpp"

#include <array>
#include <bit>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>

namespace sluice::sinks {
namespace {

// What scanner::string does with each byte inside a string.
enum class string_byte : std::uint8_t {
  plain,      // printable ASCII: the encoder writes it as it is
  non_ascii,  // part of a UTF-8 sequence: the encoder checks (and may replace) the sequence
  quote,      // the end of the string
  escape,     // backslash or control character: escapes go the slow way
};

constexpr std::array<string_byte, 256> make_string_bytes() {
  std::array<string_byte, 256> kinds{};
  for (std::size_t b = 0; b < 256; ++b) {
    if (b == '"') {
      kinds[b] = string_byte::quote;
    } else if (b < 0x20 || b == '\\') {
      kinds[b] = string_byte::escape;
    } else if (b >= 0x80) {
      kinds[b] = string_byte::non_ascii;
    } else {
      kinds[b] = string_byte::plain;
    }
  }
  return kinds;
}

constexpr auto string_bytes = make_string_bytes();

// The first byte at or after `p` that scanner::string must look at (quote, backslash, control
// or non-ASCII), eight bytes at a time: strings are mostly plain ASCII. The tests are the
// classic "has a zero byte" and "has a byte less than n" (Hacker's Delight, 6-1); in a word
// read little-endian, the lowest flagged byte is exact (borrows only carry upwards), and the
// last bytes of the text are left to the byte loop.
const char* skip_plain(const char* p, const char* end) {
  static_assert(std::endian::native == std::endian::little);
  constexpr std::uint64_t ones = 0x0101010101010101;
  constexpr std::uint64_t high_bits = 0x8080808080808080;
  while (end - p >= 8) {
    std::uint64_t word;
    std::memcpy(&word, p, 8);
    const std::uint64_t control = word - ones * 0x20;
    const std::uint64_t quote = (word ^ (ones * '"')) - ones;
    const std::uint64_t backslash = (word ^ (ones * '\\')) - ones;
    const std::uint64_t flagged = (((control | quote | backslash) & ~word) | word) & high_bits;
    if (flagged != 0) return p + std::countr_zero(flagged) / 8;
    p += 8;
  }
  return p;
}

bool is_number_char(char c) {
  return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

// True if the encoder writes string `s` as exactly `"s"`, i.e. leaves its bytes alone. Only
// asked for strings with non-ASCII bytes: the encoder replaces ill-formed UTF-8 with U+FFFD.
bool encodes_as_itself(std::string_view s) {
  thread_local std::string encoded;
  encoded.clear();
  schemas::append_json_string(encoded, s);
  return encoded.size() == s.size() + 2 && std::string_view(encoded).substr(1, s.size()) == s;
}

// True if the encoder writes `v` as exactly `text`. Used for doubles and embedded JSON, whose
// forms (shortest round-trip doubles, nlohmann's dump) are the encoder's business: `v` is
// encoded as the only column of a key, {"":<v>}, by the encoder itself. `v` is lent, not copied.
bool encodes_as(schemas::value& v, std::string_view text) {
  thread_local schemas::row holder{{schemas::column_value{}}};
  thread_local std::string encoded;
  std::swap(holder.columns[0].v, v);
  encoded.clear();
  schemas::encode_key(holder, encoded);
  std::swap(holder.columns[0].v, v);
  constexpr std::string_view prefix = R"({"":)";
  return encoded.size() == prefix.size() + text.size() + 1 &&
         std::string_view(encoded).substr(prefix.size(), text.size()) == text;
}

// One half of an LSN as Postgres prints it ("%X"), which is what the encoder writes: 1-8
// uppercase hex digits, no leading zero.
bool canonical_lsn_half(std::string_view digits, std::uint64_t& out) {
  if (digits.empty() || digits.size() > 8 || (digits.size() > 1 && digits[0] == '0')) {
    return false;
  }
  out = 0;
  for (const char c : digits) {
    std::uint64_t d = 0;
    if (c >= '0' && c <= '9') {
      d = static_cast<std::uint64_t>(c - '0');
    } else if (c >= 'A' && c <= 'F') {
      d = static_cast<std::uint64_t>(c - 'A' + 10);
    } else {
      return false;
    }
    out = out * 16 + d;
  }
  return true;
}

// Reads the canonical form only: byte for byte what encode_event and encode_key write. Each
// token is checked against the encoder's form as it is read (the structure between tokens is
// matched literally), so input the scanner accepts is input the encoder would write for the
// result, and schemas::decode_event would read back that same result. Any surprise returns
// false and the caller falls back.
class scanner {
 public:
  explicit scanner(std::string_view s) : p_(s.data()), end_(s.data() + s.size()) {}

  // A template on the literal's length, so that the comparison compiles to a few loads
  // instead of a call to memcmp: the envelope has some thirty literals per event.
  template <std::size_t N>
  bool literal(const char (&text)[N]) {
    constexpr std::size_t size = N - 1;  // N counts the terminating NUL
    if (static_cast<std::size_t>(end_ - p_) < size) return false;
    if (std::memcmp(p_, text, size) != 0) return false;
    p_ += size;
    return true;
  }
  [[nodiscard]] bool at_end() const { return p_ == end_; }
  [[nodiscard]] char peek() const { return p_ < end_ ? *p_ : '\0'; }

  // A string's contents, without escapes or control characters (those go the slow way), as
  // the encoder would write them.
  bool string(std::string_view& out) {
    if (peek() != '"') return false;
    const char* start = ++p_;
    bool ascii = true;
    for (p_ = skip_plain(p_, end_); p_ < end_; ++p_) {
      switch (string_bytes[static_cast<unsigned char>(*p_)]) {
        case string_byte::plain:
          break;
        case string_byte::non_ascii:
          ascii = false;
          break;
        case string_byte::quote:
          out = std::string_view(start, static_cast<std::size_t>(p_ - start));
          ++p_;
          return ascii || encodes_as_itself(out);
        case string_byte::escape:
          return false;
      }
    }
    return false;
  }
  bool string(std::string& out) {
    std::string_view text;
    if (!string(text)) return false;
    // A recycled event mostly holds the same column names and source fields already.
    if (out != text) out.assign(text);
    return true;
  }

  // An integer as the encoder writes it (std::to_chars): no '+', no leading zeros, no "-0".
  bool integer(std::int64_t& out) {
    const char* start = p_;
    while (p_ < end_ && is_number_char(*p_)) ++p_;
    return canonical_integer(start, p_, out);
  }

  bool lsn(schemas::lsn& out) {
    std::string_view text;
    if (!string(text)) return false;
    const auto slash = text.find('/');
    std::uint64_t high = 0;
    std::uint64_t low = 0;
    if (slash == std::string_view::npos || !canonical_lsn_half(text.substr(0, slash), high) ||
        !canonical_lsn_half(text.substr(slash + 1), low)) {
      return false;
    }
    out = schemas::lsn{(high << 32) | low};
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
        std::string_view text;
        if (!string(text)) return false;
        if (auto* held = std::get_if<std::string>(&out)) {
          held->assign(text);  // keeps the string's buffer
        } else {
          out.emplace<std::string>(text);
        }
        return true;
      }
      case '{':
      case '[':
        return embedded(out);
      default:
        return number(out);
    }
  }

  // Overwrites `out`, reusing the columns it has (and their strings' buffers).
  bool row(schemas::row& out) {
    if (!literal("{")) return false;
    auto& columns = out.columns;
    std::size_t count = 0;
    if (!literal("}")) {
      for (;;) {
        if (count == columns.size()) columns.emplace_back();
        auto& c = columns[count++];
        if (!string(c.name) || !literal(":") || !value(c.v)) return false;
        if (literal("}")) break;
        if (!literal(",")) return false;
      }
    }
    columns.resize(count);
    return true;
  }

  bool optional_row(std::optional<schemas::row>& out) {
    if (literal("null")) {
      out.reset();
      return true;
    }
    if (!out) out.emplace();
    return row(*out);
  }

 private:
  // An integer as std::to_chars writes it: an optional '-' and digits, without leading zeros,
  // 0 as "0" (never "-0").
  static bool canonical_integer(const char* begin, const char* end, std::int64_t& out) {
    const bool negative = begin != end && *begin == '-';
    const char* digits = negative ? begin + 1 : begin;
    const std::ptrdiff_t count = end - digits;
    if (count == 0 || (*digits == '0' && (count > 1 || negative))) return false;
    if (count > 18) {  // may be beyond int64 (then the slow way): from_chars checks the range
      auto [next, ec] = std::from_chars(begin, end, out);
      return ec == std::errc() && next == end;
    }
    std::int64_t n = 0;
    for (const char* p = digits; p != end; ++p) {
      if (*p < '0' || *p > '9') return false;
      n = n * 10 + (*p - '0');
    }
    out = negative ? -n : n;
    return true;
  }

  bool number(schemas::value& out) {
    const char* start = p_;
    bool is_float = false;
    const char* q = p_;
    while (q < end_ && is_number_char(*q)) {
      if (*q == '.' || *q == 'e' || *q == 'E') is_float = true;
      ++q;
    }
    if (q == start) return false;
    if (is_float) {
      double d = 0;
      auto [next, ec] = std::from_chars(start, q, d);
      if (ec != std::errc() || next != q) return false;
      out = d;
      if (!encodes_as(out, std::string_view(start, static_cast<std::size_t>(q - start)))) {
        return false;
      }
    } else {
      std::int64_t n = 0;
      if (!canonical_integer(start, q, n)) return false;
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
    if (!encodes_as(out, std::string_view(start, static_cast<std::size_t>(q - start)))) {
      return false;
    }
    p_ = q;
    return true;
  }

  const char* p_;
  const char* end_;
};

template <std::size_t N>
bool lsn_field(scanner& s, const char (&name)[N], schemas::lsn& out) {
  return s.literal(name) && s.lsn(out);
}

// Reads `json` into `e`, overwriting every field and reusing the memory `e` holds. On false,
// `e` is left half-written.
bool fast_event(std::string_view json, schemas::change_event& e) {
  scanner s(json);
  std::string_view op;
  if (!s.literal(R"({"op":)") || !s.string(op) || op.size() != 1) return false;
  switch (op[0]) {
    case 'c':
    case 'u':
    case 'd':
    case 'r':
    case 't':
      e.op = static_cast<schemas::op>(op[0]);
      break;
    default:
      return false;
  }
  if (!s.literal(R"(,"before":)") || !s.optional_row(e.before)) return false;
  if (!s.literal(R"(,"after":)") || !s.optional_row(e.after)) return false;
  if (!s.literal(R"(,"unchanged":[)")) return false;
  std::size_t unchanged = 0;
  if (!s.literal("]")) {
    for (;;) {
      if (unchanged == e.unchanged.size()) e.unchanged.emplace_back();
      if (!s.string(e.unchanged[unchanged++])) return false;
      if (s.literal("]")) break;
      if (!s.literal(",")) return false;
    }
  }
  e.unchanged.resize(unchanged);
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
    return false;
  }
  if (s.literal("true")) {
    src.snapshot = true;
  } else if (s.literal("false")) {
    src.snapshot = false;
  } else {
    return false;
  }
  if (!s.literal(R"(},"ts_ms":)") || !s.integer(e.ts_ms) || !s.literal("}") || !s.at_end()) {
    return false;
  }
  if (seq < 0 || seq > std::numeric_limits<std::uint32_t>::max() || src.tx_id < 0) {
    return false;
  }
  src.seq = static_cast<std::uint32_t>(seq);
  // The envelope's rules per op (docs/events.md); a breach goes to decode_event for its message.
  using schemas::op;
  const bool before_ok = e.op == op::update || (e.op == op::remove) == e.before.has_value();
  const bool after_ok = (e.op == op::remove || e.op == op::truncate) != e.after.has_value();
  if (!before_ok || !after_ok) return false;
  if (!e.unchanged.empty()) {
    if (e.op != op::update && e.op != op::create) return false;
    for (const auto& name : e.unchanged) {
      if (e.after->find(name) != nullptr) return false;
    }
  }
  return true;
}

}  // namespace

std::expected<void, schemas::decode_error> decode_value(std::string_view json,
                                                        schemas::change_event& out) {
  if (fast_event(json, out)) return {};
  auto decoded = schemas::decode_event(json);
  if (!decoded) return std::unexpected(std::move(decoded.error()));
  out = std::move(*decoded);
  return {};
}

std::expected<void, schemas::decode_error> decode_key(std::string_view json, schemas::row& out) {
  scanner s(json);
  if (s.row(out) && s.at_end()) return {};
  auto decoded = schemas::decode_key(json);
  if (!decoded) return std::unexpected(std::move(decoded.error()));
  out = std::move(*decoded);
  return {};
}

std::expected<schemas::change_event, schemas::decode_error> decode_value(std::string_view json) {
  schemas::change_event e;
  if (auto ok = decode_value(json, e); !ok) return std::unexpected(std::move(ok.error()));
  return e;
}

std::expected<schemas::row, schemas::decode_error> decode_key(std::string_view json) {
  schemas::row r;
  if (auto ok = decode_key(json, r); !ok) return std::unexpected(std::move(ok.error()));
  return r;
}

}  // namespace sluice::sinks
