// Text output of Postgres types → JSON values. The output formats relied on are those of
// PostgreSQL 15 with DateStyle=ISO, IntervalStyle=iso_8601, TimeZone=UTC, extra_float_digits=3
// (see docs/events.md for the mapping of every type family).
#include "sluice/capture/type_map.hpp"

#include <cctype>
#include <charconv>
#include <cmath>
#include <unordered_map>

namespace sluice::capture {
namespace {

// Built-in type oids (src/include/catalog/pg_type.dat).
enum : std::uint32_t {
  bool_oid = 16,
  bytea_oid = 17,
  int8_oid = 20,
  int2_oid = 21,
  int4_oid = 23,
  oid_oid = 26,
  xid_oid = 28,
  cid_oid = 29,
  json_oid = 114,
  float4_oid = 700,
  float8_oid = 701,
  date_oid = 1082,
  timestamp_oid = 1114,
  timestamptz_oid = 1184,
  time_oid = 1083,
  timetz_oid = 1266,
  jsonb_oid = 3802,
};

/// Arrays of built-in types, element oid and delimiter, so the common cases need no lookup.
const std::unordered_map<std::uint32_t, std::pair<std::uint32_t, char>>& builtin_arrays() {
  static const std::unordered_map<std::uint32_t, std::pair<std::uint32_t, char>> arrays{
      {1000, {16, ','}},   {1001, {17, ','}},   {1002, {18, ','}},   {1003, {19, ','}},
      {1005, {21, ','}},   {1007, {23, ','}},   {1009, {25, ','}},   {1014, {1042, ','}},
      {1015, {1043, ','}}, {1016, {20, ','}},   {1021, {700, ','}},  {1022, {701, ','}},
      {1028, {26, ','}},   {1115, {1114, ','}}, {1182, {1082, ','}}, {1183, {1083, ','}},
      {1185, {1184, ','}}, {1187, {1186, ','}}, {1231, {1700, ','}}, {1270, {1266, ','}},
      {1561, {1560, ','}}, {1563, {1562, ','}}, {2951, {2950, ','}}, {199, {114, ','}},
      {3807, {3802, ','}}, {1041, {869, ','}},  {651, {650, ','}},   {1040, {829, ','}},
      {791, {790, ','}},   {1017, {600, ','}},  {1020, {603, ';'}},  {1018, {601, ','}},
      {1019, {602, ','}},  {1027, {604, ','}},  {629, {628, ','}},   {719, {718, ','}},
      {3643, {3614, ','}}, {3905, {3904, ','}}, {3907, {3906, ','}}, {3909, {3908, ','}},
      {3911, {3910, ','}}, {3913, {3912, ','}}, {3927, {3926, ','}}, {143, {142, ','}},
      {775, {774, ','}},
  };
  return arrays;
}

schemas::value map_integer(std::string_view text) {
  std::int64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::string(text);
  return v;
}

schemas::value map_float(std::string_view text) {
  // NaN and the infinities have no JSON number: they travel as Postgres spells them.
  if (text == "NaN" || text == "Infinity" || text == "-Infinity") return std::string(text);
  double v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size() || !std::isfinite(v)) {
    return std::string(text);
  }
  return v;
}

schemas::value map_json(std::string_view text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return std::string(text);
  return j;
}

/// Splits one level of an array literal body into raw elements. `quoted` tells whether an
/// element was quoted (a quoted "NULL" is the string NULL, not a null).
struct array_element {
  std::string text;
  bool quoted = false;
  bool nested = false;  // a sub-array "{...}"
};

}  // namespace

