#pragma once
// Where the integration tests find the real services (scripts/services.sh env).
#include <string>

namespace sluice::test {

/// The value of an environment variable the integration tests need. A missing variable is a
/// test failure (with the command that sets it), never a skip.
std::string required_env(const char* name);

inline std::string pg_dsn() {
  return required_env("SLUICE_PG_DSN");
}
inline std::string kafka_brokers() {
  return required_env("KAFKA_BROKERS");
}
inline std::string redis_url() {
  return required_env("REDIS_URL");
}

/// A name unique to this test run, for slots, topics and keys: "<prefix>_<pid>_<counter>".
std::string unique_name(const std::string& prefix);

}  // namespace sluice::test
