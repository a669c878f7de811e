#pragma once
#include <compare>
#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::sinks {

/// One partition of one topic.
struct partition_ref {
  std::string topic;
  std::int32_t partition = 0;

  auto operator<=>(const partition_ref&) const = default;
  /// "topic/partition", as sinks store it next to their data.
  [[nodiscard]] std::string to_string() const { return topic + "/" + std::to_string(partition); }
};

/// Where a partition stands: the next offset to read (everything before it is done).
struct partition_offset {
  partition_ref partition;
  std::int64_t next_offset = 0;

  bool operator==(const partition_offset&) const = default;
};

/// One record of the log, as the runtime receives it.
struct source_record {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::string key;
  std::optional<std::string> value;  // nullopt: tombstone

  [[nodiscard]] partition_ref where() const { return {topic, partition}; }
  /// Member by member, so that each string swaps its buffer (std::swap would move each whole
  /// record three times): the runtime swaps every record it receives into a recycled one.
  friend void swap(source_record& a, source_record& b) noexcept {
    a.topic.swap(b.topic);
    std::swap(a.partition, b.partition);
    std::swap(a.offset, b.offset);
    a.key.swap(b.key);
    a.value.swap(b.value);
  }
  /// "topic[partition]@offset", the way messages name a record.
  [[nodiscard]] std::string describe() const {
    return topic + "[" + std::to_string(partition) + "]@" + std::to_string(offset);
  }
};

struct source_error {
  std::string message;
  bool fatal = false;  // the source is unusable; the worker must stop
};

/// Told by the record source when it gains or loses partitions. Both calls happen on the
/// thread that calls record_source::poll(), from inside it.
class assignment_handler {
 public:
  virtual ~assignment_handler() = default;
  /// Returns, for each partition in order, the offset to start from, or nullopt for the
  /// consumer group's committed offset.
  virtual std::vector<std::optional<std::int64_t>> on_assigned(
      const std::vector<partition_ref>& partitions) = 0;
  /// The partitions are still owned until this returns: apply and commit what is pending.
  virtual void on_revoked(const std::vector<partition_ref>& partitions) = 0;
};

/// Where a sink worker reads records (the app wires a Kafka consumer behind it). The sinks
/// module does not know Kafka: this interface is the module boundary. Not thread-safe.
class record_source {
 public:
  virtual ~record_source() = default;
  /// Called before the first poll().
  virtual void set_assignment_handler(assignment_handler* handler) = 0;
  /// Writes the next record into `into` and returns true; false when none arrived within
  /// timeout_ms (`into` is then unchanged). Every field is overwritten. The runtime passes
  /// recycled records: an implementation that assigns into (or swaps with) the strings `into`
  /// already has spares an allocation per record.
  [[nodiscard]] virtual std::expected<bool, source_error> poll(int timeout_ms,
                                                               source_record& into) = 0;
  /// Records that the given next-offsets are applied (synchronously).
  [[nodiscard]] virtual std::expected<void, source_error> commit(
      const std::vector<partition_offset>& offsets) = 0;
  /// Leaves the group (revoking, so the handler commits what it applied).
  virtual void close() = 0;
};

/// Where records that cannot be applied go with `on_error: dead_letter`.
class dead_letter_queue {
 public:
  virtual ~dead_letter_queue() = default;
  /// Returns once the record is durably stored (or failed). `error` says why it was rejected.
  [[nodiscard]] virtual std::expected<void, std::string> send(const source_record& record,
                                                              std::string_view error) = 0;
};

}  // namespace sluice::sinks
