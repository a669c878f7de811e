#include "sluice/schemas/log.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace sluice {
namespace {
std::atomic<int> min_level{static_cast<int>(log_level::info)};

const char* name_of(log_level l) {
  switch (l) {
    case log_level::debug:
      return "DEBUG";
    case log_level::info:
      return "INFO";
    case log_level::warn:
      return "WARN";
    case log_level::error:
      return "ERROR";
  }
  return "?";
}
}  // namespace

void set_log_level(log_level level) {
  min_level = static_cast<int>(level);
}

void log(log_level level, std::string_view module, std::string_view message) {
  if (static_cast<int>(level) < min_level.load(std::memory_order_relaxed)) return;
  const auto now = std::chrono::system_clock::now();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch());
  const std::time_t secs = static_cast<std::time_t>(ms.count() / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  // One fprintf per line keeps lines whole when several threads log.
  std::fprintf(stderr, "%s.%03dZ %s %.*s: %.*s\n", stamp, static_cast<int>(ms.count() % 1000),
               name_of(level), static_cast<int>(module.size()), module.data(),
               static_cast<int>(message.size()), message.data());
}

}  // namespace sluice
