#pragma once
#include <string_view>

namespace sluice {

enum class log_level { debug, info, warn, error };

/// Minimal structured logging to stderr: "2026-11-28T20:00:00.123Z INFO capture: message".
/// Every module logs through its own name; data-path lines carry slot=, lsn=, xid=, table=.
void log(log_level level, std::string_view module, std::string_view message);
void set_log_level(log_level min_level);

}  // namespace sluice
