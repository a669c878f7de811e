#pragma once
// Building blocks for sink integration tests: pipeline files with sinks, Redis databases of
// their own, reading a Redis database back, and waiting for a sink to converge.
#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "support/harness.hpp"

namespace sluice::test {

/// A Redis database for one test: the highest-numbered empty one at construction (claimed
/// with a marker key), emptied again when the test ends.
class redis_database {
 public:
  explicit redis_database(const std::string& test_name);
  ~redis_database();
  redis_database(const redis_database&) = delete;
  redis_database& operator=(const redis_database&) = delete;

  [[nodiscard]] int number() const { return number_; }
  /// redis://host:port/<number>
  [[nodiscard]] std::string url() const;

 private:
  int number_ = -1;
};

/// A row as Redis holds it: hash fields, or the members of a JSON document as text.
using redis_row = std::map<std::string, std::string>;

/// Every key of a database that is not sluice's own (`__sluice:*`), with its value: a hash as
/// its fields, a string (JSON row) parsed into members (values as compact JSON).
std::map<std::string, redis_row> read_redis_rows(int database);
/// Keys in a database (DBSIZE).
long long redis_key_count(int database);
/// Runs one command on a database; returns the reply as text ("" for nil).
std::string redis_command(int database, const std::vector<std::string>& args);

/// Appends a `sinks:` block (already indented YAML, one sink per entry) to a pipeline file
/// written by write_pipeline().
void add_sinks(const std::string& pipeline_file, const std::string& sinks_yaml);

/// `sluice sink <name> -c FILE`.
std::vector<std::string> sink_args(const std::string& pipeline_file, const std::string& sink);

/// Polls `check` (which returns a description of what is still wrong, empty when done) until
/// it returns empty or `give_up` passes (a safety net against a hung test, not a timing
/// assertion). Returns the last description.
std::string wait_until_converged(const std::function<std::string()>& check,
                                 std::chrono::seconds give_up = std::chrono::seconds(300));

/// Compares expected and actual rows; returns a readable list of the first differences, or ""
/// when they are equal.
std::string diff_rows(const std::map<std::string, redis_row>& expected,
                      const std::map<std::string, redis_row>& actual);

}  // namespace sluice::test
