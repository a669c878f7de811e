#include "sluice/schemas/value.hpp"

#include <limits>
#include <type_traits>

namespace sluice::schemas {

nlohmann::json to_json(const value& v) {
  return std::visit(
      [](const auto& x) -> nlohmann::json {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, null_value>) {
          return nullptr;
        } else {
          return x;
        }
      },
      v);
}

value from_json(const nlohmann::json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::null:
      return null_value{};
    case nlohmann::json::value_t::boolean:
      return j.get<bool>();
    case nlohmann::json::value_t::number_integer:
      return j.get<std::int64_t>();
    case nlohmann::json::value_t::number_unsigned: {
      const auto u = j.get<std::uint64_t>();
      if (u <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        return static_cast<std::int64_t>(u);
      }
      // Above int64 range: no Postgres integer type gets here (numeric travels as a string),
      // but keeping the number embedded is lossless where a double would not be.
      return j;
    }
    case nlohmann::json::value_t::number_float:
      return j.get<double>();
    case nlohmann::json::value_t::string:
      return j.get<std::string>();
    default:
      // Objects, arrays (and binary, which a JSON parser never produces) stay embedded.
      return j;
  }
}

}  // namespace sluice::schemas
