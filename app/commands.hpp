#pragma once
// The sluice subcommands. Each returns a process exit code (sysexits.h).
#include <atomic>
#include <map>
#include <string>
#include <vector>

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

int run_validate(const command_line& cl);
int run_capture(const command_line& cl);
int run_snapshot(const command_line& cl);
int run_tail(const command_line& cl);

}  // namespace sluice::app
