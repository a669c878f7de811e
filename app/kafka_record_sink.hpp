#pragma once
// The Kafka side of capture: capture::record_sink on top of transport::kafka_producer.
// Lives in app because app is the only module that sees both.
#include <string>
#include <unordered_map>

#include "sluice/capture/record_sink.hpp"
#include "sluice/transport/kafka_producer.hpp"

namespace sluice::app {

class kafka_record_sink : public capture::record_sink {
 public:
  explicit kafka_record_sink(const transport::producer_options& options);

  void set_listener(capture::delivery_listener* listener) { listener_ = listener; }
  int copies(const capture::outgoing_record& record) override;
  void send(const capture::outgoing_record& record, std::uint64_t token) override;
  void poll(int timeout_ms) override { producer_.poll(timeout_ms); }
  bool flush(int timeout_ms) override { return producer_.flush(timeout_ms); }

 private:
  int partitions_of(const std::string& topic);

  capture::delivery_listener* listener_ = nullptr;
  transport::kafka_producer producer_;
  std::unordered_map<std::string, int> partition_counts_;
  std::string topic_;
};

}  // namespace sluice::app
