#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/schemas/value.hpp"

namespace sluice::capture {

/// What the mapper needs to know of a type that is not built in (pg_type, pg_attribute).
struct type_info {
  enum class kind : char {
    base = 'b',
    composite = 'c',
    domain = 'd',
    enumeration = 'e',
    pseudo = 'p',
    range = 'r',
    multirange = 'm'
  };
  std::uint32_t oid = 0;
  kind k = kind::base;
  std::uint32_t element_oid = 0;  // typelem, for arrays (non-zero when this is an array type)
  char delimiter = ',';           // typdelim of the element type
  std::uint32_t base_oid = 0;     // typbasetype, for domains
  struct attribute {
    std::string name;
    std::uint32_t type_oid;
  };
  std::vector<attribute> attributes;  // composites
};

/// Looks a type up by oid; nullopt when unknown (the value then travels as its text form).
using type_lookup = std::function<std::optional<type_info>(std::uint32_t oid)>;

/// Maps a value in Postgres' text output format to its JSON form (docs/events.md).
///
/// The replication session must use DateStyle=ISO, IntervalStyle=iso_8601, TimeZone=UTC and
/// extra_float_digits=3 (the capture connection sets them): the mapping relies on those
/// output formats. Pure apart from the lookup, which the capture shell backs with pg_type.
class type_mapper {
 public:
  explicit type_mapper(type_lookup lookup) : lookup_(std::move(lookup)) {}

  [[nodiscard]] schemas::value map(std::uint32_t type_oid, std::string_view text) const;

 private:
  [[nodiscard]] schemas::value map_array(std::uint32_t element_oid, char delimiter,
                                         std::string_view text) const;
  [[nodiscard]] schemas::value map_composite(const type_info& info, std::string_view text) const;
  [[nodiscard]] std::optional<type_info> find(std::uint32_t oid) const;

  type_lookup lookup_;
};

/// Helpers exposed for unit tests.
[[nodiscard]] std::string base64_encode(std::string_view bytes);
/// Postgres bytea hex output ("\x0aff") to raw bytes; nullopt when malformed.
[[nodiscard]] std::optional<std::string> bytea_from_hex(std::string_view text);
/// Date/time text output (DateStyle ISO) → the form Postgres' to_json gives, with UTC as "Z":
/// "2024-01-02 03:04:05.5+00" → "2024-01-02T03:04:05.5Z".
[[nodiscard]] std::string iso8601_from_postgres(std::string_view text);

}  // namespace sluice::capture