std::string base64_encode(std::string_view bytes) {
  static constexpr char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const auto n = (static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16) |
                   (static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8) |
                   static_cast<unsigned char>(bytes[i + 2]);
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += alphabet[(n >> 6) & 63];
    out += alphabet[n & 63];
  }
  if (i < bytes.size()) {
    std::uint32_t n = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
    if (i + 1 < bytes.size())
      n |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += (i + 1 < bytes.size()) ? alphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::optional<std::string> bytea_from_hex(std::string_view text) {
  if (text.size() < 2 || text[0] != '\\' || text[1] != 'x' || text.size() % 2 != 0) {
    return std::nullopt;
  }
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(text.size() / 2 - 1);
  for (std::size_t i = 2; i < text.size(); i += 2) {
    const int hi = nibble(text[i]);
    const int lo = nibble(text[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>((hi << 4) | lo);
  }
  return out;
}

std::string iso8601_from_postgres(std::string_view text) {
  // Postgres' own JSON (to_json) is the reference: "YYYY-MM-DDTHH:MM:SS[.ffffff]", zones as
  // "+02", years of any width, BC dates with a " BC" suffix, infinity spelled out. The one
  // difference: the replication session runs in UTC and we write a timestamptz's "+00" as "Z"
  // (a timetz keeps the zone it was given, as to_json does).
  std::string s(text);
  const bool bc = s.size() > 3 && s.compare(s.size() - 3, 3, " BC") == 0;
  if (bc) s.resize(s.size() - 3);
  const auto space = s.find(' ');
  if (space != std::string::npos && space + 1 < s.size() && s.find('-') < space &&
      std::isdigit(static_cast<unsigned char>(s[space + 1])) != 0) {
    s[space] = 'T';
  }
  const bool has_date = s.find('T') != std::string::npos;
  if (has_date && s.size() > 3 && s.compare(s.size() - 3, 3, "+00") == 0) {
    s.replace(s.size() - 3, 3, "Z");
  }
  if (bc) s += " BC";
  return s;
}

namespace {

/// Parses one level of Postgres array/record syntax starting after the opening bracket.
/// Returns false when the text does not follow the grammar (the caller falls back to text).
bool split_elements(std::string_view body, char delimiter, char close,
                    std::vector<array_element>& out, std::size_t& pos) {
  if (pos < body.size() && body[pos] == close) {
    ++pos;
    return true;
  }
  while (pos < body.size()) {
    array_element e;
    if (body[pos] == '{' && close == '}') {
      // Nested sub-array: keep its text, braces included, for a recursive parse.
      int depth = 0;
      bool in_quotes = false;
      const std::size_t start = pos;
      for (; pos < body.size(); ++pos) {
        const char c = body[pos];
        if (in_quotes) {
          if (c == '\\')
            ++pos;
          else if (c == '"')
            in_quotes = false;
        } else if (c == '"') {
          in_quotes = true;
        } else if (c == '{') {
          ++depth;
        } else if (c == '}' && --depth == 0) {
          ++pos;
          break;
        }
      }
      e.text = std::string(body.substr(start, pos - start));
      e.nested = true;
    } else if (body[pos] == '"') {
      e.quoted = true;
      ++pos;
      for (; pos < body.size(); ++pos) {
        const char c = body[pos];
        if (c == '\\' && pos + 1 < body.size()) {
          e.text += body[++pos];
        } else if (c == '"') {
          // In records a doubled quote stands for one quote.
          if (close == ')' && pos + 1 < body.size() && body[pos + 1] == '"') {
            e.text += '"';
            ++pos;
          } else {
            ++pos;
            break;
          }
        } else {
          e.text += c;
        }
      }
    } else {
      while (pos < body.size() && body[pos] != delimiter && body[pos] != close) {
        e.text += body[pos++];
      }
    }
    out.push_back(std::move(e));
    if (pos >= body.size()) return false;
    if (body[pos] == close) {
      ++pos;
      return true;
    }
    if (body[pos] != delimiter) return false;
    ++pos;
  }
  return false;
}

}  // namespace

std::optional<type_info> type_mapper::find(std::uint32_t oid) const {
  if (!lookup_) return std::nullopt;
  return lookup_(oid);
}

schemas::value type_mapper::map_array(std::uint32_t element_oid, char delimiter,
                                      std::string_view text) const {
  // Arrays with non-default lower bounds print as "[0:2]={...}": keep those as text, losslessly.
  if (text.empty() || text[0] != '{') return std::string(text);
  std::vector<array_element> elements;
  std::size_t pos = 1;
  if (!split_elements(text, delimiter, '}', elements, pos) || pos != text.size()) {
    return std::string(text);
  }
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& e : elements) {
    if (e.nested) {
      arr.push_back(schemas::to_json(map_array(element_oid, delimiter, e.text)));
    } else if (!e.quoted && e.text == "NULL") {
      arr.push_back(nullptr);
    } else {
      arr.push_back(schemas::to_json(map(element_oid, e.text)));
    }
  }
  return arr;
}

schemas::value type_mapper::map_composite(const type_info& info, std::string_view text) const {
  if (text.size() < 2 || text[0] != '(') return std::string(text);
  std::vector<array_element> fields;
  std::size_t pos = 1;
  if (!split_elements(text, ',', ')', fields, pos) || pos != text.size() ||
      fields.size() != info.attributes.size()) {
    return std::string(text);
  }
  nlohmann::json obj = nlohmann::json::object();
  for (std::size_t i = 0; i < fields.size(); ++i) {
    const auto& attr = info.attributes[i];
    // An unquoted empty field is a NULL attribute.
    if (!fields[i].quoted && fields[i].text.empty()) {
      obj[attr.name] = nullptr;
    } else {
      obj[attr.name] = schemas::to_json(map(attr.type_oid, fields[i].text));
    }
  }
  return obj;
}

schemas::value type_mapper::map(std::uint32_t type_oid, std::string_view text) const {
  switch (type_oid) {
    case bool_oid:
      return text == "t";
    case int2_oid:
    case int4_oid:
    case int8_oid:
    case oid_oid:
    case xid_oid:
    case cid_oid:
      return map_integer(text);
    case float4_oid:
    case float8_oid:
      return map_float(text);
    case bytea_oid: {
      auto raw = bytea_from_hex(text);
      return raw ? base64_encode(*raw) : std::string(text);
    }
    case json_oid:
    case jsonb_oid:
      return map_json(text);
    case date_oid:
    case timestamp_oid:
    case timestamptz_oid:
    case time_oid:
    case timetz_oid:
      return iso8601_from_postgres(text);
    default:
      break;
  }
  if (auto it = builtin_arrays().find(type_oid); it != builtin_arrays().end()) {
    return map_array(it->second.first, it->second.second, text);
  }
  switch (type_oid) {
    case 18:
    case 19:
    case 25:
    case 1042:
    case 1043:
    case 1700:
    case 2950:
    case 1186:
      return std::string(text);  // char, name, text, bpchar, varchar, numeric, uuid, interval
    default:
      break;
  }
  // Below FirstNormalObjectId (16384) every other built-in travels as its text form: numeric,
  // text types, uuid, interval (ISO 8601 by IntervalStyle), network, money, bit strings,
  // tsvector, ranges, geometric types...
  if (type_oid < 16384) {
    if (auto info = find(type_oid); info && info->element_oid != 0) {
      return map_array(info->element_oid, info->delimiter, text);
    }
    return std::string(text);
  }
  const auto info = find(type_oid);
  if (!info) return std::string(text);
  if (info->element_oid != 0) return map_array(info->element_oid, info->delimiter, text);
  switch (info->k) {
    case type_info::kind::domain:
      return map(info->base_oid, text);
    case type_info::kind::composite:
      return map_composite(*info, text);
    default:
      return std::string(text);  // enums, ranges of user types, extension types
  }
}

}  // namespace sluice::capture
