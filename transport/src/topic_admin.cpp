#include "sluice/transport/topic_admin.hpp"

#include <memory>

#include "kafka_util.hpp"

namespace sluice::transport {

std::expected<void, kafka_error> ensure_topics(const std::string& brokers,
                                               const std::vector<topic_spec>& topics,
                                               int timeout_ms) {
  if (topics.empty()) return {};
  rd_kafka_conf_t* conf = detail::make_conf({{"bootstrap.servers", brokers}});
  char errstr[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    return std::unexpected(kafka_error{0, errstr});
  }
  std::unique_ptr<rd_kafka_t, decltype(&rd_kafka_destroy)> client(rk, rd_kafka_destroy);

  std::vector<rd_kafka_NewTopic_t*> new_topics;
  for (const auto& t : topics) {
    rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(t.name.c_str(), t.partitions,
                                                    t.replication_factor, errstr, sizeof errstr);
    if (nt == nullptr) {
      rd_kafka_NewTopic_destroy_array(new_topics.data(), new_topics.size());
      return std::unexpected(kafka_error{0, "topic " + t.name + ": " + errstr});
    }
    for (const auto& [k, v] : t.configs) rd_kafka_NewTopic_set_config(nt, k.c_str(), v.c_str());
    new_topics.push_back(nt);
  }

  rd_kafka_AdminOptions_t* opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
  rd_kafka_AdminOptions_set_operation_timeout(opts, timeout_ms, errstr, sizeof errstr);
  rd_kafka_AdminOptions_set_request_timeout(opts, timeout_ms, errstr, sizeof errstr);
  rd_kafka_queue_t* queue = rd_kafka_queue_new(rk);
  rd_kafka_CreateTopics(rk, new_topics.data(), new_topics.size(), opts, queue);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(queue, timeout_ms + 2000);

  std::expected<void, kafka_error> result;
  if (ev == nullptr) {
    result = std::unexpected(
        detail::make_error(RD_KAFKA_RESP_ERR__TIMED_OUT, "timed out creating topics"));
  } else if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    result = std::unexpected(
        detail::make_error(rd_kafka_event_error(ev), rd_kafka_event_error_string(ev)));
  } else {
    size_t count = 0;
    const rd_kafka_topic_result_t** results =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &count);
    for (size_t i = 0; i < count; ++i) {
      rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[i]);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        continue;
      }
      const char* msg = rd_kafka_topic_result_error_string(results[i]);
      result = std::unexpected(
          detail::make_error(err, std::string("topic ") + rd_kafka_topic_result_name(results[i]) +
                                      ": " + (msg ? msg : rd_kafka_err2str(err))));
      break;
    }
  }
  if (ev != nullptr) rd_kafka_event_destroy(ev);
  rd_kafka_queue_destroy(queue);
  rd_kafka_AdminOptions_destroy(opts);
  rd_kafka_NewTopic_destroy_array(new_topics.data(), new_topics.size());
  return result;
}

}  // namespace sluice::transport
