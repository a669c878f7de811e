#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <variant>

namespace sluice::schemas {

/// A column value as it travels in a change event.
///
/// The capture side maps every Postgres type to one of these (docs/events.md lists the mapping):
/// integers to `std::int64_t`, finite floats to `double`, numeric/text/dates/... to `std::string`,
/// and json/jsonb/arrays/composites to an embedded `nlohmann::json`. NaN and infinities never
/// appear as a double: the mapper turns them into the strings "NaN", "Infinity", "-Infinity".
using null_value = std::monostate;
using value = std::variant<null_value, bool, std::int64_t, double, std::string, nlohmann::json>;

[[nodiscard]] nlohmann::json to_json(const value& v);
/// Inverse of to_json: null, bool, integer, float and string map to their own alternative;
/// objects and arrays stay embedded JSON.
[[nodiscard]] value from_json(const nlohmann::json& j);

}  // namespace sluice::schemas
