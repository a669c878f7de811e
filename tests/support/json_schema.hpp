#pragma once
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::test {

/// Validates `instance` against `schema` (JSON Schema draft 2020-12), for the keywords that
/// sluice's schemas use: type (name or array of names), properties, required,
/// additionalProperties (bool or schema), minProperties, enum, const, pattern (ECMAScript, not
/// anchored), minLength, maxLength, minimum, maximum, items (one schema), minItems, maxItems,
/// $ref to a local pointer ("#/$defs/..."), allOf, anyOf, oneOf, not, if/then/else. The
/// annotations $schema, $id, $comment, $defs, title, description are accepted and ignored.
///
/// Returns one message per failure, each starting with the JSON pointer of the offending part of
/// the instance ("(root)" for the whole document), e.g. "/source/seq: expected integer, got
/// string". Empty means valid. A schema that uses any other keyword yields an "unsupported
/// keyword" message, so a schema can never pass because the validator skipped a rule.
/// Stateless apart from a cache of compiled patterns; safe to call from several threads.
[[nodiscard]] std::vector<std::string> validate(const nlohmann::json& schema,
                                                const nlohmann::json& instance);

/// Reads and parses a JSON file; throws std::runtime_error naming the file on failure.
[[nodiscard]] nlohmann::json load_json_file(const std::filesystem::path& path);

/// The repository's source directory (SLUICE_SOURCE_DIR).
[[nodiscard]] std::filesystem::path source_dir();

/// schemas/change-event.schema.json and schemas/key.schema.json from the source tree.
[[nodiscard]] nlohmann::json load_event_schema();
[[nodiscard]] nlohmann::json load_key_schema();

/// validate() against the event and key schemas, loaded once per process.
[[nodiscard]] std::vector<std::string> validate_event(const nlohmann::json& event);
[[nodiscard]] std::vector<std::string> validate_key(const nlohmann::json& key);

}  // namespace sluice::test
