#pragma once
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "sluice/capture/delivery_tracker.hpp"
#include "sluice/capture/record_sink.hpp"
#include "sluice/capture/snapshot.hpp"
#include "sluice/capture/source_catalog.hpp"

namespace sluice::capture {

/// The stream can't go on and retrying would not help (a record Kafka refused, a message we
/// cannot decode). Nothing past the last confirmed position was confirmed; a restart resumes.
class capture_failure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct capture_options {
  std::string dsn;
  std::string slot;
  std::string publication;
  std::vector<table_ref> tables;
  std::string topic_prefix;
  std::string version;
  bool alter_publication = false;
  /// Start even when the slot is missing or ahead of what we last confirmed.
  bool accept_slot_reset = false;
  /// Where capture records the last position it confirmed (to notice a dropped or moved slot).
  std::filesystem::path state_file;
  int heartbeat_seconds = 0;     // 0: no pg_logical_emit_message heartbeat
  bool initial_snapshot = true;  // snapshot every table when the slot is created
  int snapshot_parallelism = 4;
  int snapshot_chunk_rows = 4096;
  int status_interval_ms = 1000;
};

/// Tails one replication slot into a record_sink: decode, build events, send, and confirm to
/// Postgres only what Kafka acknowledged (delivery_tracker). One per slot; single-threaded.
class capture_session : private delivery_listener {
 public:
  capture_session(capture_options options, record_sink& sink);
  ~capture_session() override;

  /// Start-up checks and set-up: wal_level, tables and their keys, publication, slot and the
  /// recorded position. Throws source_error with a message meant for the user.
  void prepare();
  /// Streams until `stop` becomes true (then flushes, confirms and returns) or a
  /// capture_failure. Connection errors are retried with backoff.
  void run(const std::atomic<bool>& stop);

  /// Give this to the record_sink: delivery reports feed the tracker.
  [[nodiscard]] delivery_listener& listener() { return *this; }
  [[nodiscard]] const delivery_tracker& tracker() const { return tracker_; }
  [[nodiscard]] std::uint64_t events_sent() const { return events_sent_; }

 private:
  void delivered(std::uint64_t token) override { tracker_.acknowledged(token); }
  void failed(std::uint64_t token, const std::string& error) override {
    tracker_.failed(token, error);
  }
  void stream_once(const std::atomic<bool>& stop);
  void persist_confirmed(lsn confirmed);
  [[nodiscard]] std::optional<lsn> read_recorded_position() const;

  capture_options options_;
  record_sink& sink_;
  delivery_tracker tracker_;
  std::unique_ptr<source_catalog> catalog_;
  std::unique_ptr<snapshot_coordinator> snapshots_;
  std::unordered_map<std::string, std::vector<std::string>> keys_;
  std::string db_name_;
  lsn persisted_;
  std::uint64_t events_sent_ = 0;
};

}  // namespace sluice::capture
