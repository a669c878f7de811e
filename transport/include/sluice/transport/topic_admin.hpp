#pragma once
#include <expected>
#include <map>
#include <string>
#include <vector>

#include "sluice/transport/kafka_error.hpp"

namespace sluice::transport {

struct topic_spec {
  std::string name;
  int partitions = 1;
  int replication_factor = 1;
  std::map<std::string, std::string> configs;  // e.g. cleanup.policy=compact
};

/// Creates the topics that do not exist yet; existing ones are left as they are.
[[nodiscard]] std::expected<void, kafka_error> ensure_topics(const std::string& brokers,
                                                             const std::vector<topic_spec>& topics,
                                                             int timeout_ms);

}  // namespace sluice::transport
