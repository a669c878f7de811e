#include "sluice/transport/kafka_consumer.hpp"

#include <stdexcept>
#include <string_view>

#include "kafka_util.hpp"
#include "sluice/schemas/log.hpp"

namespace sluice::transport {

struct kafka_consumer::impl {
  rd_kafka_t* rk = nullptr;
  bool read_headers = true;
  bool closed = false;
  rebalance_handler handler;
};

namespace {

std::vector<topic_partition_offset> to_vector(const rd_kafka_topic_partition_list_t* list) {
  std::vector<topic_partition_offset> out;
  out.reserve(static_cast<std::size_t>(list->cnt));
  for (int i = 0; i < list->cnt; ++i) {
    out.push_back({list->elems[i].topic, list->elems[i].partition, list->elems[i].offset});
  }
  return out;
}

rd_kafka_topic_partition_list_t* to_list(const std::vector<topic_partition_offset>& offsets) {
  rd_kafka_topic_partition_list_t* list =
      rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size()));
  for (const auto& o : offsets) {
    rd_kafka_topic_partition_list_add(list, o.topic.c_str(), o.partition)->offset = o.offset;
  }
  return list;
}

// A failed assignment would leave the worker in its group with no partitions and no word of
// why: say so (the next rebalance tries again).
void report_assign_error(rd_kafka_error_t* e, const char* what) {
  if (e == nullptr) return;
  log(log_level::warn, "transport",
      std::string("cannot ") + what +
          " the partitions of a rebalance: " + rd_kafka_error_string(e));
  rd_kafka_error_destroy(e);
}
void report_assign_error(rd_kafka_resp_err_t err, const char* what) {
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return;
  log(log_level::warn, "transport",
      std::string("cannot ") + what + " the partitions of a rebalance: " + rd_kafka_err2str(err));
}

void on_rebalance(rd_kafka_t*, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions,
                  void* opaque) {
  auto& self = *static_cast<kafka_consumer::impl*>(opaque);
  // Eager protocol (the assignment strategies we configure): every rebalance revokes the whole
  // assignment, then assigns a new one (librdkafka INTRODUCTION.md, "Consumer groups").
  // A cooperative strategy set through `extra` hands over increments instead.
  const bool cooperative = std::string_view(rd_kafka_rebalance_protocol(self.rk)) == "COOPERATIVE";
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    if (self.handler.on_assigned) {
      auto starts = self.handler.on_assigned(to_vector(partitions));
      for (int i = 0; i < partitions->cnt && i < static_cast<int>(starts.size()); ++i) {
        partitions->elems[i].offset = starts[static_cast<std::size_t>(i)];
      }
    }
    if (cooperative) {
      report_assign_error(rd_kafka_incremental_assign(self.rk, partitions), "take");
    } else {
      report_assign_error(rd_kafka_assign(self.rk, partitions), "take");
    }
  } else {
    if (self.handler.on_revoked) self.handler.on_revoked(to_vector(partitions));
    if (cooperative) {
      report_assign_error(rd_kafka_incremental_unassign(self.rk, partitions), "give up");
    } else {
      report_assign_error(rd_kafka_assign(self.rk, nullptr), "give up");
    }
  }
}

}  // namespace

kafka_consumer::kafka_consumer(const consumer_options& options) : impl_(std::make_unique<impl>()) {
  impl_->read_headers = options.read_headers;
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
  rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
  rd_kafka_conf_set_opaque(conf, impl_.get());
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
  kafka_record rec;
  auto got = poll(timeout_ms, rec);
  if (!got) return std::unexpected(std::move(got.error()));
  if (!*got) return std::optional<kafka_record>{};
  return std::optional<kafka_record>{std::move(rec)};
}

