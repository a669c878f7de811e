#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::capture {

/// One Kafka record as capture hands it over; the views live until send() returns.
struct outgoing_record {
  std::string_view topic;
  std::string_view key;
  std::optional<std::string_view> value;  // nullopt: tombstone
  bool every_partition = false;           // truncate: one copy on each partition of the topic
};

/// Where capture sends records (the app wires a Kafka producer behind it).
///
/// copies() says how many records send() will enqueue for one outgoing_record (1, or the
/// partition count for every_partition); each copy is later reported to the delivery_listener
/// with the token. send() may block to apply backpressure, serving delivery reports meanwhile,
/// so callers count the copies as pending before calling it. capture does not know Kafka: this
/// interface is the module boundary.
class record_sink {
 public:
  virtual ~record_sink() = default;
  virtual int copies(const outgoing_record& record) = 0;
  virtual void send(const outgoing_record& record, std::uint64_t token) = 0;
  /// Serves delivery reports for up to timeout_ms.
  virtual void poll(int timeout_ms) = 0;
  /// Waits for every enqueued record to be reported; false on timeout.
  virtual bool flush(int timeout_ms) = 0;
};

}  // namespace sluice::capture

namespace sluice::capture {

/// Receives the outcome of each record copy handed to a record_sink.
class delivery_listener {
 public:
  virtual ~delivery_listener() = default;
  virtual void delivered(std::uint64_t token) = 0;
  virtual void failed(std::uint64_t token, const std::string& error) = 0;
};

}  // namespace sluice::capture
