#pragma once
#include <cstdint>
#include <expected>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sluice/transport/kafka_error.hpp"

namespace sluice::transport {

struct consumer_options {
  std::string brokers;
  std::string group_id;
  /// Where a group with no committed offset starts: "earliest" or "latest".
  std::string auto_offset_reset = "earliest";
  std::map<std::string, std::string> extra;
  /// Fill kafka_record::headers. librdkafka parses a message's headers into a list it allocates
  /// when asked, even when there are none: a consumer that ignores them saves that per record.
  bool read_headers = true;
};

struct kafka_record {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::string key;
  std::optional<std::string> value;  // nullopt: tombstone
  std::vector<std::pair<std::string, std::string>> headers;
};

struct topic_partition_offset {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t offset = 0;  // the next offset to read
};

/// Offsets with a special meaning where a start offset is expected (librdkafka's values).
inline constexpr std::int64_t offset_beginning = -2;     // the oldest record still in the log
inline constexpr std::int64_t offset_end = -1;           // the next record produced
inline constexpr std::int64_t offset_committed = -1001;  // the group's committed offset

/// Called from inside poll() when the group gives this consumer partitions (assigned) or takes
/// them away (revoked; the consumer still owns them until the callback returns, so a caller can
/// commit what it applied). `on_assigned` returns where each partition starts, in the same
/// order (`offset_committed` for the group's committed offset).
struct rebalance_handler {
  std::function<std::vector<std::int64_t>(const std::vector<topic_partition_offset>&)> on_assigned;
  std::function<void(const std::vector<topic_partition_offset>&)> on_revoked;
};

/// The low (oldest retained) and high (next to be written) offsets of a partition.
struct watermarks {
  std::int64_t low = 0;
  std::int64_t high = 0;
};

/// A consumer group as the coordinator describes it.
struct group_description {
  std::string state;  // "Stable", "Empty", "PreparingRebalance", "Dead", ...
  int members = 0;
};

/// A Kafka consumer in a consumer group, with manual offset commits
/// (enable.auto.commit=false): offsets move only when the caller says its writes are done.
/// Not thread-safe.
class kafka_consumer {
 public:
  explicit kafka_consumer(const consumer_options& options);
  ~kafka_consumer();
  kafka_consumer(const kafka_consumer&) = delete;
  kafka_consumer& operator=(const kafka_consumer&) = delete;

  [[nodiscard]] std::expected<void, kafka_error> subscribe(const std::vector<std::string>& topics);
  /// Next record, nullopt on timeout or partition EOF. Errors other than EOF are returned.
  [[nodiscard]] std::expected<std::optional<kafka_record>, kafka_error> poll(int timeout_ms);
  /// The same, written into `into` (true) reusing its strings' buffers, so a caller that polls
  /// into the same record does not allocate per record; false on timeout or partition EOF,
  /// and then `into` is unchanged.
  [[nodiscard]] std::expected<bool, kafka_error> poll(int timeout_ms, kafka_record& into);
  /// Synchronous commit of the given next-offsets.
  [[nodiscard]] std::expected<void, kafka_error> commit(
      const std::vector<topic_partition_offset>& offsets);
  void close();

  /// Replaces the default rebalance behaviour (assign what the group gives, from the committed
  /// offsets). Set it before subscribe(); the callbacks run on the thread that calls poll().
  void set_rebalance_handler(rebalance_handler handler);
  /// Reads exactly these partitions from the given offsets, outside any group rebalancing
  /// (instead of subscribe()). offset_committed reads from the group's committed offset.
  [[nodiscard]] std::expected<void, kafka_error> assign(
      const std::vector<topic_partition_offset>& partitions);
  /// Number of partitions of a topic (metadata request).
  [[nodiscard]] std::expected<int, kafka_error> partition_count(const std::string& topic,
                                                                int timeout_ms);
  /// Asks the partition leader for the partition's watermarks.
  [[nodiscard]] std::expected<watermarks, kafka_error> query_watermarks(const std::string& topic,
                                                                        std::int32_t partition,
                                                                        int timeout_ms);
  /// The group's committed next-offsets for these partitions; offset_committed where the group
  /// has none.
  [[nodiscard]] std::expected<std::vector<topic_partition_offset>, kafka_error> committed(
      const std::vector<topic_partition_offset>& partitions, int timeout_ms);
  /// State and member count of a consumer group (any group, not only this consumer's).
  [[nodiscard]] std::expected<group_description, kafka_error> describe_group(
      const std::string& group_id, int timeout_ms);

  struct impl;  // public so the librdkafka rebalance callback (a free function) can reach it

 private:
  std::unique_ptr<impl> impl_;
};

}  // namespace sluice::transport