std::expected<bool, kafka_error> kafka_consumer::poll(int timeout_ms, kafka_record& rec) {
  rd_kafka_message_t* msg = rd_kafka_consumer_poll(impl_->rk, timeout_ms);
  if (msg == nullptr) return false;
  if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    const rd_kafka_resp_err_t err = msg->err;
    std::string text = rd_kafka_message_errstr(msg);
    rd_kafka_message_destroy(msg);
    if (err == RD_KAFKA_RESP_ERR__PARTITION_EOF) return false;
    return std::unexpected(detail::make_error(err, text));
  }
  // assign() keeps the buffers `rec` already has.
  rec.topic.assign(rd_kafka_topic_name(msg->rkt));
  rec.partition = msg->partition;
  rec.offset = msg->offset;
  if (msg->key != nullptr) {
    rec.key.assign(static_cast<const char*>(msg->key), msg->key_len);
  } else {
    rec.key.clear();
  }
  if (msg->payload == nullptr) {
    rec.value.reset();
  } else if (rec.value) {
    rec.value->assign(static_cast<const char*>(msg->payload), msg->len);
  } else {
    rec.value.emplace(static_cast<const char*>(msg->payload), msg->len);
  }
  rec.headers.clear();
  rd_kafka_headers_t* headers = nullptr;
  if (impl_->read_headers &&
      rd_kafka_message_headers(msg, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
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
  return true;
}

std::expected<void, kafka_error> kafka_consumer::commit(
    const std::vector<topic_partition_offset>& offsets) {
  if (offsets.empty()) return {};
  rd_kafka_topic_partition_list_t* list = to_list(offsets);
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

void kafka_consumer::set_rebalance_handler(rebalance_handler handler) {
  impl_->handler = std::move(handler);
}

std::expected<void, kafka_error> kafka_consumer::assign(
    const std::vector<topic_partition_offset>& partitions) {
  rd_kafka_topic_partition_list_t* list = to_list(partitions);
  rd_kafka_resp_err_t err = rd_kafka_assign(impl_->rk, list);
  rd_kafka_topic_partition_list_destroy(list);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return std::unexpected(detail::make_error(err));
  return {};
}

std::expected<int, kafka_error> kafka_consumer::partition_count(const std::string& topic,
                                                                int timeout_ms) {
  return detail::partition_count(impl_->rk, topic, timeout_ms);
}

std::expected<watermarks, kafka_error> kafka_consumer::query_watermarks(const std::string& topic,
                                                                        std::int32_t partition,
                                                                        int timeout_ms) {
  watermarks w;
  rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(impl_->rk, topic.c_str(), partition,
                                                             &w.low, &w.high, timeout_ms);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return std::unexpected(detail::make_error(err));
  return w;
}

std::expected<std::vector<topic_partition_offset>, kafka_error> kafka_consumer::committed(
    const std::vector<topic_partition_offset>& partitions, int timeout_ms) {
  rd_kafka_topic_partition_list_t* list = to_list(partitions);
  rd_kafka_resp_err_t err = rd_kafka_committed(impl_->rk, list, timeout_ms);
  std::vector<topic_partition_offset> out = to_vector(list);
  rd_kafka_topic_partition_list_destroy(list);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return std::unexpected(detail::make_error(err));
  for (auto& o : out) {
    if (o.offset < 0) o.offset = offset_committed;
  }
  return out;
}

std::expected<group_description, kafka_error> kafka_consumer::describe_group(
    const std::string& group_id, int timeout_ms) {
  const rd_kafka_group_list* groups = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_list_groups(impl_->rk, group_id.c_str(), &groups, timeout_ms);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return std::unexpected(detail::make_error(err));
  group_description d{"Dead", 0};
  for (int i = 0; i < groups->group_cnt; ++i) {
    const auto& g = groups->groups[i];
    if (group_id != g.group) continue;
    d.state = g.state != nullptr ? g.state : "";
    d.members = g.member_cnt;
  }
  rd_kafka_group_list_destroy(groups);
  return d;
}

}  // namespace sluice::transport
