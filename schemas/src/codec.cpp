#include "sluice/schemas/codec.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <limits>
#include <nlohmann/json.hpp>
#include <type_traits>
#include <utility>

#include "lsn_format.hpp"

namespace sluice::schemas {

namespace {

// ---------------------------------------------------------------------------------------------
// Encoding. Capture calls this once per row change, so it writes through a raw pointer into the
// caller's buffer: no DOM, no temporary strings for numbers or LSNs, one capacity check per
// token instead of one per byte.

/// Appends to a std::string through a pointer. reserve(n) guarantees room for n more bytes and
/// returns where to write them; commit(end) records how far was written. The string is cut to
/// the committed length when the writer goes away.
class writer {
 public:
  explicit writer(std::string& out) : out_(out), length_(out.size()) {}
  writer(const writer&) = delete;
  writer& operator=(const writer&) = delete;
  ~writer() { out_.resize(length_); }

  [[nodiscard]] char* reserve(std::size_t n) {
    if (out_.size() - length_ < n) grow(n);
    return out_.data() + length_;
  }
  void commit(const char* end) { length_ = static_cast<std::size_t>(end - out_.data()); }

  void bytes(const char* data, std::size_t n) {
    char* p = reserve(n);
    std::memcpy(p, data, n);
    length_ += n;
  }
  template <std::size_t N>
  void literal(const char (&text)[N]) {
    bytes(text, N - 1);  // N counts the terminating NUL
  }
  void put(char c) {
    *reserve(1) = c;
    ++length_;
  }

 private:
  void grow(std::size_t n) {
    // Take the capacity the caller's buffer already has before allocating (capture reuses one
    // buffer per event), then double. resize_and_overwrite skips zero-filling bytes that are
    // about to be overwritten.
    const std::size_t wanted =
        std::max({length_ + n, out_.capacity(), 2 * out_.size(), std::size_t{256}});
    out_.resize_and_overwrite(wanted, [](char*, std::size_t size) { return size; });
  }

