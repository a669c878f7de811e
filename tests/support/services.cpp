#include "support/services.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <stdexcept>

namespace sluice::test {

std::string required_env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') {
    throw std::runtime_error(std::string(name) +
                             " is not set: start the services and export their addresses with "
                             "`./scripts/services.sh up && eval \"$(./scripts/services.sh env)\"`");
  }
  return v;
}

std::string unique_name(const std::string& prefix) {
  static std::atomic<int> counter{0};
  const auto stamp = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count() %
                     100000000;
  return prefix + "_" + std::to_string(::getpid()) + "_" + std::to_string(stamp) + "_" +
         std::to_string(counter++);
}

}  // namespace sluice::test
