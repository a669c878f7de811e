#pragma once
// Building blocks for integration tests: the real sluice binary as a child process, pipeline
// files with unique names, SQL against the test Postgres, and reading topics back.
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "sluice/transport/kafka_consumer.hpp"

namespace sluice::test {

/// A pipeline with names unique to one test: slot, publication, topic prefix.
struct pipeline_spec {
  pipeline_spec(std::string n, std::vector<std::string> t, int parts = 1)
      : name(std::move(n)), tables(std::move(t)), partitions(parts) {}
  std::string name;
  std::vector<std::string> tables;  // "schema.table"
  int partitions = 1;
  std::string dsn;                 // default: SLUICE_PG_DSN
  std::string brokers;             // default: KAFKA_BROKERS
  std::string extra_source_yaml;   // more keys under source.postgres, already indented
  std::string snapshot = "never";  // initial | never
  std::string slot() const { return name + "_slot"; }
  std::string publication() const { return name + "_pub"; }
  std::string prefix() const { return name; }
  std::string topic(const std::string& table) const { return prefix() + "." + table; }
};

/// Writes the pipeline file under the test's scratch directory and returns its path.
std::string write_pipeline(const pipeline_spec& spec);
/// A scratch directory unique to this test process.
std::string scratch_dir();
std::string sluice_binary();

/// A child process with stdout and stderr in a log file. Killed (SIGKILL) if still running
/// when destroyed.
class child_process {
 public:
  child_process(const std::vector<std::string>& argv, const std::string& log_path);
  ~child_process();
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  void signal(int sig);
  /// Waits for exit and returns the exit code (128+signal when killed by a signal).
  int wait();
  [[nodiscard]] bool running();
  [[nodiscard]] std::string log() const;
  /// Waits until `text` appears in the log; false if the process exits first.
  bool wait_for_log(const std::string& text,
                    std::chrono::seconds give_up = std::chrono::seconds(120));

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
  std::string log_path_;
};

/// Runs `sluice <args...>` to completion; returns exit code and combined output.
struct run_result {
  int exit_code;
  std::string output;
};
run_result run_sluice(const std::vector<std::string>& args);

/// `sluice capture -c FILE` with a state dir of its own under the scratch directory.
std::vector<std::string> capture_args(const std::string& pipeline_file,
                                      const std::string& state_dir);

/// Executes SQL (several statements allowed) on the test database in one transaction.
void sql(const std::string& statements, const std::string& dsn = "");
/// First column of the first row, as text ("" for NULL).
std::string sql_value(const std::string& query, const std::string& dsn = "");
/// Every row of a query, columns as text (NULL as nullopt).
std::vector<std::vector<std::optional<std::string>>> sql_rows(const std::string& query,
                                                              const std::string& dsn = "");

/// Reads every record of the topics from the beginning, until `done(records)` holds and no new
/// record arrived for `settle`, or until `give_up` passes (a safety net against a hung test,
/// not a performance limit).
std::vector<transport::kafka_record> read_topics(
    const std::vector<std::string>& topics,
    const std::function<bool(const std::vector<transport::kafka_record>&)>& done,
    std::chrono::milliseconds settle = std::chrono::milliseconds(1500),
    std::chrono::seconds give_up = std::chrono::seconds(300));

/// Drops the slot of a pipeline if it exists (tests clean up after themselves).
void drop_slot(const std::string& slot);

/// The latest state per key that a topic holds, as a consumer replaying it would see it:
/// key → `after` of the newest event, keys whose newest record is a delete or tombstone
/// removed, everything removed at a truncate.
std::map<std::string, nlohmann::json> latest_per_key(
    const std::vector<transport::kafka_record>& records);
/// key → to_jsonb(row) for every row of the table, keyed like capture keys them.
std::map<std::string, nlohmann::json> table_rows(const std::string& table,
                                                 const std::vector<std::string>& key_columns);

}  // namespace sluice::test
