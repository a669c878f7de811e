#pragma once
#include <compare>
#include <cstdint>

#include "sluice/schemas/lsn.hpp"

namespace sluice::schemas {

/// Where a change stands in the source's total order: the commit LSN of its transaction and
/// its index inside that transaction. Sinks version their writes by it, never by Kafka offset.
struct position {
  lsn commit_lsn;
  std::uint32_t seq = 0;

  constexpr auto operator<=>(const position&) const = default;
};

}  // namespace sluice::schemas
