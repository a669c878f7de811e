#include "replication_stream.hpp"

#include <sys/select.h>

#include <chrono>

#include "pq_util.hpp"
#include "sluice/capture/source_catalog.hpp"

namespace sluice::capture {
namespace {

using detail::one_line;

std::uint64_t read_u64(const char* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<std::uint8_t>(p[i]);
  return v;
}

void write_u64(char* p, std::uint64_t v) {
  for (int i = 7; i >= 0; --i) {
    p[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
}

// Replication timestamps count microseconds since 2000-01-01.
std::int64_t postgres_now_micros() {
  const auto now = std::chrono::duration_cast<std::chrono::microseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  return now - 946'684'800'000'000LL;
}

}  // namespace

replication_stream::replication_stream(const std::string& dsn) {
  conn_ = detail::connect(dsn, true);
  if (PQstatus(conn_) != CONNECTION_OK) {
    std::string why = one_line(PQerrorMessage(conn_));
    PQfinish(conn_);
    conn_ = nullptr;
    throw source_error("cannot open a replication connection to Postgres: " + why);
  }
}

replication_stream::~replication_stream() {
  if (buffer_ != nullptr) PQfreemem(buffer_);
  if (conn_ != nullptr) PQfinish(conn_);
}

lsn replication_stream::create_slot(const std::string& slot) {
  detail::result_ptr r(PQexec(conn_, ("CREATE_REPLICATION_SLOT " + quote_ident(slot) +
                                      " LOGICAL pgoutput NOEXPORT_SNAPSHOT")
                                         .c_str()));
  if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) {
    throw source_error("cannot create replication slot " + slot + ": " +
                       one_line(PQresultErrorMessage(r.get())));
  }
  return lsn::parse(PQgetvalue(r.get(), 0, 1)).value_or(lsn{});
}

void replication_stream::start(const std::string& slot, const std::string& publication, lsn from) {
  // proto_version 1: no streaming of in-progress transactions, so nothing from an aborted
  // transaction ever reaches us; 'messages' lets heartbeats travel through the stream.
  std::string escaped_pub;
  for (char c : publication) {
    if (c == '\'') escaped_pub += '\'';
    escaped_pub += c;
  }
  const std::string command = "START_REPLICATION SLOT " + quote_ident(slot) + " LOGICAL " +
                              from.to_string() + " (proto_version '1', publication_names '" +
                              escaped_pub + "', messages 'true')";
  detail::result_ptr r(PQexec(conn_, command.c_str()));
  if (PQresultStatus(r.get()) != PGRES_COPY_BOTH) {
    throw source_error("cannot start replication from slot " + slot + ": " +
                       one_line(PQresultErrorMessage(r.get())));
  }
}

std::optional<stream_message> replication_stream::read(int timeout_ms) {
  if (buffer_ != nullptr) {
    PQfreemem(buffer_);
    buffer_ = nullptr;
  }
  for (int attempt = 0; attempt < 2; ++attempt) {
    const int len = PQgetCopyData(conn_, &buffer_, /*async=*/1);
    if (len > 0) {
      if (buffer_[0] == 'w' && len >= 25) {
        // XLogData: Byte1('w') Int64 start Int64 end Int64 send-time, then the message.
        return stream_message{stream_message::kind::xlog_data, lsn{read_u64(buffer_ + 1)},
                              lsn{read_u64(buffer_ + 9)}, false,
                              std::string_view(buffer_ + 25, static_cast<std::size_t>(len - 25))};
      }
      if (buffer_[0] == 'k' && len >= 18) {
        // Primary keepalive: Byte1('k') Int64 wal-end Int64 time Byte1 reply-requested.
        return stream_message{stream_message::kind::keepalive,
                              lsn{},
                              lsn{read_u64(buffer_ + 1)},
                              buffer_[17] != 0,
                              {}};
      }
      throw source_error(std::string("unexpected replication message type '") + buffer_[0] + "'");
    }
    if (len == -1) {
      detail::result_ptr r(PQgetResult(conn_));
      throw source_error("replication stream ended: " + one_line(PQerrorMessage(conn_)));
    }
    if (len == -2)
      throw source_error("replication stream broke: " + one_line(PQerrorMessage(conn_)));
    if (attempt == 1) break;
    // Nothing buffered: wait for the socket, then let libpq read what arrived.
    fd_set readable;
    FD_ZERO(&readable);
    const int fd = PQsocket(conn_);
    FD_SET(fd, &readable);
    timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    if (select(fd + 1, &readable, nullptr, nullptr, &tv) <= 0) return std::nullopt;
    if (PQconsumeInput(conn_) == 0) {
      throw source_error("replication stream broke: " + one_line(PQerrorMessage(conn_)));
    }
  }
  return std::nullopt;
}

void replication_stream::send_status(lsn confirmed, bool reply_requested) {
  // Standby status update: Byte1('r') Int64 written Int64 flushed Int64 applied Int64 time
  // Byte1 reply. Postgres moves confirmed_flush_lsn to `flushed`.
  char msg[34];
  msg[0] = 'r';
  write_u64(msg + 1, confirmed.value);
  write_u64(msg + 9, confirmed.value);
  write_u64(msg + 17, confirmed.value);
  write_u64(msg + 25, static_cast<std::uint64_t>(postgres_now_micros()));
  msg[33] = reply_requested ? 1 : 0;
  if (PQputCopyData(conn_, msg, sizeof msg) != 1 || PQflush(conn_) != 0) {
    throw source_error("cannot send status update: " + one_line(PQerrorMessage(conn_)));
  }
}

}  // namespace sluice::capture
