#pragma once
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::schemas {

/// A PostgreSQL WAL position (XLogRecPtr). Printed as Postgres does: "16/B374D848".
struct lsn {
  std::uint64_t value = 0;

  constexpr auto operator<=>(const lsn&) const = default;
  [[nodiscard]] std::string to_string() const;
  /// Parses "X/Y" (hex halves). Returns nullopt for anything else.
  [[nodiscard]] static std::optional<lsn> parse(std::string_view text);
};

}  // namespace sluice::schemas
