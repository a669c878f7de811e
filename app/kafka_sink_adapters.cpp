#include "kafka_sink_adapters.hpp"

namespace sluice::app {

transport::consumer_options sink_consumer_options(const std::string& brokers,
                                                  const std::string& group_id) {
  transport::consumer_options o;
  o.brokers = brokers;
  o.group_id = group_id;
  o.auto_offset_reset = "earliest";
  o.extra = {
      {"partition.assignment.strategy", "roundrobin"},
      {"session.timeout.ms", "6000"},
      {"heartbeat.interval.ms", "1500"},
      {"fetch.wait.max.ms", "50"},
  };
  o.read_headers = false;  // source_record has none: the runtime never reads them
  return o;
}

kafka_record_source::kafka_record_source(const transport::consumer_options& options,
                                         std::vector<std::string> topics, mode m)
    : consumer_(options), topics_(std::move(topics)), mode_(m) {}

void kafka_record_source::set_assignment_handler(sinks::assignment_handler* handler) {
  handler_ = handler;
  if (mode_ != mode::group) return;
  transport::rebalance_handler h;
  h.on_assigned = [this](const std::vector<transport::topic_partition_offset>& parts) {
    std::vector<sinks::partition_ref> refs;
    for (const auto& p : parts) refs.push_back({p.topic, p.partition});
    auto starts = handler_->on_assigned(refs);
    std::vector<std::int64_t> out;
    for (const auto& s : starts) out.push_back(s ? *s : transport::offset_committed);
    return out;
  };
  h.on_revoked = [this](const std::vector<transport::topic_partition_offset>& parts) {
    std::vector<sinks::partition_ref> refs;
    for (const auto& p : parts) refs.push_back({p.topic, p.partition});
    handler_->on_revoked(refs);
  };
  consumer_.set_rebalance_handler(std::move(h));
}

std::expected<void, sinks::source_error> kafka_record_source::assign_all() {
  std::vector<sinks::partition_ref> refs;
  for (const auto& t : topics_) {
    auto count = consumer_.partition_count(t, 10'000);
    if (!count) return std::unexpected(sinks::source_error{count.error().message, false});
    for (int p = 0; p < *count; ++p) refs.push_back({t, p});
  }
  auto starts = handler_->on_assigned(refs);
  std::vector<transport::topic_partition_offset> assignment;
  for (std::size_t i = 0; i < refs.size(); ++i) {
    const auto start = i < starts.size() && starts[i] ? *starts[i] : transport::offset_committed;
    assignment.push_back({refs[i].topic, refs[i].partition, start});
  }
  if (auto ok = consumer_.assign(assignment); !ok) {
    return std::unexpected(sinks::source_error{ok.error().message, true});
  }
  return {};
}

std::expected<bool, sinks::source_error> kafka_record_source::poll(int timeout_ms,
                                                                   sinks::source_record& into) {
  if (!started_) {
    if (mode_ == mode::group) {
      if (auto ok = consumer_.subscribe(topics_); !ok) {
        return std::unexpected(sinks::source_error{ok.error().message, true});
      }
    } else if (auto ok = assign_all(); !ok) {
      return std::unexpected(ok.error());
    }
    started_ = true;
  }
  auto r = consumer_.poll(timeout_ms, polled_);
  if (!r) return std::unexpected(sinks::source_error{r.error().message, r.error().fatal()});
  if (!*r) return false;
  // Swapped, not copied: polled_ takes `into`'s old buffers, which the next poll fills.
  into.topic.swap(polled_.topic);
  into.partition = polled_.partition;
  into.offset = polled_.offset;
  into.key.swap(polled_.key);
  into.value.swap(polled_.value);
  return true;
}

std::expected<void, sinks::source_error> kafka_record_source::commit(
    const std::vector<sinks::partition_offset>& offsets) {
  std::vector<transport::topic_partition_offset> out;
  out.reserve(offsets.size());
  for (const auto& o : offsets) {
    out.push_back({o.partition.topic, o.partition.partition, o.next_offset});
  }
  if (auto ok = consumer_.commit(out); !ok) {
    return std::unexpected(sinks::source_error{ok.error().message, ok.error().fatal()});
  }
  return {};
}

void kafka_record_source::close() {
  consumer_.close();
}

kafka_dead_letter_queue::kafka_dead_letter_queue(const transport::producer_options& options,
                                                 std::string topic, std::string sink_name)
    : topic_(std::move(topic)), sink_name_(std::move(sink_name)) {
  producer_ = std::make_unique<transport::kafka_producer>(
      options, [this](std::uint64_t, std::optional<transport::kafka_error> err) {
        if (err) {
          last_error_ = err->message;
        } else {
          delivered_ = true;
        }
      });
}

std::expected<void, std::string> kafka_dead_letter_queue::send(const sinks::source_record& record,
                                                               std::string_view error) {
  last_error_.reset();
  delivered_ = false;
  std::vector<std::pair<std::string, std::string>> headers{
      {"sluice.error", std::string(error)},
      {"sluice.sink", sink_name_},
      {"sluice.topic", record.topic},
      {"sluice.partition", std::to_string(record.partition)},
      {"sluice.offset", std::to_string(record.offset)},
  };
  std::optional<std::string_view> value;
  if (record.value) value = *record.value;
  if (auto ok = producer_->produce(topic_, -1, record.key, value, headers, 0); !ok) {
    return std::unexpected(ok.error().message);
  }
  if (!producer_->flush(30'000)) return std::unexpected("timed out waiting for Kafka");
  if (last_error_) return std::unexpected(*last_error_);
  if (!delivered_) return std::unexpected("no delivery report from Kafka");
  return {};
}

}  // namespace sluice::app
