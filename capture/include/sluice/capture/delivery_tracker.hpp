#pragma once
#include <cstdint>
#include <deque>
#include <optional>
#include <string>

#include "sluice/schemas/lsn.hpp"

namespace sluice::capture {

using schemas::lsn;

/// Decides how far the slot may be confirmed: the end LSN of the newest transaction whose
/// records — and every record sent before them — Kafka has acknowledged. Never more.
///
/// Records are grouped in units (one per source transaction, or an empty unit for a keepalive
/// position). A unit's token is handed to the record_sink with each record; acknowledgements
/// may arrive in any order across partitions. Pure bookkeeping, single-threaded.
class delivery_tracker {
 public:
  /// Token for records of the currently open unit (opens one if none is open).
  std::uint64_t current_token();
  /// `copies` more records of the open unit were enqueued.
  void sent(std::uint64_t token, int copies);
  /// Closes the open unit (opening an empty one if none): once all its records and all earlier
  /// units are acknowledged, `end` becomes confirmable.
  void close_unit(lsn end);
  void acknowledged(std::uint64_t token);
  /// Kafka gave up on a record: nothing at or after its unit may ever be confirmed by this
  /// process. Capture stops; a restart resends from the slot's confirmed position.
  void failed(std::uint64_t token, std::string error);

  [[nodiscard]] lsn confirmable() const { return confirmable_; }
  [[nodiscard]] const std::optional<std::string>& failure() const { return failure_; }
  [[nodiscard]] std::size_t pending_units() const { return units_.size(); }
  [[nodiscard]] std::uint64_t pending_records() const { return pending_records_; }

 private:
  struct unit {
    std::uint64_t token;
    std::uint64_t remaining = 0;
    bool closed = false;
    bool lost = false;  // a record of it failed: the unit must never be confirmed
    lsn end;
  };
  unit* find(std::uint64_t token);
  void advance();

  std::deque<unit> units_;
  std::uint64_t next_token_ = 1;
  std::uint64_t pending_records_ = 0;
  lsn confirmable_;
  std::optional<std::string> failure_;
};

}  // namespace sluice::capture
