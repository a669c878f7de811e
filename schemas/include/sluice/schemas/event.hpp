#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sluice/schemas/lsn.hpp"
#include "sluice/schemas/position.hpp"
#include "sluice/schemas/row.hpp"

namespace sluice::schemas {

enum class op : char { create = 'c', update = 'u', remove = 'd', read = 'r', truncate = 't' };

/// The envelope's `source` block: where a change came from and its position.
struct source_info {
  std::string connector = "sluice";
  std::string version;  // sluice version that captured it
  std::string db;
  std::string schema;
  std::string table;
  lsn change_lsn;  // "lsn": WAL position of the change record itself
  lsn commit_lsn;
  std::uint32_t seq = 0;
  std::int64_t tx_id = 0;  // "txId"
  std::int64_t ts_ms = 0;  // commit time
  bool snapshot = false;

  [[nodiscard]] position pos() const { return {commit_lsn, seq}; }
  bool operator==(const source_info&) const = default;
};

/// One row change, as written to Kafka (see design.md, "Change event").
struct change_event {
  schemas::op op = op::create;
  std::optional<row> before;  // per REPLICA IDENTITY; nullopt encodes as null
  std::optional<row> after;
  std::vector<std::string> unchanged;  // TOASTed columns not resent: absent from `after`
  source_info source;
  std::int64_t ts_ms = 0;  // when sluice processed it

  bool operator==(const change_event&) const = default;
};

}  // namespace sluice::schemas
