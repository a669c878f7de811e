#pragma once
#include <expected>
#include <string>
#include <string_view>

#include "sluice/schemas/event.hpp"
#include "sluice/schemas/row.hpp"

namespace sluice::schemas {

struct decode_error {
  std::string message;  // says which field was wrong and why
};

/// Encodes the envelope of design.md as compact JSON, fields in a fixed order.
/// Hot path of capture: writes straight into `out` (appends), no intermediate DOM.
void encode_event(const change_event& e, std::string& out);
[[nodiscard]] std::string encode_event(const change_event& e);

/// Parses and checks an envelope. Never throws.
[[nodiscard]] std::expected<change_event, decode_error> decode_event(std::string_view json);

/// Kafka key: a JSON object of the key columns, in the given order: {"id":7}.
void encode_key(const row& key, std::string& out);
[[nodiscard]] std::string encode_key(const row& key);
[[nodiscard]] std::expected<row, decode_error> decode_key(std::string_view json);

/// JSON string escaping as used by the encoders (exposed for other hand-written encoders).
void append_json_string(std::string& out, std::string_view s);

}  // namespace sluice::schemas
