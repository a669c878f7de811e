#pragma once
#include <expected>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::config {

/// Looks a variable up in an environment; nullopt when it is not set. Injected so tests do not
/// depend on (or change) the process environment.
using env_lookup = std::function<std::optional<std::string>(const std::string& name)>;

/// The process environment (getenv).
[[nodiscard]] std::optional<std::string> process_environment(const std::string& name);

/// Expands `${VAR}` and `${VAR:-default}` in a scalar, as a shell would: the default is used
/// when VAR is unset or empty. `$$` is a literal `$`; a `$` followed by anything else is kept.
/// The default is taken literally up to the first `}` (no nesting).
/// On failure returns one message per problem (unset variable, bad name, missing `}`); the
/// messages never contain the variable's value or the default.
[[nodiscard]] std::expected<std::string, std::vector<std::string>> interpolate(
    std::string_view text, const env_lookup& env);

}  // namespace sluice::config
