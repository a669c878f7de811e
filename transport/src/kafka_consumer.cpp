#include "sluice/transport/kafka_consumer.hpp"

#include <stdexcept>

#include "kafka_util.hpp"

namespace sluice::transport {

struct kafka_consumer::impl {
  rd_kafka_t* rk = nullptr;
  bool closed = false;
};

kafka_consumer::kafka_consumer(const consumer_options& options) : impl_(std::make_unique<impl>()) {
  // Offsets are committed by hand, after the sink's writes are durable: never automatically.
  std::map<std::string, std::string> props{
      {"bootstrap.servers", options.brokers},
      {"group.id", options.group_id},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"auto.offset.reset", options.auto_offset_reset},
      {"enable.partition.eof", "false"},
  };
  for (const auto& [k, v] : options.extra) props[k] = v;
  rd_kafka_conf_t* conf = detail::make_conf(props);
  char errstr[512];
  impl_->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
  if (impl_->rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    throw std::runtime_error(std::string("kafka consumer: ") + errstr);
  }
  rd_kafka_poll_set_consumer(impl_->rk);
}

kafka_consumer::~kafka_consumer() {
  if (!impl_ || impl_->rk == nullptr) return;
  close();
  rd_kafka_destroy(impl_->rk);
}

std::expected<void, kafka_error> kafka_consumer::subscribe(const std::vector<std::string>& topics) {
  rd_kafka_topic_partition_list_t* list =
      rd_kafka_topic_partition_list_new(static_cast<int>(topics.size()));
  for (const auto& t : topics) {
    rd_kafka_topic_partition_list_add(list, t.c_str(), RD_KAFKA_PARTITION_UA);
  }
  rd_kafka_resp_err_t err = rd_kafka_subscribe(impl_->rk, list);
  rd_kafka_topic_partition_list_destroy(list);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return std::unexpected(detail::make_error(err));
  return {};
}

std::expected<std::optional<kafka_record>, kafka_error> kafka_consumer::poll(int timeout_ms) {
  rd_kafka_message_t* msg = rd_kafka_consumer_poll(impl_->rk, timeout_ms);
  if (msg == nullptr) return std::optional<kafka_record>{};
  if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    const rd_kafka_resp_err_t err = msg->err;
    std::string text = rd_kafka_message_errstr(msg);
    rd_kafka_message_destroy(msg);
    if (err == RD_KAFKA_RESP_ERR__PARTITION_EOF) return std::optional<kafka_record>{};
    return std::unexpected(detail::make_error(err, text));
  }
  kafka_record rec;
  rec.topic = rd_kafka_topic_name(msg->rkt);
  rec.partition = msg->partition;
  rec.offset = msg->offset;
  if (msg->key != nullptr) rec.key.assign(static_cast<const char*>(msg->key), msg->key_len);
  if (msg->payload != nullptr) {
    rec.value.emplace(static_cast<const char*>(msg->payload), msg->len);
  }
  rd_kafka_headers_t* headers = nullptr;
  if (rd_kafka_message_headers(msg, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    const char* name = nullptr;
    const void* val = nullptr;
    size_t size = 0;
    for (size_t i = 0;
         rd_kafka_header_get_all(headers, i, &name, &val, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
         ++i) {
      rec.headers.emplace_back(name, val ? std::string(static_cast<const char*>(val), size) : "");
    }
  }
  rd_kafka_message_destroy(msg);
  return std::optional<kafka_record>{std::move(rec)};
}

std::expected<void, kafka_error> kafka_consumer::commit(
    const std::vector<topic_partition_offset>& offsets) {
  if (offsets.empty()) return {};
  rd_kafka_topic_partition_list_t* list =
      rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size()));
  for (const auto& o : offsets) {
    rd_kafka_topic_partition_list_add(list, o.topic.c_str(), o.partition)->offset = o.offset;
  }
  rd_kafka_resp_err_t err = rd_kafka_commit(impl_->rk, list, 0 /* synchronous */);
  rd_kafka_topic_partition_list_destroy(list);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return std::unexpected(detail::make_error(err));
  return {};
}

void kafka_consumer::close() {
  if (impl_->closed) return;
  impl_->closed = true;
  rd_kafka_consumer_close(impl_->rk);
}

}  // namespace sluice::transport
