#pragma once
// Private helpers shared by the librdkafka adapters.
#include <librdkafka/rdkafka.h>

#include <map>
#include <stdexcept>
#include <string>

#include "sluice/transport/kafka_error.hpp"

namespace sluice::transport::detail {

inline kafka_error make_error(rd_kafka_resp_err_t err, std::string message = {}) {
  kafka_error e;
  e.code = static_cast<int>(err);
  e.message = message.empty() ? rd_kafka_err2str(err) : std::move(message);
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

}  // namespace sluice::transport::detail