  std::string& out_;
  std::size_t length_;
};

// What write_string must do with each byte: copy it, escape it, or check the UTF-8 sequence it
// starts.
enum class byte_kind : std::uint8_t { plain, escape, non_ascii };

constexpr std::array<byte_kind, 256> make_byte_kinds() {
  std::array<byte_kind, 256> kinds{};
  for (std::size_t b = 0; b < 256; ++b) {
    if (b < 0x20 || b == '"' || b == '\\') {
      kinds[b] = byte_kind::escape;
    } else if (b >= 0x80) {
      kinds[b] = byte_kind::non_ascii;
    } else {
      kinds[b] = byte_kind::plain;
    }
  }
  return kinds;
}

constexpr auto byte_kinds = make_byte_kinds();

constexpr char replacement_character[] = "\xEF\xBF\xBD";  // U+FFFD in UTF-8
constexpr std::size_t replacement_length = sizeof replacement_character - 1;
constexpr std::size_t max_escape_length = 6;  // \u00XX

struct utf8_scan {
  std::size_t length;  // bytes consumed: the whole sequence, or its longest ill-formed prefix
  bool valid;
};

// Checks the UTF-8 sequence starting at s[i] (s[i] >= 0x80) against the well-formed byte
// sequences of the Unicode Standard, table 3-7: no overlong forms, no surrogates, nothing above
// U+10FFFF. An ill-formed sequence reports its "maximal subpart" so that it is replaced by one
// U+FFFD, as Unicode recommends and as most decoders do.
utf8_scan scan_utf8(std::string_view s, std::size_t i) {
  const auto lead = static_cast<unsigned char>(s[i]);
  std::size_t continuation = 0;
  unsigned char second_min = 0x80;
  unsigned char second_max = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    continuation = 1;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    continuation = 2;
    if (lead == 0xE0) second_min = 0xA0;  // overlong
    if (lead == 0xED) second_max = 0x9F;  // UTF-16 surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    continuation = 3;
    if (lead == 0xF0) second_min = 0x90;  // overlong
    if (lead == 0xF4) second_max = 0x8F;  // above U+10FFFF
  } else {
    return {1, false};  // stray continuation byte, C0/C1 (always overlong) or F5..FF
  }
  std::size_t length = 1;
  for (std::size_t k = 0; k < continuation; ++k, ++length) {
    if (i + length >= s.size()) return {length, false};
    const auto b = static_cast<unsigned char>(s[i + length]);
    const unsigned char lo = k == 0 ? second_min : 0x80;
    const unsigned char hi = k == 0 ? second_max : 0xBF;
    if (b < lo || b > hi) return {length, false};
  }
  return {length, true};
}

// JSON's two-character escapes, indexed by byte; 0 where there is none.
constexpr std::array<char, 0x60> make_short_escapes() {
  std::array<char, 0x60> forms{};
  forms['"'] = '"';
  forms['\\'] = '\\';
  forms['\b'] = 'b';
  forms['\f'] = 'f';
  forms['\n'] = 'n';
  forms['\r'] = 'r';
  forms['\t'] = 't';
  return forms;
}

constexpr auto short_escapes = make_short_escapes();

// `c` is a byte byte_kinds marks as escape: a control character, '"' or '\\'.
char* write_escape(char* p, unsigned char c) {
  // The short forms where JSON has them, \u00XX for the other control characters: the same
  // choice as nlohmann::json's dump, so embedded JSON and our own strings look alike.
  const char short_form = short_escapes[c];
  *p++ = '\\';
  if (short_form != 0) {
    *p++ = short_form;
    return p;
  }
  constexpr char hex[] = "0123456789abcdef";
  *p++ = 'u';
  *p++ = '0';
  *p++ = '0';
  *p++ = hex[c >> 4];
  *p++ = hex[c & 0xF];
  return p;
}

// Returns the index of the first byte at or after i, in whole 8-byte words, that might need
// attention (control character, quote, backslash or non-ASCII); the byte loop takes over from
// there. Column values are mostly plain ASCII, and this checks eight bytes per step.
std::size_t skip_plain_words(const char* data, std::size_t i, std::size_t size) {
  constexpr std::uint64_t ones = 0x0101010101010101;
  constexpr std::uint64_t high_bits = 0x8080808080808080;
  while (i + 8 <= size) {
    std::uint64_t word;
    std::memcpy(&word, data + i, 8);
    // The classic "has a byte less than n" and "has a zero byte" tests (Hacker's Delight, 6-1),
    // plus the high bit for non-ASCII; any hit sends this word to the byte loop.
    const std::uint64_t control = word - ones * 0x20;
    const std::uint64_t quote = (word ^ (ones * '"')) - ones;
    const std::uint64_t backslash = (word ^ (ones * '\\')) - ones;
    if (((control | quote | backslash) & ~word & high_bits) != 0 || (word & high_bits) != 0) {
      break;
    }
    i += 8;
  }
  return i;
}

void write_string(writer& w, std::string_view s) {
  // Room for the string copied as is plus the quotes; each escape or replacement reserves its
  // extra bytes when it happens, so a long plain string costs one check and a few memcpys.
  char* p = w.reserve(s.size() + 2);
  *p++ = '"';
  const char* data = s.data();
  std::size_t run_start = 0;  // first byte not yet copied to p
  std::size_t i = 0;
  while (i < s.size()) {
    i = skip_plain_words(data, i, s.size());
    if (i == s.size()) break;
    const auto c = static_cast<unsigned char>(data[i]);
    const byte_kind kind = byte_kinds[c];
    if (kind == byte_kind::plain) {
      ++i;
      continue;
    }
    utf8_scan scan{1, false};
    if (kind == byte_kind::non_ascii) {
      // Postgres text in a UTF8 database is valid UTF-8, but a SQL_ASCII database passes
      // arbitrary bytes through; one U+FFFD per bad sequence keeps the event valid JSON.
      scan = scan_utf8(s, i);
      if (scan.valid) {
        i += scan.length;
        continue;
      }
    }
    std::memcpy(p, data + run_start, i - run_start);
    p += i - run_start;
    w.commit(p);
    p = w.reserve(max_escape_length + (s.size() - i) + 1);
    if (kind == byte_kind::escape) {
      p = write_escape(p, c);
      ++i;
    } else {
      std::memcpy(p, replacement_character, replacement_length);
      p += replacement_length;
      i += scan.length;
    }
    run_start = i;
  }
  std::memcpy(p, data + run_start, i - run_start);
  p += i - run_start;
  *p++ = '"';
  w.commit(p);
}

void write_int(writer& w, std::int64_t n) {
  char* p = w.reserve(20);  // "-9223372036854775808"
  w.commit(std::to_chars(p, p + 20, n).ptr);
}

void write_double(writer& w, double d) {
  // The capture mapper turns NaN and infinities into these strings before they get here; should
  // one slip through, it is written the same way rather than as a bare token that is not JSON.
  if (std::isnan(d)) {
    w.literal("\"NaN\"");
    return;
  }
  if (std::isinf(d)) {
    if (d > 0) {
      w.literal("\"Infinity\"");
    } else {
      w.literal("\"-Infinity\"");
    }
    return;
  }
  // Shortest representation that reads back to the same double: at most 24 characters
  // ("-2.2250738585072014e-308"); room for ".0" after it.
  constexpr std::size_t max_double_chars = 30;
  char* begin = w.reserve(max_double_chars + 2);
  char* end = std::to_chars(begin, begin + max_double_chars, d).ptr;
  // "1" would decode as an integer; keep a double a double.
  if (std::find_if(begin, end, [](char c) { return c == '.' || c == 'e'; }) == end) {
    *end++ = '.';
    *end++ = '0';
  }
  w.commit(end);
}

void write_lsn(writer& w, lsn l) {
  char* p = w.reserve(detail::max_lsn_chars + 2);
  *p++ = '"';
  p = detail::format_lsn(l, p);
  *p++ = '"';
  w.commit(p);
}

void write_value(writer& w, const value& v) {
  std::visit(
      [&w](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, null_value>) {
          w.literal("null");
        } else if constexpr (std::is_same_v<T, bool>) {
          if (x) {
            w.literal("true");
          } else {
            w.literal("false");
          }
        } else if constexpr (std::is_same_v<T, std::int64_t>) {
          write_int(w, x);
        } else if constexpr (std::is_same_v<T, double>) {
          write_double(w, x);
        } else if constexpr (std::is_same_v<T, std::string>) {
          write_string(w, x);
        } else {
          static_assert(std::is_same_v<T, nlohmann::json>);
          // Compact; `replace` turns invalid UTF-8 into U+FFFD instead of throwing, as
          // write_string does.
          const std::string dumped =
              x.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
          w.bytes(dumped.data(), dumped.size());
        }
      },
      v);
}

