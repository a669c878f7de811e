#pragma once
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "sluice/sinks/redis/plan.hpp"
#include "sluice/sinks/sink_kind.hpp"

namespace sluice::sinks::redis {

/// Redis cannot be reached or refused us (exit code 69 in the app).
class unavailable_error : public std::runtime_error {
  using std::runtime_error::runtime_error;
};
/// The configuration cannot work: bad URL, a database that belongs to someone else (78).
class setup_error : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct cache_target {
  std::string url;                // redis://[user:password@]host:port/db or unix://path?db=N
  std::optional<int> database;    // overrides the URL's database (replay's shadow copy)
  std::string identity;           // "<pipeline>/<sink>": the owner of the database
  std::vector<table_ref> tables;  // "schema.table"
};

class connection;

/// The Redis cache sink kind: one Redis key per row (hash or JSON string). Each batch reads the
/// positions its keys hold (under WATCH), keeps the events that are newer, and writes them with
/// their positions and the partitions' offsets in one MULTI/EXEC transaction.
///
/// The sink owns its database (docs/sinks.md, "Redis databases"): open() refuses a database
/// that holds keys of anything else, and replay swaps whole databases. resume_offsets() answers
/// from the offsets each batch stored with the data, so a restarted worker resumes
/// exactly after what Redis holds, and an emptied database is rebuilt from the beginning.
/// One per worker; not thread-safe.
class redis_cache final : public sink_kind {
 public:
  /// Throws setup_error for an unusable template or URL.
  redis_cache(cache_target target, cache_options options);
  ~redis_cache() override;

  /// Connects, claims the database, registers the tables and finishes any truncate sweep left
  /// half done. Throws unavailable_error or setup_error.
  void open();

  std::vector<std::optional<std::int64_t>> resume_offsets(
      const std::vector<partition_ref>& partitions) override;
  [[nodiscard]] std::expected<apply_stats, apply_error> apply(
      std::span<const sink_event> events, const std::vector<partition_offset>& offsets) override;

  [[nodiscard]] int database() const;
  /// After replay switched databases, this cache's database number holds the old copy being
  /// removed: from now on apply() writes nothing (and reports the events as skipped).
  void detach() { detached_ = true; }

 private:
  std::expected<stored_state, apply_error> read_stored(const batch_plan& plan,
                                                       const request& reads);
  std::expected<void, target_failure> finish_sweeps(const std::vector<std::string>& table_ids);

  cache_target target_;
  cache_options options_;
  key_template key_;
  std::unique_ptr<connection> conn_;
  std::map<table_ref, std::string> table_ids_;
  bool opened_ = false;
  bool detached_ = false;
};

/// What replay needs from Redis besides a cache: pick and claim the shadow database, pause the
/// live sink while switching, switch atomically, or clear the live database for --in-place.
class replay_target {
 public:
  /// Throws setup_error for a bad URL.
  replay_target(std::string url, std::string identity);
  ~replay_target();

  [[nodiscard]] int live_database() const;
  /// Claims `requested`, or else the highest-numbered empty database (a stale shadow of this
  /// same sink from an interrupted replay is emptied and reused). Throws setup_error when no
  /// database is free, unavailable_error when Redis cannot be reached.
  int claim_shadow(std::optional<int> requested);
  /// Live workers stop applying (their batches wait) until resume_live() or `ttl` passes.
  void pause_live(std::chrono::milliseconds ttl);
  void resume_live();
  /// Swaps shadow and live if the shadow has applied at least as far on every partition, and
  /// empties the old copy. Returns false (with why) when the shadow is still behind.
  [[nodiscard]] bool try_switch(int shadow, std::string& why_not);
  /// --in-place: empties the live database (without blocking Redis) and claims it again.
  void clear_live();
  /// Empties a shadow database replay gives up on.
  void discard(int database);
  /// The next-offsets stored with the data in a database, by "topic/partition".
  [[nodiscard]] std::map<std::string, std::int64_t> stored_offsets(int database);
  /// Number of keys in a database.
  [[nodiscard]] long long key_count(int database);

 private:
  std::string identity_;
  std::unique_ptr<connection> conn_;
  int live_ = 0;
};

}  // namespace sluice::sinks::redis
