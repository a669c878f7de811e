#pragma once
// The sluice subcommands. Each returns a process exit code (sysexits.h).
#include <atomic>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sluice/config/pipeline.hpp"

namespace sluice::app {

/// Parsed command line: the subcommand, its positional arguments and --flags.
struct command_line {
  std::string command;
  std::vector<std::string> positional;
  std::map<std::string, std::string> options;  // "--name value" or "--flag" (value "true")
  [[nodiscard]] std::string option(const std::string& name, const std::string& fallback = "") const;
  [[nodiscard]] bool flag(const std::string& name) const { return options.count(name) > 0; }
};

/// Set by SIGTERM/SIGINT; long-running commands stop cleanly when it turns true.
extern std::atomic<bool> stop_requested;

// Exit codes (sysexits.h).
constexpr int ex_usage = 64;
constexpr int ex_dataerr = 65;
constexpr int ex_unavailable = 69;
constexpr int ex_software = 70;
constexpr int ex_tempfail = 75;
constexpr int ex_config = 78;

/// Loads the pipeline named by -c. On failure prints every problem (file:line:col: message),
/// sets `exit_code` (64 without -c, 78 for a bad file) and returns nullopt.
std::optional<config::pipeline> load_pipeline(const command_line& cl, int& exit_code);

int run_validate(const command_line& cl);
int run_capture(const command_line& cl);
int run_snapshot(const command_line& cl);
int run_tail(const command_line& cl);

}  // namespace sluice::app
