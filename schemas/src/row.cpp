#include "sluice/schemas/row.hpp"

namespace sluice::schemas {

const value* row::find(std::string_view name) const {
  for (const auto& column : columns) {
    if (column.name == name) return &column.v;
  }
  return nullptr;
}

}  // namespace sluice::schemas
