#pragma once
// A logical replication connection (libpq in replication mode; libpqxx has no such API).
// Protocol: PostgreSQL 15 docs, "Streaming Replication Protocol".
#include <libpq-fe.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/schemas/lsn.hpp"

namespace sluice::capture {

using schemas::lsn;

/// One message of the CopyBoth stream.
struct stream_message {
  enum class kind { xlog_data, keepalive } k;
  lsn wal_start;  // xlog_data: position of the record
  lsn wal_end;    // server's sent/end position
  bool reply_requested = false;
  std::string_view payload;  // xlog_data: the pgoutput message; valid until the next read
};

class replication_stream {
 public:
  /// Connects in replication=database mode; throws source_error.
  explicit replication_stream(const std::string& dsn);
  ~replication_stream();
  replication_stream(const replication_stream&) = delete;
  replication_stream& operator=(const replication_stream&) = delete;

  /// CREATE_REPLICATION_SLOT ... LOGICAL pgoutput; returns the consistent point.
  lsn create_slot(const std::string& slot);
  void start(const std::string& slot, const std::string& publication, lsn from);
  /// Next message, or nullopt after waiting up to timeout_ms. Throws source_error when the
  /// stream ends or breaks.
  std::optional<stream_message> read(int timeout_ms);
  /// Standby status update: written = flushed = applied = `confirmed`.
  void send_status(lsn confirmed, bool reply_requested);

 private:
  PGconn* conn_ = nullptr;
  char* buffer_ = nullptr;  // owned by libpq, freed with PQfreemem
};

}  // namespace sluice::capture
