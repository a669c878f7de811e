#pragma once
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/config/interpolate.hpp"
#include "sluice/config/pipeline.hpp"

namespace sluice::config {

/// One problem in a pipeline file.
struct diagnostic {
  std::string file;
  int line = 0;         // 1-based; 0 when the problem concerns the whole file (e.g. unreadable)
  int column = 0;       // 1-based
  std::string message;  // never contains a password: secret-bearing values are redacted

  /// "file:line:col: message" ("file: message" when line is 0).
  [[nodiscard]] std::string to_string() const;
};

/// Thrown when a pipeline file cannot be used. Holds every problem found, not only the first,
/// sorted by position; what() is their to_string() joined by newlines.
class config_error : public std::runtime_error {
 public:
  explicit config_error(std::vector<diagnostic> diagnostics);
  [[nodiscard]] const std::vector<diagnostic>& diagnostics() const { return diagnostics_; }

 private:
  std::vector<diagnostic> diagnostics_;
};

/// Reads, interpolates and validates the pipeline file at `path`. Throws config_error.
[[nodiscard]] pipeline load_pipeline(const std::string& path,
                                     const env_lookup& env = process_environment);

/// As load_pipeline, from text; `file_name` is used in diagnostics and as pipeline::file.
[[nodiscard]] pipeline parse_pipeline(std::string_view yaml_text, const std::string& file_name,
                                      const env_lookup& env = process_environment);

}  // namespace sluice::config
