#include "sluice/config/interpolate.hpp"

#include <cstdlib>

namespace sluice::config {
namespace {

bool is_variable_name(std::string_view name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  for (char c : name) {
    bool ok =
        (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

// Expands the inside of one ${...}. The default is never echoed in messages: people put
// fallback DSNs with passwords there.
std::string expand(std::string_view inside, const env_lookup& env,
                   std::vector<std::string>& errors) {
  auto separator = inside.find(":-");
  std::string_view name = inside.substr(0, separator);
  if (!is_variable_name(name)) {
    errors.push_back(
        "invalid variable name in ${...}: use ${NAME} or ${NAME:-default}, where "
        "NAME is letters, digits and _");
    return {};
  }
  auto value = env(std::string(name));
  if (separator != std::string_view::npos && (!value || value->empty())) {
    return std::string(inside.substr(separator + 2));
  }
  if (!value) {
    errors.push_back("environment variable " + std::string(name) + " is not set (use ${" +
                     std::string(name) + ":-default} to give a default)");
    return {};
  }
  return *value;
}

}  // namespace

std::optional<std::string> process_environment(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

std::expected<std::string, std::vector<std::string>> interpolate(std::string_view text,
                                                                 const env_lookup& env) {
  std::string out;
  std::vector<std::string> errors;
  std::size_t i = 0;
  while (i < text.size()) {
    auto dollar = text.find('$', i);
    out.append(text.substr(i, dollar - i));
    if (dollar == std::string_view::npos) break;
    std::string_view rest = text.substr(dollar);
    if (rest.starts_with("$$")) {
      out += '$';
      i = dollar + 2;
    } else if (rest.starts_with("${")) {
      auto close = rest.find('}');
      if (close == std::string_view::npos) {
        errors.push_back("unterminated ${ (close it with }, or write $$ for a literal $)");
        break;
      }
      out += expand(rest.substr(2, close - 2), env, errors);
      i = dollar + close + 1;
    } else {
      out += '$';
      i = dollar + 1;
    }
  }
  if (!errors.empty()) return std::unexpected(std::move(errors));
  return out;
}

}  // namespace sluice::config
