#pragma once
#include <string>

namespace sluice::transport {

/// An error from librdkafka, classified the way callers need to act on it.
struct kafka_error {
  int code = 0;  // rd_kafka_resp_err_t
  std::string message;

  /// Transient: the same request may succeed later (broker down, queue full, timeouts).
  [[nodiscard]] bool retriable() const { return retriable_; }
  /// The client instance is unusable (e.g. idempotent producer fenced): recreate or exit.
  [[nodiscard]] bool fatal() const { return fatal_; }
  /// The topic (or partition) does not exist, as opposed to not being reachable.
  [[nodiscard]] bool unknown_topic() const { return unknown_topic_; }

  bool retriable_ = false;
  bool fatal_ = false;
  bool unknown_topic_ = false;
};

}  // namespace sluice::transport
