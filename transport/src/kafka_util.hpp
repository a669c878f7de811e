#pragma once
// Private helpers shared by the librdkafka adapters.
#include <librdkafka/rdkafka.h>

#include <expected>
#include <map>
#include <stdexcept>
#include <string>

#include "sluice/schemas/log.hpp"
#include "sluice/transport/kafka_error.hpp"

namespace sluice::transport::detail {

/// librdkafka's own log lines (syslog levels) in sluice's log format, module "kafka", instead
/// of librdkafka's "%3|1764...|FAIL|rdkafka#consumer-1| ..." on stderr. Called from its threads.
inline void forward_log(const rd_kafka_t* /*rk*/, int level, const char* facility,
                        const char* message) {
  const log_level l = level <= 3   ? log_level::error
                      : level == 4 ? log_level::warn
                      : level <= 6 ? log_level::info
                                   : log_level::debug;
  log(l, "kafka", std::string(facility) + ": " + message);
}

inline kafka_error make_error(rd_kafka_resp_err_t err, std::string message = {}) {
  kafka_error e;
  e.code = static_cast<int>(err);
  e.message = message.empty() ? rd_kafka_err2str(err) : std::move(message);
  e.unknown_topic_ =
      err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC;
  // librdkafka marks most transport errors as transient; these are the ones where waiting helps.
  switch (err) {
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
    case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
      e.retriable_ = true;
      break;
    case RD_KAFKA_RESP_ERR__FATAL:
      e.fatal_ = true;
      break;
    default:
      break;
  }
  return e;
}

inline kafka_error make_error(const rd_kafka_error_t* err) {
  kafka_error e = make_error(rd_kafka_error_code(err), rd_kafka_error_string(err));
  e.retriable_ = e.retriable_ || rd_kafka_error_is_retriable(err) != 0;
  e.fatal_ = e.fatal_ || rd_kafka_error_is_fatal(err) != 0;
  return e;
}

/// Builds a librdkafka configuration; throws with librdkafka's own message on a bad property.
inline rd_kafka_conf_t* make_conf(const std::map<std::string, std::string>& properties) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set_log_cb(conf, forward_log);
  char errstr[512];
  for (const auto& [name, value] : properties) {
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), errstr, sizeof errstr) !=
        RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      throw std::runtime_error("kafka property " + name + ": " + errstr);
    }
  }
  return conf;
}

/// Number of partitions of a topic, from a metadata request on any client handle.
inline std::expected<int, kafka_error> partition_count(rd_kafka_t* rk, const std::string& topic,
                                                       int timeout_ms) {
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms);
  rd_kafka_topic_destroy(rkt);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return std::unexpected(make_error(err));
  int count = 0;
  rd_kafka_resp_err_t topic_err = RD_KAFKA_RESP_ERR_NO_ERROR;
  if (md->topic_cnt == 1) {
    count = md->topics[0].partition_cnt;
    topic_err = md->topics[0].err;
  }
  rd_kafka_metadata_destroy(md);
  if (topic_err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return std::unexpected(
        make_error(topic_err, "topic " + topic + ": " + rd_kafka_err2str(topic_err)));
  }
  return count;
}

}  // namespace sluice::transport::detail
