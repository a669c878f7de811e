#pragma once
#include <cstddef>
#include <cstdint>
#include <expected>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "sluice/schemas/event.hpp"
#include "sluice/schemas/position.hpp"
#include "sluice/schemas/row.hpp"
#include "sluice/sinks/record_source.hpp"

namespace sluice::sinks {

/// A source table, "schema.table".
using table_ref = std::string;

/// One decoded record, as the runtime hands it to a sink kind.
struct sink_event {
  source_record record;
  table_ref table;   // from the event, or from the topic for a tombstone
  schemas::row key;  // the record key: primary-key columns ({} for a truncate)
  std::optional<schemas::change_event> change;  // nullopt: tombstone
  /// For a tombstone: the position of the delete of the same key that came just before it on
  /// the same partition, when the runtime saw that delete. A tombstone met without its delete
  /// (compaction dropped it, or reading started between the two) has none.
  std::optional<schemas::position> tombstone_of;

  [[nodiscard]] bool is_tombstone() const { return !change.has_value(); }
};

/// Event `index` of the batch cannot be applied (it is not the target's fault, retrying does
/// not help). Nothing of the batch was applied.
struct bad_event {
  std::size_t index = 0;
  std::string reason;
};

/// The target failed. `retriable`: the same batch may succeed later (server down, paused).
/// The batch is applied again after it (at once, or after a restart), so a kind that wrote
/// part of it must leave the target such that applying it again writes every event the failure
/// kept out: its position records and stored offsets must not claim that part as applied.
struct target_failure {
  std::string message;
  bool retriable = true;
};

using apply_error = std::variant<bad_event, target_failure>;

struct apply_stats {
  std::size_t written = 0;  // events that changed the target
  std::size_t skipped = 0;  // events not newer than what the target holds (duplicates, replays)
};

/// A kind of derived store (Redis cache, search index, Postgres view): turns batches of events
/// into target operations and applies them.
///
/// The runtime guarantees: batches arrive in offset order per partition; a batch is retried
/// whole until it succeeds; offsets are committed only after apply() returned success; after a
/// crash, batches may be delivered again (so apply() must be idempotent, versioned by
/// position). Called on one thread.
class sink_kind {
 public:
  virtual ~sink_kind() = default;

  /// On assignment: where each partition resumes, or nullopt for the group's committed offset.
  /// A kind that stores offsets with its data (in the same transaction) answers from there.
  virtual std::vector<std::optional<std::int64_t>> resume_offsets(
      const std::vector<partition_ref>& partitions) = 0;

  /// Applies the events, atomically or idempotently. `offsets` are the next-offsets of every
  /// partition in the batch once it is applied, for kinds that store them with their data.
  /// On bad_event, nothing was applied.
  [[nodiscard]] virtual std::expected<apply_stats, apply_error> apply(
      std::span<const sink_event> events, const std::vector<partition_offset>& offsets) = 0;
};

}  // namespace sluice::sinks
