#include "kafka_record_sink.hpp"

#include <stdexcept>

namespace sluice::app {

kafka_record_sink::kafka_record_sink(const transport::producer_options& options)
    : producer_(options, [this](std::uint64_t token, std::optional<transport::kafka_error> err) {
        if (listener_ == nullptr) return;
        if (err)
          listener_->failed(token, err->message);
        else
          listener_->delivered(token);
      }) {}

int kafka_record_sink::partitions_of(const std::string& topic) {
  if (auto it = partition_counts_.find(topic); it != partition_counts_.end()) return it->second;
  auto count = producer_.partition_count(topic, 10'000);
  if (!count || *count <= 0) {
    throw std::runtime_error("cannot read the partition count of topic " + topic + ": " +
                             (count ? "no partitions" : count.error().message));
  }
  partition_counts_[topic] = *count;
  return *count;
}

int kafka_record_sink::copies(const capture::outgoing_record& record) {
  if (!record.every_partition) return 1;
  topic_.assign(record.topic);
  return partitions_of(topic_);
}

void kafka_record_sink::send(const capture::outgoing_record& record, std::uint64_t token) {
  topic_.assign(record.topic);
  const int copies = record.every_partition ? partitions_of(topic_) : 1;
  for (int p = 0; p < copies; ++p) {
    auto ok =
        producer_.produce(topic_, record.every_partition ? p : -1, record.key, record.value, token);
    if (!ok) {
      // The unit is lost for good: nothing at or after it will be confirmed.
      if (listener_ != nullptr) listener_->failed(token, ok.error().message);
      return;
    }
  }
}

}  // namespace sluice::app
