#pragma once
// The Kafka side of the sink workers: sinks::record_source on a transport::kafka_consumer and
// sinks::dead_letter_queue on a transport::kafka_producer. Lives in app because app is the only
// module that sees both.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sluice/sinks/record_source.hpp"
#include "sluice/transport/kafka_consumer.hpp"
#include "sluice/transport/kafka_producer.hpp"

namespace sluice::app {

class kafka_record_source final : public sinks::record_source {
 public:
  enum class mode {
    group,           // subscribe in the consumer group; partitions come and go by rebalance
    all_partitions,  // read every partition of the topics, outside any rebalancing (replay)
  };
  kafka_record_source(const transport::consumer_options& options, std::vector<std::string> topics,
                      mode m);

  void set_assignment_handler(sinks::assignment_handler* handler) override;
  std::expected<bool, sinks::source_error> poll(int timeout_ms,
                                                sinks::source_record& into) override;
  std::expected<void, sinks::source_error> commit(
      const std::vector<sinks::partition_offset>& offsets) override;
  void close() override;

  transport::kafka_consumer& consumer() { return consumer_; }

 private:
  std::expected<void, sinks::source_error> assign_all();

  transport::kafka_consumer consumer_;
  transport::kafka_record polled_;  // its buffers circulate with the caller's records
  std::vector<std::string> topics_;
  mode mode_;
  sinks::assignment_handler* handler_ = nullptr;
  bool started_ = false;
};

/// Sends rejected records to `<prefix>.dlq.<sink>`: the original key and value, with headers
/// sluice.error, sluice.sink, sluice.topic, sluice.partition and sluice.offset. send() waits
/// for the broker's acknowledgement.
class kafka_dead_letter_queue final : public sinks::dead_letter_queue {
 public:
  kafka_dead_letter_queue(const transport::producer_options& options, std::string topic,
                          std::string sink_name);
  std::expected<void, std::string> send(const sinks::source_record& record,
                                        std::string_view error) override;

 private:
  std::string topic_;
  std::string sink_name_;
  std::optional<std::string> last_error_;
  bool delivered_ = false;
  std::unique_ptr<transport::kafka_producer> producer_;
};

/// Consumer settings shared by sink workers: fast failure detection so a killed worker's
/// partitions move on within seconds, and an eager strategy that spreads single-partition
/// topics over workers (librdkafka CONFIGURATION.md: partition.assignment.strategy).
transport::consumer_options sink_consumer_options(const std::string& brokers,
                                                  const std::string& group_id);

}  // namespace sluice::app
