#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "sluice/schemas/lsn.hpp"
#include "sluice/sinks/record_source.hpp"
#include "sluice/sinks/sink_kind.hpp"

namespace sluice::sinks {

/// What a worker does with an event it cannot apply.
enum class on_bad_event { stop, dead_letter };

struct runtime_options {
  std::string sink_name;  // for messages
  /// Topic → source table ("schema.table"): tombstones carry no event, so their table comes
  /// from the topic they are on.
  std::map<std::string, table_ref> tables_by_topic;
  /// A batch is due at this many events or this age, once the batch before it is applied; it
  /// then ends at the next transaction boundary of the partition that delivers the next
  /// record, unless it reached hard_cap.
  std::size_t max_batch_events = 1000;
  std::chrono::milliseconds linger{20};
  std::size_t hard_cap = 4000;
  on_bad_event on_error = on_bad_event::stop;
  /// Commit offsets to the record source after applied batches (Kafka's committed offsets are
  /// what `sluice status` reports as the sink's lag), at most once per commit_interval, and
  /// always on revocation and stop. A commit is a round trip to the group coordinator; batches
  /// applied since the last commit are redelivered after a crash and skipped by position.
  bool commit_offsets = true;
  std::chrono::milliseconds commit_interval{1000};
  /// Called after each applied batch and when idle, with every partition's applied
  /// next-offset. Replay uses it to follow progress and to switch when caught up.
  std::function<void(const std::map<partition_ref, std::int64_t>& applied)> after_batch;
  /// Apply a batch on a second thread while the next one is read and decoded (never two at
  /// once, and in order; the kind is never called concurrently).
  bool overlap = true;
  /// Backoff while the target is unavailable.
  std::chrono::milliseconds retry_min{50};
  std::chrono::milliseconds retry_max{5000};
};

struct run_outcome {
  enum class status {
    stopped,    // asked to stop: the last batch was applied and committed
    bad_event,  // an event could not be applied and on_error is stop
    failed,     // the target or the source failed in a way waiting does not fix, or a stop
                // arrived while the target was unavailable (nothing unapplied was committed)
  };
  status result = status::stopped;
  std::string message;
  std::uint64_t events_applied = 0;
  std::uint64_t events_skipped = 0;
  std::uint64_t dead_lettered = 0;
};

/// Consumes records, batches them, hands batches to a sink kind, and commits offsets only
/// after the kind applied them. The same loop serves every sink kind.
///
/// - Records are decoded here (schemas::decode_event); a record that does not decode, or that
///   the kind rejects, is a bad event: with on_bad_event::stop the worker applies and commits
///   everything before it and stops with a message naming topic, partition and offset; with
///   dead_letter it is sent to the dead-letter queue (and acknowledged) before the worker moves
///   past it. Never skipped silently, and no offset moves past an unapplied event.
/// - On assignment the kind says where each partition resumes; on revocation the pending batch
///   is applied and committed before the partitions go.
/// - stop (SIGTERM): the current batch is applied and committed, then run() returns.
///
/// One runtime per worker process. The record source is used on the calling thread only (its
/// callbacks run inside poll()); with `overlap`, sink_kind::apply runs on a helper thread, one
/// batch at a time, while the caller reads the next batch.
class sink_runtime final : public assignment_handler {
 public:
  sink_runtime(runtime_options options, record_source& source, sink_kind& kind,
               dead_letter_queue* dead_letters);

  [[nodiscard]] run_outcome run(const std::atomic<bool>& stop);

  std::vector<std::optional<std::int64_t>> on_assigned(
      const std::vector<partition_ref>& partitions) override;
  void on_revoked(const std::vector<partition_ref>& partitions) override;

  /// Next-offsets applied so far, per partition owned now.
  [[nodiscard]] const std::map<partition_ref, std::int64_t>& applied() const { return applied_; }

 private:
  struct partition_state {
    schemas::lsn last_commit_lsn;  // of the last event added, to cut batches between txns
    bool has_last = false;
    std::optional<std::string> last_delete_key;  // Kafka key of the last record, if a delete
    schemas::position last_delete_position;
  };

  /// The events of a batch. clear() keeps them for reuse: the next record is read and decoded
  /// into the recycled event just past the batch, reusing its strings' and rows' buffers
  /// instead of allocating (and later freeing) them per record.
  class event_buffer {
   public:
    [[nodiscard]] std::size_t size() const { return size_; }
    [[nodiscard]] bool empty() const { return size_ == 0; }
    [[nodiscard]] const sink_event& operator[](std::size_t i) const { return events_[i]; }
    [[nodiscard]] std::span<const sink_event> view() const { return {events_.data(), size_}; }
    /// The event just past the batch, for the next record (valid until the buffer changes).
    sink_event& start_next();
    /// Makes that event part of the batch; `where` is its partition.
    void push_next(const partition_ref& where);
    /// The next-offset of every partition in the batch once it is applied, in partition order.
    [[nodiscard]] std::vector<partition_offset> next_offsets() const;
    void clear() {
      size_ = 0;
      next_offsets_.clear();
    }

   private:
    std::vector<sink_event> events_;  // the batch is [0, size_); the rest are recycled
    std::size_t size_ = 0;
    std::vector<partition_offset> next_offsets_;  // in order of first appearance
  };

  void add(sink_event& slot);  // decodes batch_'s next event and adds it to the batch
  std::pair<const partition_ref, partition_state>& partition_of(const source_record& record);
  bool flush(bool commit_now = false);
  bool finish_in_flight();
  [[nodiscard]] bool still_applying() const;
  bool apply_range(event_buffer& events, std::size_t begin, std::size_t end);
  void record_applied(const std::vector<partition_offset>& offsets, const apply_stats& stats);
  bool handle_bad(const source_record& record, const std::string& reason);
  bool commit_pending(bool now);
  void backoff(std::chrono::milliseconds& delay);

  runtime_options options_;
  record_source& source_;
  sink_kind& kind_;
  dead_letter_queue* dead_letters_;

  const std::atomic<bool>* stop_ = nullptr;
  source_record incoming_;  // where poll() writes
  event_buffer batch_;
  event_buffer in_flight_;  // being applied on the helper thread
  std::vector<partition_offset> in_flight_offsets_;
  std::future<std::expected<apply_stats, apply_error>> in_flight_result_;
  std::chrono::steady_clock::duration in_flight_duration_{};
  std::chrono::steady_clock::time_point batch_started_;
  std::map<partition_ref, partition_state> partitions_;
  // The partitions_ entry of the last record added, if still there (see partition_of()).
  std::pair<const partition_ref, partition_state>* last_state_ = nullptr;
  std::map<partition_ref, std::int64_t> applied_;      // applied next-offsets
  std::map<partition_ref, std::int64_t> uncommitted_;  // applied, not yet committed
  std::optional<run_outcome> ended_;  // set when the loop must end (from inside a callback too)
  run_outcome totals_;
  std::chrono::steady_clock::time_point now_;  // read after each poll()
  std::chrono::steady_clock::time_point last_report_;
  std::chrono::steady_clock::time_point last_commit_;
  std::chrono::steady_clock::duration time_applying_{};  // in sink_kind::apply
  std::chrono::steady_clock::duration time_waiting_{};   // in record_source::poll
};

}  // namespace sluice::sinks
