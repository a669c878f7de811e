#pragma once
// Decoding of record values and keys on the sink's hot path.
#include <expected>
#include <string>
#include <string_view>

#include "sluice/schemas/codec.hpp"
#include "sluice/schemas/event.hpp"
#include "sluice/schemas/row.hpp"

namespace sluice::sinks {

/// Same results as schemas::decode_event, several times faster for what capture writes.
///
/// A hand-written scanner reads the envelope in the field order encode_event writes and checks
/// every token against the form encode_event gives it; the result is accepted only if it passes
/// the envelope's rules and the input is, byte for byte, what encode_event() writes for it (so
/// schemas::decode_event would have produced the same event). Anything else — other field
/// orders, escapes, numbers or LSNs in another spelling, errors — goes through
/// schemas::decode_event, which also writes the error messages. Pure; thread-safe.
[[nodiscard]] std::expected<schemas::change_event, schemas::decode_error> decode_value(
    std::string_view json);
/// The same for record keys (schemas::decode_key).
[[nodiscard]] std::expected<schemas::row, schemas::decode_error> decode_key(std::string_view json);

/// The same results, written into `out` and reusing the memory it holds (its strings' and rows'
/// buffers): a caller that decodes record after record into recycled events does not allocate
/// per record. Every field of `out` is overwritten on success; on error `out` is unspecified.
[[nodiscard]] std::expected<void, schemas::decode_error> decode_value(std::string_view json,
                                                                      schemas::change_event& out);
[[nodiscard]] std::expected<void, schemas::decode_error> decode_key(std::string_view json,
                                                                    schemas::row& out);

}  // namespace sluice::sinks
