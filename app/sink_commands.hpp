#pragma once
// The sink-side subcommands: `sink`, `replay` and `status`. Each returns a process exit code
// (sysexits.h).
#include "commands.hpp"

namespace sluice::app {

/// sluice sink <name> -c FILE [--workers N]: runs workers of the sink until SIGTERM.
int run_sink(const command_line& cl);
/// sluice replay <name> -c FILE [--in-place] [--shadow-db N]: rebuilds the sink's data from the
/// beginning of its topics.
int run_replay(const command_line& cl);
/// sluice status -c FILE [--json]: capture's slot lag and each sink's lag and state.
int run_status(const command_line& cl);

}  // namespace sluice::app
