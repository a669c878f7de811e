#pragma once
#include <yaml-cpp/yaml.h>

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sluice/config/interpolate.hpp"
#include "sluice/config/loader.hpp"

// Schema-agnostic reading of a yaml-cpp tree: checked maps, typed scalars, interpolation.
// Nothing here throws for a bad document: every problem becomes a diagnostic and reading goes
// on, so that one run reports everything. A function that returns nullopt has already reported.
namespace sluice::config::detail {

using key_list = std::span<const std::string_view>;

/// For maps whose keys are names chosen by the user (sinks, producer, view columns).
inline constexpr key_list any_key{};

/// A value together with the key it came from, for positions and messages.
struct field {
  std::string label;  // how messages name it: "slot", "each entry of tables"
  YAML::Node key;     // the key node (for a list entry, the list's key)
  YAML::Node value;

  /// Where to report a problem with the value. yaml-cpp marks an empty value at the next
  /// token, possibly lines later, so those are reported at their key.
  [[nodiscard]] YAML::Mark mark() const;
};

/// A map whose keys have been checked. Holds the first occurrence of each key, in file order.
struct map_node {
  std::string path;  // dotted path from the top, e.g. "source.postgres"; empty at the top
  YAML::Mark mark;
  std::vector<field> fields;
  std::vector<std::string_view> suggested;  // allowed keys offered for misspelled ones

  [[nodiscard]] const field* find(std::string_view key) const;
  /// "in source.postgres", or "at the top level".
  [[nodiscard]] std::string where() const;
};

/// "'value'" with passwords masked: every quoted value goes through here, because any scalar
/// may have come from an environment variable that holds a DSN.
[[nodiscard]] std::string quote(std::string_view value);

/// The allowed key closest to `unknown`, if it is close enough to be a likely typo.
[[nodiscard]] std::optional<std::string_view> closest_key(std::string_view unknown,
                                                          key_list allowed);

class yaml_reader {
 public:
  yaml_reader(std::string file, env_lookup env) : file_(std::move(file)), env_(std::move(env)) {}

  void report(const YAML::Mark& at, std::string message);
  [[nodiscard]] std::size_t error_count() const { return diagnostics_.size(); }
  /// Sorted by position, exact repeats removed (an alias repeats its anchor's problems).
  [[nodiscard]] std::vector<diagnostic> take_diagnostics();

  /// Checks that `node` is a map; reports duplicate keys and, unless `allowed` is any_key, keys
  /// not in it. `label` names the value in "... must be a map" messages.
  std::optional<map_node> map(const YAML::Node& node, const YAML::Mark& at, std::string label,
                              std::string path, key_list allowed);
  std::optional<map_node> map(const field& f, const map_node& parent, key_list allowed);

  /// The entries of a list, each labelled "each entry of <label>".
  std::optional<std::vector<field>> list(const field& f, std::string_view what);

  /// Reports "missing required key" at the map when `key` is absent, unless a misspelling of
  /// it was already reported.
  const field* require(const map_node& m, std::string_view key);

  /// A scalar, interpolated.
  std::optional<std::string> text(const field& f);
  std::optional<std::string> required_text(const map_node& m, std::string_view key);
  std::optional<std::string> optional_text(const map_node& m, std::string_view key);
  std::optional<int> integer(const field& f, int minimum);
  int integer_or(const map_node& m, std::string_view key, int fallback, int minimum);
  bool boolean_or(const map_node& m, std::string_view key, bool fallback);

  /// An enum value named by one of `choices`.
  template <class E>
  E choice_or(const map_node& m, std::string_view key, E fallback,
              std::span<const std::pair<std::string_view, E>> choices) {
    const field* f = m.find(key);
    if (f == nullptr) return fallback;
    auto value = text(*f);
    if (!value) return fallback;
    std::string names;
    for (const auto& [name, e] : choices) {
      if (name == *value) return e;
      names += (names.empty() ? "" : ", ") + std::string(name);
    }
    report(f->mark(), f->label + " must be one of: " + names + "; got " + quote(*value));
    return fallback;
  }

 private:
  void report_type(const field& f, std::string_view expected);

  std::string file_;
  env_lookup env_;
  std::vector<diagnostic> diagnostics_;
};

}  // namespace sluice::config::detail
