#include "sluice/schemas/lsn.hpp"

#include <charconv>
#include <cstddef>

#include "lsn_format.hpp"

namespace sluice::schemas {

namespace {

// Postgres prints each half with "%X" of a uint32, i.e. at most 8 digits.
constexpr std::size_t max_half_digits = 8;

bool is_hex_digit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f');
}

std::optional<std::uint32_t> parse_half(std::string_view digits) {
  if (digits.empty() || digits.size() > max_half_digits) return std::nullopt;
  // from_chars alone would accept a prefix; every character must be a hex digit.
  for (char c : digits) {
    if (!is_hex_digit(c)) return std::nullopt;
  }
  std::uint32_t half = 0;
  const char* end = digits.data() + digits.size();
  auto [ptr, ec] = std::from_chars(digits.data(), end, half, 16);
  if (ec != std::errc{} || ptr != end) return std::nullopt;
  return half;
}

}  // namespace

std::string lsn::to_string() const {
  char buf[detail::max_lsn_chars];
  return std::string(buf, detail::format_lsn(*this, buf));
}

std::optional<lsn> lsn::parse(std::string_view text) {
  // Same grammar as Postgres' pg_lsn_in: 1-8 hex digits, '/', 1-8 hex digits, nothing else
  // (no sign, whitespace or "0x"). Lowercase digits are accepted because Postgres accepts them.
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  const auto high = parse_half(text.substr(0, slash));
  const auto low = parse_half(text.substr(slash + 1));
  if (!high || !low) return std::nullopt;
  return lsn{(std::uint64_t{*high} << 32) | *low};
}

}  // namespace sluice::schemas
