#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "sluice/schemas/value.hpp"

namespace sluice::schemas {

struct column_value {
  std::string name;
  value v;
  bool operator==(const column_value&) const = default;
};

/// A row image in column order. Small (tens of columns), so lookups are linear.
struct row {
  std::vector<column_value> columns;

  [[nodiscard]] const value* find(std::string_view name) const;
  bool operator==(const row&) const = default;
};

}  // namespace sluice::schemas
