#pragma once
#include <cstdint>
#include <expected>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sluice/transport/kafka_error.hpp"

namespace sluice::transport {

struct producer_options {
  std::string brokers;
  /// Extra librdkafka properties (CONFIGURATION.md); applied last, so they can override ours.
  std::map<std::string, std::string> extra;
};

/// Called from poll()/flush() once per message: the broker acknowledged it (error empty) or
/// librdkafka gave up on it. `token` is the caller's number for that message.
using delivery_callback = std::function<void(std::uint64_t token, std::optional<kafka_error>)>;

/// An idempotent, acks=all Kafka producer (librdkafka C API underneath).
///
/// Per-partition order is preserved across retries (enable.idempotence). produce() never
/// buffers without bound: when librdkafka's local queue is full it serves delivery reports
/// until there is room, which is the backpressure capture relies on. Not thread-safe: one
/// thread produces and polls.
class kafka_producer {
 public:
  /// Throws std::runtime_error when the configuration is rejected.
  kafka_producer(const producer_options& options, delivery_callback on_delivery);
  ~kafka_producer();
  kafka_producer(const kafka_producer&) = delete;
  kafka_producer& operator=(const kafka_producer&) = delete;

  /// Enqueues one record; `value` nullopt produces a tombstone. partition -1 lets the
  /// partitioner pick by key (the default partitioner hashes the key, so a key always lands on
  /// the same partition).
  [[nodiscard]] std::expected<void, kafka_error> produce(const std::string& topic,
                                                         std::int32_t partition,
                                                         std::string_view key,
                                                         std::optional<std::string_view> value,
                                                         std::uint64_t token);

  /// The same, with record headers (name, value).
  [[nodiscard]] std::expected<void, kafka_error> produce(
      const std::string& topic, std::int32_t partition, std::string_view key,
      std::optional<std::string_view> value,
      const std::vector<std::pair<std::string, std::string>>& headers, std::uint64_t token);

  /// Serves delivery reports for up to timeout_ms.
  void poll(int timeout_ms);
  /// Waits until every enqueued record is delivered or failed. False on timeout.
  [[nodiscard]] bool flush(int timeout_ms);
  /// Records enqueued and not yet reported.
  [[nodiscard]] int in_flight() const;
  /// Number of partitions of a topic as the broker reports it (metadata request).
  [[nodiscard]] std::expected<int, kafka_error> partition_count(const std::string& topic,
                                                                int timeout_ms);

  struct impl;  // public so the librdkafka callback (a free function) can reach it

 private:
  std::unique_ptr<impl> impl_;
};

}  // namespace sluice::transport
