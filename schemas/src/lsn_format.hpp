#pragma once
// Private to sluice_schemas: LSN formatting without a std::string, for the encoder's hot path.
#include <charconv>
#include <cstddef>
#include <cstdint>

#include "sluice/schemas/lsn.hpp"

namespace sluice::schemas::detail {

/// Longest "%X/%X": two 8-digit halves and the slash.
inline constexpr std::size_t max_lsn_chars = 17;

/// Writes `l` as Postgres' pg_lsn_out does ("%X/%X", uppercase) and returns the end pointer.
/// `out` must have room for max_lsn_chars.
inline char* format_lsn(lsn l, char* out) {
  const auto high = static_cast<std::uint32_t>(l.value >> 32);
  const auto low = static_cast<std::uint32_t>(l.value);
  char* begin = out;
  out = std::to_chars(out, out + 8, high, 16).ptr;
  *out++ = '/';
  out = std::to_chars(out, out + 8, low, 16).ptr;
  // std::to_chars writes lowercase hex digits; Postgres prints uppercase.
  for (char* c = begin; c != out; ++c) {
    if (*c >= 'a' && *c <= 'f') *c = static_cast<char>(*c - 'a' + 'A');
  }
  return out;
}

}  // namespace sluice::schemas::detail
