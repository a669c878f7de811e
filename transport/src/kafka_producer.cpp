#include "sluice/transport/kafka_producer.hpp"

#include <stdexcept>

#include "kafka_util.hpp"

namespace sluice::transport {

struct kafka_producer::impl {
  rd_kafka_t* rk = nullptr;
  delivery_callback on_delivery;
};

namespace {

void on_delivery_report(rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque) {
  auto* self = static_cast<kafka_producer::impl*>(opaque);
  // The token travels as the per-message opaque pointer (msg->_private).
  const auto token = reinterpret_cast<std::uintptr_t>(msg->_private);
  if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    self->on_delivery(token, std::nullopt);
  } else {
    self->on_delivery(token, detail::make_error(msg->err));
  }
}

}  // namespace

kafka_producer::kafka_producer(const producer_options& options, delivery_callback on_delivery)
    : impl_(std::make_unique<impl>()) {
  impl_->on_delivery = std::move(on_delivery);
  // Idempotence gives acks=all, in-order retries and no duplicates from retries within this
  // producer's life (CONFIGURATION.md: enable.idempotence). Batching settings favour throughput;
  // the local queue bound is what turns a slow broker into backpressure on capture.
  std::map<std::string, std::string> props{
      {"bootstrap.servers", options.brokers},
      {"enable.idempotence", "true"},
      {"acks", "all"},
      {"linger.ms", "5"},
      {"batch.num.messages", "10000"},
      {"compression.type", "lz4"},
      {"queue.buffering.max.messages", "100000"},
      {"queue.buffering.max.kbytes", "65536"},
      // A broker outage must not fail deliveries quickly: capture would rather wait.
      {"message.timeout.ms", "600000"},
      {"partitioner", "murmur2_random"},
  };
  for (const auto& [k, v] : options.extra) props[k] = v;
  rd_kafka_conf_t* conf = detail::make_conf(props);
  rd_kafka_conf_set_dr_msg_cb(conf, on_delivery_report);
  rd_kafka_conf_set_opaque(conf, impl_.get());
  char errstr[512];
  impl_->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (impl_->rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    throw std::runtime_error(std::string("kafka producer: ") + errstr);
  }
}

kafka_producer::~kafka_producer() {
  if (impl_ && impl_->rk != nullptr) rd_kafka_destroy(impl_->rk);
}

namespace {

// Calls `send` until the local queue takes the message. Backpressure: the queue is bounded, so
// a full one waits for deliveries to make room.
template <class Send>
std::expected<void, kafka_error> send_when_room(rd_kafka_t* rk, Send&& send) {
  for (;;) {
    const rd_kafka_resp_err_t err = send();
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return {};
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) return std::unexpected(detail::make_error(err));
    rd_kafka_poll(rk, 100);
  }
}

void* opaque(std::uint64_t token) {
  return reinterpret_cast<void*>(static_cast<std::uintptr_t>(token));
}

}  // namespace

std::expected<void, kafka_error> kafka_producer::produce(const std::string& topic,
                                                         std::int32_t partition,
                                                         std::string_view key,
                                                         std::optional<std::string_view> value,
                                                         std::uint64_t token) {
  // A tombstone is a null payload (not an empty one): that is what compaction drops.
  void* payload = value ? const_cast<char*>(value->data()) : nullptr;
  const std::size_t payload_size = value ? value->size() : 0;
  return send_when_room(impl_->rk, [&] {
    return rd_kafka_producev(
        impl_->rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
        RD_KAFKA_V_KEY(const_cast<char*>(key.data()), key.size()),
        RD_KAFKA_V_VALUE(payload, payload_size), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_OPAQUE(opaque(token)), RD_KAFKA_V_END);
  });
}

std::expected<void, kafka_error> kafka_producer::produce(
    const std::string& topic, std::int32_t partition, std::string_view key,
    std::optional<std::string_view> value,
    const std::vector<std::pair<std::string, std::string>>& headers, std::uint64_t token) {
  void* payload = value ? const_cast<char*>(value->data()) : nullptr;
  const std::size_t payload_size = value ? value->size() : 0;
  return send_when_room(impl_->rk, [&] {
    // producev takes ownership of the header list only on success.
    rd_kafka_headers_t* hdrs = rd_kafka_headers_new(headers.size());
    for (const auto& [name, val] : headers) {
      rd_kafka_header_add(hdrs, name.data(), static_cast<ssize_t>(name.size()), val.data(),
                          static_cast<ssize_t>(val.size()));
    }
    const rd_kafka_resp_err_t err = rd_kafka_producev(
        impl_->rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
        RD_KAFKA_V_KEY(const_cast<char*>(key.data()), key.size()),
        RD_KAFKA_V_VALUE(payload, payload_size), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(opaque(token)), RD_KAFKA_V_END);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) rd_kafka_headers_destroy(hdrs);
    return err;
  });
}

void kafka_producer::poll(int timeout_ms) {
  rd_kafka_poll(impl_->rk, timeout_ms);
}

bool kafka_producer::flush(int timeout_ms) {
  return rd_kafka_flush(impl_->rk, timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR;
}

int kafka_producer::in_flight() const {
  return rd_kafka_outq_len(impl_->rk);
}

std::expected<int, kafka_error> kafka_producer::partition_count(const std::string& topic,
                                                                int timeout_ms) {
  return detail::partition_count(impl_->rk, topic, timeout_ms);
}

}  // namespace sluice::transport
