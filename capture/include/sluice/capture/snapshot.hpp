#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "sluice/capture/pgoutput.hpp"
#include "sluice/capture/record_sink.hpp"
#include "sluice/capture/source_catalog.hpp"

namespace sluice::capture {

struct snapshot_options {
  std::string dsn;
  std::string slot;
  std::string topic_prefix;
  std::string db;
  std::string version;
  int parallelism = 4;
  int chunk_rows = 4096;
  /// "schema.table" → key columns (primary key, else replica-identity index).
  std::unordered_map<std::string, std::vector<std::string>> keys;
};

/// The durable bookkeeping of snapshots, in the source database (schema `sluice`): requests
/// per table, and per request the key ranges with the last key whose rows Kafka acknowledged.
namespace snapshot_store {
void ensure_schema(const std::string& dsn);
/// Queues a snapshot of each table for the slot (initial snapshot, or `sluice snapshot`).
void request(const std::string& dsn, const std::string& slot, const std::vector<table_ref>& tables);
/// Forgets every request of a slot (the slot was created anew).
void forget(const std::string& dsn, const std::string& slot);
struct request_progress {
  std::int64_t id;
  std::string table;
  std::string state;  // pending | running | done
  std::int64_t rows_done;
  std::int64_t rows_estimate;
};
std::vector<request_progress> progress(const std::string& dsn, const std::string& slot);
}  // namespace snapshot_store

/// Runs snapshots beside the stream, with the watermark algorithm of docs/snapshot.md.
///
/// Worker threads (snapshot_options::parallelism, each with its own connection) read chunks
/// of key ranges between a low and a high watermark written into the WAL with
/// pg_logical_emit_message. The capture loop reports every streamed record's key and every
/// watermark; when a chunk's high watermark arrives, the chunk's rows whose keys were not
/// changed between the watermarks are emitted as `op: r` events at the high watermark's
/// position. Progress is saved only once the capture loop says those records are confirmed.
/// The loop-side methods are called from the capture thread only.
class snapshot_coordinator {
 public:
  explicit snapshot_coordinator(snapshot_options options);
  ~snapshot_coordinator();
  snapshot_coordinator(const snapshot_coordinator&) = delete;
  snapshot_coordinator& operator=(const snapshot_coordinator&) = delete;

  // --- capture thread ---
  /// A streamed (not snapshot) record went out.
  void on_record(std::string_view topic, std::string_view key);
  /// A logical message; for a high watermark, the chunk's surviving rows go to `emit`.
  void on_message(const pgoutput::message& m,
                  const std::function<void(const outgoing_record&)>& emit);
  void on_transaction_end(schemas::lsn end_lsn);
  /// Everything up to `confirmed` is durable in Kafka: save the progress of chunks before it.
  void on_confirmed(schemas::lsn confirmed);
  /// The replication stream was reopened: windows opened on the old stream are void.
  void stream_restarted();

 private:
  struct range_task;
  struct chunk_state;
  struct pending_progress;

  void plan_loop();
  void worker_loop();
  void run_range(range_task& task);
  void log_progress();
  /// Saves one chunk's progress in one transaction on progress_conn_. Returns "<table> done:
  /// <n> rows" once the chunk's request is done.
  std::optional<std::string> record_progress(const pending_progress& p);

  snapshot_options options_;
  std::uint64_t run_id_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> next_chunk_{1};

  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<range_task> queue_;                   // ranges waiting for a worker
  std::set<std::pair<std::int64_t, int>> active_;  // (request, range) queued or running
  std::map<std::uint64_t, std::shared_ptr<chunk_state>> chunks_;

  // planner thread only: rows done per request at the last progress line, for rate and ETA
  std::map<std::int64_t, std::pair<std::int64_t, std::chrono::steady_clock::time_point>>
      progress_seen_;

  // capture thread only
  std::vector<pending_progress> pending_;
  struct pg_conn* progress_conn_ = nullptr;

  std::vector<std::thread> threads_;
};

}  // namespace sluice::capture
