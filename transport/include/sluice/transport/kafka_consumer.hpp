#pragma once
#include <cstdint>
#include <expected>
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
  /// Synchronous commit of the given next-offsets.
  [[nodiscard]] std::expected<void, kafka_error> commit(
      const std::vector<topic_partition_offset>& offsets);
  void close();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace sluice::transport