void write_row(writer& w, const row& r) {
  w.put('{');
  bool first = true;
  for (const auto& column : r.columns) {
    if (!first) w.put(',');
    first = false;
    write_string(w, column.name);
    w.put(':');
    write_value(w, column.v);
  }
  w.put('}');
}

void write_optional_row(writer& w, const std::optional<row>& r) {
  if (r) {
    write_row(w, *r);
  } else {
    w.literal("null");
  }
}

bool is_known_op(op o) {
  switch (o) {
    case op::create:
    case op::update:
    case op::remove:
    case op::read:
    case op::truncate:
      return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Decoding. Sinks call this; it checks everything the JSON Schema checks (and says which field
// was wrong), so a sink never acts on a half-understood event.

// ordered_json keeps object members in document order, which is the row's column order.
using document = nlohmann::ordered_json;

std::unexpected<decode_error> fail(std::string message) {
  return std::unexpected(decode_error{std::move(message)});
}

std::string describe(const document& j) {
  return j.type_name();
}

// Embedded values are nlohmann::json (the model's type); convert from the ordered parse.
nlohmann::json to_plain_json(const document& j) {
  switch (j.type()) {
    case document::value_t::object: {
      auto o = nlohmann::json::object();
      for (const auto& [k, v] : j.items()) o[k] = to_plain_json(v);
      return o;
    }
    case document::value_t::array: {
      auto a = nlohmann::json::array();
      for (const auto& v : j) a.push_back(to_plain_json(v));
      return a;
    }
    case document::value_t::null:
      return nullptr;
    case document::value_t::boolean:
      return j.get<bool>();
    case document::value_t::number_integer:
      return j.get<std::int64_t>();
    case document::value_t::number_unsigned:
      return j.get<std::uint64_t>();
    case document::value_t::number_float:
      return j.get<double>();
    case document::value_t::string:
      return j.get<std::string>();
    default:
      return nullptr;  // binary and discarded values never come out of a JSON text parse
  }
}

value to_value(const document& j) {
  switch (j.type()) {
    case document::value_t::object:
    case document::value_t::array:
    case document::value_t::number_unsigned:
      return from_json(to_plain_json(j));
    case document::value_t::null:
      return null_value{};
    case document::value_t::boolean:
      return j.get<bool>();
    case document::value_t::number_integer:
      return j.get<std::int64_t>();
    case document::value_t::number_float:
      return j.get<double>();
    case document::value_t::string:
      return j.get<std::string>();
    default:
      return null_value{};
  }
}

std::expected<row, decode_error> to_row(const document& j, std::string_view field) {
  if (!j.is_object()) {
    return fail(std::string(field) + ": expected an object, got " + describe(j));
  }
  row r;
  r.columns.reserve(j.size());
  for (const auto& [name, v] : j.items()) r.columns.push_back({name, to_value(v)});
  return r;
}

std::expected<std::optional<row>, decode_error> to_optional_row(const document& j,
                                                                std::string_view field) {
  if (j.is_null()) return std::optional<row>{};
  if (!j.is_object()) {
    return fail(std::string(field) + ": expected an object or null, got " + describe(j));
  }
  auto r = to_row(j, field);
  if (!r) return std::unexpected(std::move(r.error()));
  return std::optional<row>(std::move(*r));
}

// Looks up a required member of `object` (whose path is `where`).
std::expected<const document*, decode_error> member(const document& object, std::string_view where,
                                                    std::string_view name) {
  const auto it = object.find(name);
  if (it == object.end()) {
    return fail(std::string(where) + (where.empty() ? "" : ".") + std::string(name) + ": missing");
  }
  return &*it;
}

std::expected<void, decode_error> reject_unknown_fields(
    const document& object, std::string_view where, std::initializer_list<std::string_view> known) {
  for (const auto& [name, unused] : object.items()) {
    bool is_known = false;
    for (auto k : known) is_known = is_known || k == name;
    if (!is_known) {
      return fail(std::string(where) + (where.empty() ? "" : ".") + name + ": unknown field");
    }
  }
  return {};
}

std::expected<std::string, decode_error> to_string_field(const document& j,
                                                         std::string_view field) {
  if (!j.is_string()) return fail(std::string(field) + ": expected a string, got " + describe(j));
  return j.get<std::string>();
}

std::expected<std::int64_t, decode_error> to_integer(const document& j, std::string_view field,
                                                     std::int64_t min, std::int64_t max) {
  const auto out_of_range = [&](const std::string& shown) {
    return fail(std::string(field) + ": " + shown + " is outside [" + std::to_string(min) + ", " +
                std::to_string(max) + "]");
  };
  std::int64_t n = 0;
  if (j.is_number_unsigned()) {
    if (j.get<std::uint64_t>() > static_cast<std::uint64_t>(max)) return out_of_range(j.dump());
    n = static_cast<std::int64_t>(j.get<std::uint64_t>());
  } else if (j.is_number_integer()) {
    n = j.get<std::int64_t>();
  } else {
    return fail(std::string(field) + ": expected an integer, got " +
                (j.is_number_float() ? j.dump() : describe(j)));
  }
  if (n < min || n > max) return out_of_range(std::to_string(n));
  return n;
}

std::expected<lsn, decode_error> to_lsn(const document& j, std::string_view field) {
  if (!j.is_string()) {
    return fail(std::string(field) + ": expected an LSN string, got " + describe(j));
  }
  const auto& text = j.get_ref<const std::string&>();
  const auto parsed = lsn::parse(text);
  if (!parsed) return fail(std::string(field) + ": not an LSN: '" + text + "'");
  return *parsed;
}

std::expected<op, decode_error> to_op(const document& j) {
  if (!j.is_string()) return fail("op: expected a string, got " + describe(j));
  const auto& text = j.get_ref<const std::string&>();
  if (text.size() == 1) {
    const auto o = static_cast<op>(text[0]);
    if (is_known_op(o)) return o;
  }
  return fail("op: unknown op '" + text + "' (expected one of c, u, d, r, t)");
}

std::expected<document, decode_error> parse_document(std::string_view json) {
  try {
    return document::parse(json);
  } catch (const nlohmann::json::exception& ex) {
    return fail(std::string("invalid JSON: ") + ex.what());
  }
}

std::expected<source_info, decode_error> to_source(const document& j) {
  if (!j.is_object()) return fail("source: expected an object, got " + describe(j));
  if (auto ok = reject_unknown_fields(j, "source",
                                      {"connector", "version", "db", "schema", "table", "lsn",
                                       "commit_lsn", "seq", "txId", "ts_ms", "snapshot"});
      !ok) {
    return std::unexpected(std::move(ok.error()));
  }

  source_info s;
  // Each step: find the member, convert it, or return the error that names it.
  auto string_member = [&j](std::string_view name,
                            std::string& dest) -> std::expected<void, decode_error> {
    auto m = member(j, "source", name);
    if (!m) return std::unexpected(std::move(m.error()));
    auto text = to_string_field(**m, "source." + std::string(name));
    if (!text) return std::unexpected(std::move(text.error()));
    dest = std::move(*text);
    return {};
  };
  auto lsn_member = [&j](std::string_view name, lsn& dest) -> std::expected<void, decode_error> {
    auto m = member(j, "source", name);
    if (!m) return std::unexpected(std::move(m.error()));
    auto l = to_lsn(**m, "source." + std::string(name));
    if (!l) return std::unexpected(std::move(l.error()));
    dest = *l;
    return {};
  };
  auto int_member = [&j](std::string_view name, std::int64_t min, std::int64_t max,
                         std::int64_t& dest) -> std::expected<void, decode_error> {
    auto m = member(j, "source", name);
    if (!m) return std::unexpected(std::move(m.error()));
    auto n = to_integer(**m, "source." + std::string(name), min, max);
    if (!n) return std::unexpected(std::move(n.error()));
    dest = *n;
    return {};
  };

  constexpr auto int64_max = std::numeric_limits<std::int64_t>::max();
  constexpr auto int64_min = std::numeric_limits<std::int64_t>::min();
  std::int64_t seq = 0;
  std::expected<void, decode_error> steps[] = {
      string_member("connector", s.connector),
      string_member("version", s.version),
      string_member("db", s.db),
      string_member("schema", s.schema),
      string_member("table", s.table),
      lsn_member("lsn", s.change_lsn),
      lsn_member("commit_lsn", s.commit_lsn),
      int_member("seq", 0, std::numeric_limits<std::uint32_t>::max(), seq),
      int_member("txId", 0, int64_max, s.tx_id),
      int_member("ts_ms", int64_min, int64_max, s.ts_ms),
  };
  for (auto& step : steps) {
    if (!step) return std::unexpected(std::move(step.error()));
  }
  s.seq = static_cast<std::uint32_t>(seq);

  auto snapshot = member(j, "source", "snapshot");
  if (!snapshot) return std::unexpected(std::move(snapshot.error()));
  if (!(*snapshot)->is_boolean()) {
    return fail("source.snapshot: expected a boolean, got " + describe(**snapshot));
  }
  s.snapshot = (*snapshot)->get<bool>();
  return s;
}

// The rules per op that docs/events.md states and the JSON Schema encodes.
std::expected<void, decode_error> check_op_rules(const change_event& e) {
  const std::string o(1, static_cast<char>(e.op));
  switch (e.op) {
    case op::create:
    case op::read:
      if (e.before) return fail("before: must be null for op '" + o + "'");
      if (!e.after) return fail("after: must be an object for op '" + o + "'");
      break;
    case op::update:
      if (!e.after) return fail("after: must be an object for op 'u'");
      break;
    case op::remove:
      if (!e.before) return fail("before: must be an object for op 'd'");
      if (e.after) return fail("after: must be null for op 'd'");
      break;
    case op::truncate:
      if (e.before) return fail("before: must be null for op 't'");
      if (e.after) return fail("after: must be null for op 't'");
      break;
  }
  // Only new row images can lack TOASTed columns: an update's, or the create that an update
  // moving a row to a new key turns into (capture emits delete + create for it).
  if (!e.unchanged.empty() && e.op != op::update && e.op != op::create) {
    return fail("unchanged: must be empty for op '" + o + "'");
  }
  for (std::size_t i = 0; i < e.unchanged.size(); ++i) {
    if (e.after->find(e.unchanged[i]) != nullptr) {
      return fail("unchanged[" + std::to_string(i) + "]: column '" + e.unchanged[i] +
                  "' is also present in after");
    }
  }
  return {};
}

std::expected<change_event, decode_error> to_event(const document& doc) {
  if (!doc.is_object()) return fail("event: expected an object, got " + describe(doc));
  if (auto ok =
          reject_unknown_fields(doc, "", {"op", "before", "after", "unchanged", "source", "ts_ms"});
      !ok) {
    return std::unexpected(std::move(ok.error()));
  }

  change_event e;

  auto op_field = member(doc, "", "op");
  if (!op_field) return std::unexpected(std::move(op_field.error()));
  auto o = to_op(**op_field);
  if (!o) return std::unexpected(std::move(o.error()));
  e.op = *o;

  for (auto [name, dest] : {std::pair{"before", &e.before}, std::pair{"after", &e.after}}) {
    auto field = member(doc, "", name);
    if (!field) return std::unexpected(std::move(field.error()));
    auto r = to_optional_row(**field, name);
    if (!r) return std::unexpected(std::move(r.error()));
    *dest = std::move(*r);
  }

  auto unchanged = member(doc, "", "unchanged");
  if (!unchanged) return std::unexpected(std::move(unchanged.error()));
  if (!(*unchanged)->is_array()) {
    return fail("unchanged: expected an array, got " + describe(**unchanged));
  }
  e.unchanged.reserve((*unchanged)->size());
  for (const auto& name : **unchanged) {
    auto text = to_string_field(name, "unchanged[" + std::to_string(e.unchanged.size()) + "]");
    if (!text) return std::unexpected(std::move(text.error()));
    e.unchanged.push_back(std::move(*text));
  }

  auto source = member(doc, "", "source");
  if (!source) return std::unexpected(std::move(source.error()));
  auto s = to_source(**source);
  if (!s) return std::unexpected(std::move(s.error()));
  e.source = std::move(*s);

  auto ts = member(doc, "", "ts_ms");
  if (!ts) return std::unexpected(std::move(ts.error()));
  auto ts_ms = to_integer(**ts, "ts_ms", std::numeric_limits<std::int64_t>::min(),
                          std::numeric_limits<std::int64_t>::max());
  if (!ts_ms) return std::unexpected(std::move(ts_ms.error()));
  e.ts_ms = *ts_ms;

  if (auto ok = check_op_rules(e); !ok) return std::unexpected(std::move(ok.error()));
  return e;
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  writer w(out);
  write_string(w, s);
}

void encode_event(const change_event& e, std::string& out) {
  if (!is_known_op(e.op)) {
    // An event with an op outside the enum is a bug upstream; writing it would poison the topic.
    std::fprintf(stderr, "sluice: encode_event: invalid op %d\n", static_cast<int>(e.op));
    std::abort();
  }
  const source_info& s = e.source;
  writer w(out);
  w.literal("{\"op\":\"");
  w.put(static_cast<char>(e.op));
  w.literal("\",\"before\":");
  write_optional_row(w, e.before);
  w.literal(",\"after\":");
  write_optional_row(w, e.after);
  w.literal(",\"unchanged\":[");
  for (std::size_t i = 0; i < e.unchanged.size(); ++i) {
    if (i != 0) w.put(',');
    write_string(w, e.unchanged[i]);
  }
  w.literal("],\"source\":{\"connector\":");
  write_string(w, s.connector);
  w.literal(",\"version\":");
  write_string(w, s.version);
  w.literal(",\"db\":");
  write_string(w, s.db);
  w.literal(",\"schema\":");
  write_string(w, s.schema);
  w.literal(",\"table\":");
  write_string(w, s.table);
  w.literal(",\"lsn\":");
  write_lsn(w, s.change_lsn);
  w.literal(",\"commit_lsn\":");
  write_lsn(w, s.commit_lsn);
  w.literal(",\"seq\":");
  write_int(w, s.seq);
  w.literal(",\"txId\":");
  write_int(w, s.tx_id);
  w.literal(",\"ts_ms\":");
  write_int(w, s.ts_ms);
  if (s.snapshot) {
    w.literal(",\"snapshot\":true},\"ts_ms\":");
  } else {
    w.literal(",\"snapshot\":false},\"ts_ms\":");
  }
  write_int(w, e.ts_ms);
  w.put('}');
}

std::string encode_event(const change_event& e) {
  std::string out;
  out.reserve(512);  // a typical small row's event; avoids most regrowth
  encode_event(e, out);
  return out;
}

std::expected<change_event, decode_error> decode_event(std::string_view json) {
  try {
    auto doc = parse_document(json);
    if (!doc) return std::unexpected(std::move(doc.error()));
    return to_event(*doc);
  } catch (const std::exception& ex) {
    // Defensive: nothing above is expected to throw once the text parsed, but the contract is
    // "never throws".
    return fail(std::string("event: ") + ex.what());
  }
}

void encode_key(const row& key, std::string& out) {
  writer w(out);
  write_row(w, key);
}

std::string encode_key(const row& key) {
  std::string out;
  encode_key(key, out);
  return out;
}

std::expected<row, decode_error> decode_key(std::string_view json) {
  try {
    auto doc = parse_document(json);
    if (!doc) return std::unexpected(std::move(doc.error()));
    // {} is valid: it is the key of truncate records, which belong to no row.
    return to_row(*doc, "key");
  } catch (const std::exception& ex) {
    return fail(std::string("key: ") + ex.what());
  }
}

}  // namespace sluice::schemas
