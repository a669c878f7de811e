#include "sluice/sinks/redis/redis_cache.hpp"

#include <algorithm>
#include <charconv>
#include <mutex>

#include "connection.hpp"
#include "layout.hpp"
#include "scripts.hpp"
#include "sluice/schemas/log.hpp"

namespace sluice::sinks::redis {
namespace {

constexpr std::string_view module = "sinks.redis";
constexpr int sweep_count = 512;  // rows hash entries looked at per sweep step

// The scripts as std::string, one object each: connection caches their SHA by address.
// Several workers of one process open caches at once.
const std::string& script(const char* text) {
  static std::mutex guard;
  static std::map<const char*, std::string> scripts;
  std::lock_guard lock(guard);
  auto it = scripts.find(text);
  if (it == scripts.end()) it = scripts.emplace(text, text).first;
  return it->second;
}

std::string str(std::string_view s) {
  return std::string(s);
}

// How often a batch is read and tried again when another writer changed a WATCHed key in
// between (a truncate's floor, replay's pause, a worker that lost the partition) before the
// runtime's own backoff takes over.
constexpr int transaction_attempts = 20;

// Error replies that go away by themselves: the same batch may succeed later.
bool retriable_reply(const std::string& error) {
  for (const char* prefix : {"LOADING", "BUSY", "OOM", "TRYAGAIN", "MASTERDOWN", "READONLY",
                             "CLUSTERDOWN", "NOREPLICAS"}) {
    if (error.starts_with(prefix)) return true;
  }
  return false;
}

std::int64_t to_int64(const std::string& s) {
  std::int64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

std::string describe(const endpoint& e) {
  return e.unix_path.empty() ? e.host + ":" + std::to_string(e.port) : e.unix_path;
}

endpoint parse_or_throw(const std::string& url) {
  auto e = endpoint::parse(url);
  if (!e) throw setup_error("Redis URL: " + e.error());
  return *e;
}

reply checked(std::expected<reply, redis_failure> r) {
  if (!r) throw unavailable_error(r.error().message);
  if (r->is_error()) throw unavailable_error("Redis: " + r->str);
  return std::move(*r);
}

}  // namespace

redis_cache::redis_cache(cache_target target, cache_options options)
    : target_(std::move(target)), options_(std::move(options)) {
  auto key = key_template::parse(options_.key_template);
  if (!key) throw setup_error("key '" + options_.key_template + "' " + key.error());
  key_ = std::move(*key);
  endpoint where = parse_or_throw(target_.url);
  if (target_.database) where.database = *target_.database;
  conn_ = std::make_unique<connection>(std::move(where));
}

redis_cache::~redis_cache() = default;

int redis_cache::database() const {
  return conn_->database();
}

void redis_cache::open() {
  const std::string where =
      describe(conn_->where()) + " database " + std::to_string(conn_->database());
  if (auto ok = conn_->ensure_open(); !ok) throw unavailable_error(ok.error().message);
  const std::string format = options_.format == row_format::json ? "json" : "hash";
  reply claimed =
      checked(conn_->eval(script(scripts::claim), {str(layout::owner_key), str(layout::format_key)},
                          {target_.identity, format}));
  if (claimed.elements.empty()) throw unavailable_error("Redis: unexpected reply to the claim");
  const std::string& verdict = claimed.elements[0].str;
  if (verdict == "owned") {
    throw setup_error("Redis " + where + " belongs to sluice sink " + claimed.elements[1].str +
                      "; every Redis sink needs a database of its own (replay swaps whole "
                      "databases)");
  }
  if (verdict == "foreign") {
    throw setup_error("Redis " + where + " holds " + claimed.elements[1].str +
                      " keys that are not this sink's; a Redis sink needs a database of its own "
                      "(replay swaps whole databases): choose an empty one in the url");
  }
  if (verdict == "format") {
    throw setup_error("Redis " + where + " holds this sink's rows as " + claimed.elements[1].str +
                      ", and the sink now writes " + format +
                      ": rebuild the cache in the new format with sluice replay");
  }
  reply ids = checked(
      conn_->eval(script(scripts::register_tables), {str(layout::tables_key)}, target_.tables));
  table_ids_.clear();
  for (std::size_t i = 0; i < target_.tables.size() && i < ids.elements.size(); ++i) {
    table_ids_[target_.tables[i]] = ids.elements[i].str;
  }
  // A sweep a crash interrupted (its cursor is still there) is finished before anything else.
  reply sweeps = checked(conn_->command({"HKEYS", str(layout::sweeps_key)}));
  std::vector<std::string> pending;
  for (auto& e : sweeps.elements) pending.push_back(std::move(e.str));
  if (auto ok = finish_sweeps(pending); !ok) throw unavailable_error(ok.error().message);
  opened_ = true;
  log(log_level::info, module, "cache " + target_.identity + " writes to Redis " + where);
}

std::vector<std::optional<std::int64_t>> redis_cache::resume_offsets(
    const std::vector<partition_ref>& partitions) {
  std::vector<std::optional<std::int64_t>> out(partitions.size());
  auto stored = conn_->command({"HGETALL", str(layout::offsets_key)});
  if (!stored || stored->is_error()) {
    // Falling back to the group's committed offsets is safe: they move only after a write.
    log(log_level::warn, module,
        "cannot read the offsets stored in Redis (" +
            (stored ? stored->str : stored.error().message) + "); resuming from committed offsets");
    return out;
  }
  std::map<std::string, std::int64_t> by_partition;
  for (std::size_t i = 0; i + 1 < stored->elements.size(); i += 2) {
    by_partition[stored->elements[i].str] = to_int64(stored->elements[i + 1].str);
  }
  for (std::size_t i = 0; i < partitions.size(); ++i) {
    auto it = by_partition.find(partitions[i].to_string());
    // Nothing stored: this database holds nothing of that partition, so read it from the start.
    out[i] = it == by_partition.end() ? 0 : it->second;
  }
  return out;
}

std::expected<apply_stats, apply_error> redis_cache::apply(
    std::span<const sink_event> events, const std::vector<partition_offset>& offsets) {
  if (detached_) return apply_stats{0, events.size()};
  if (!opened_) {
    try {
      open();
    } catch (const std::exception& e) {
      return std::unexpected(target_failure{e.what(), true});
    }
  }
  auto plan = plan_batch(events, options_, key_, [this](const table_ref& t) {
    auto it = table_ids_.find(t);
    return it == table_ids_.end() ? std::nullopt : std::optional<std::string>(it->second);
  });
  if (!plan) return std::unexpected(plan.error());
  const request reads = read_request(*plan, options_);
  auto table_name = [this](const std::string& id) {
    for (const auto& [name, tid] : table_ids_) {
      if (tid == id) return name;
    }
    return std::string("another table");
  };

  // Read under WATCH, decide, write in MULTI/EXEC; EXEC does nothing if a WATCHed key changed
  // in between, and then the batch is read and decided again.
  for (int attempt = 1; attempt <= transaction_attempts; ++attempt) {
    auto stored = read_stored(*plan, reads);
    if (!stored) return std::unexpected(stored.error());
    if (stored->paused) {
      (void)conn_->command({"UNWATCH"});
      return std::unexpected(target_failure{"paused while replay switches databases", true});
    }
    auto writes = decide(events, *plan, *stored, options_, offsets, table_name);
    if (!writes) {
      (void)conn_->command({"UNWATCH"});
      return std::unexpected(writes.error());
    }
    auto outcome = conn_->transaction(writes->transaction);
    if (!outcome) return std::unexpected(target_failure{outcome.error().message, true});
    if (outcome->aborted) continue;
    if (outcome->partly_applied) {
      // A command failed inside EXEC, and Redis does not roll back the others. Only a key of
      // another type can do that (something else wrote the sink's database; the format is
      // checked on start). The offsets and positions the batch wrote are put back, so that
      // neither a retry nor a restart passes the event whose write failed.
      std::string message = "Redis failed a write of the batch: " + outcome->error;
      auto undone = conn_->transaction(undo_request(events, *plan, *stored, *writes));
      if (!undone || !undone->error.empty()) {
        // A retry would now skip the failed events as not newer: stop, whatever the error.
        message += "; putting back the batch's offsets and positions failed too (" +
                   (undone ? undone->error : undone.error().message) +
                   "): a restart may pass over the failed write";
        return std::unexpected(target_failure{message, false});
      }
      message += "; the batch's offsets and positions are put back, so it is applied again";
      return std::unexpected(target_failure{message, retriable_reply(outcome->error)});
    }
    if (!outcome->error.empty()) {
      // EXECABORT: a queued command was refused, nothing ran.
      return std::unexpected(
          target_failure{"Redis refused the batch's transaction: " + outcome->error,
                         retriable_reply(outcome->error)});
    }
    if (!writes->raised_floors.empty()) {
      // The floor is already raised, so no older row comes back while the sweep runs; the batch
      // counts as applied only once the table's older rows are gone.
      if (auto ok = finish_sweeps(writes->raised_floors); !ok) return std::unexpected(ok.error());
    }
    if (writes->left_absent > 0) {
      log(log_level::info, module,
          std::to_string(writes->left_absent) +
              " updates kept unchanged columns of rows that had expired: those keys stay absent "
              "until their rows are next written whole");
    }
    return apply_stats{writes->written, writes->skipped};
  }
  return std::unexpected(target_failure{
      "the batch's keys kept changing under it (" + std::to_string(transaction_attempts) +
          " attempts); is another worker applying the same partitions?",
      true});
}

std::expected<stored_state, apply_error> redis_cache::read_stored(const batch_plan& plan,
                                                                  const request& reads) {
  auto replies = conn_->pipeline(reads);
  if (!replies) return std::unexpected(target_failure{replies.error().message, true});
  for (const auto& r : *replies) {
    if (r.is_error()) {
      return std::unexpected(target_failure{"Redis refused to read the batch's keys: " + r.str,
                                            retriable_reply(r.str)});
    }
  }
  auto text = [](const reply& r) -> std::optional<std::string> {
    if (r.type != reply::kind::string) return std::nullopt;
    return r.str;
  };
  stored_state stored;
  std::size_t at = 1;  // after WATCH
  stored.paused = replies->at(at++).type != reply::kind::nil;
  if (!plan.ops.empty()) {
    auto& entries = replies->at(at++).elements;
    if (entries.size() != plan.ops.size()) {
      return std::unexpected(target_failure{"unexpected reply to HMGET of the rows", false});
    }
    stored.entries.reserve(entries.size());
    for (const auto& e : entries) stored.entries.push_back(text(e));
  }
  if (!plan.table_ids.empty()) {
    auto& floors = replies->at(at++).elements;
    for (std::size_t i = 0; i < plan.table_ids.size() && i < floors.size(); ++i) {
      stored.floors[plan.table_ids[i]] = text(floors[i]).value_or("");
    }
  }
  stored.rows.resize(plan.ops.size());
  stored.fields.resize(plan.ops.size());
  for (std::size_t i = 0; i < plan.ops.size(); ++i) {
    if (!needs_stored_row(plan.ops[i])) continue;
    reply& r = replies->at(at++);
    if (options_.format == row_format::json) {
      stored.rows[i] = text(r);
    } else {
      for (auto& f : r.elements) stored.fields[i].push_back(std::move(f.str));
    }
  }
  return stored;
}

std::expected<void, target_failure> redis_cache::finish_sweeps(
    const std::vector<std::string>& table_ids) {
  const std::vector<std::string> keys{str(layout::rows_key), str(layout::floors_key),
                                      str(layout::sweeps_key)};
  for (const auto& tid : table_ids) {
    const std::vector<std::string> args{tid, std::to_string(sweep_count)};
    long long removed = 0;
    for (;;) {
      auto r = conn_->eval(script(scripts::sweep_step), keys, args);
      if (!r) return std::unexpected(target_failure{r.error().message, true});
      if (r->is_error()) {
        return std::unexpected(
            target_failure{"Redis rejected a truncate sweep: " + r->str, retriable_reply(r->str)});
      }
      removed += r->elements.at(1).integer;
      const std::string& cursor = r->elements.at(0).str;
      if (cursor == "0" || cursor == "done") break;
    }
    if (removed > 0) {
      log(log_level::info, module,
          "truncate: removed " + std::to_string(removed) + " rows of table id " + tid);
    }
  }
  return {};
}

// ---------------------------------------------------------------------------------------------

replay_target::replay_target(std::string url, std::string identity)
    : identity_(std::move(identity)) {
  endpoint where = parse_or_throw(url);
  live_ = where.database;
  conn_ = std::make_unique<connection>(std::move(where));
}

replay_target::~replay_target() = default;

int replay_target::live_database() const {
  return live_;
}

int replay_target::claim_shadow(std::optional<int> requested) {
  std::vector<int> candidates;
  if (requested) {
    if (*requested == live_) {
      throw setup_error("the shadow database cannot be the live one (" + std::to_string(live_) +
                        ")");
    }
    candidates.push_back(*requested);
  } else {
    int count = 16;
    auto r = conn_->command({"CONFIG", "GET", "databases"});
    if (r && r->elements.size() == 2) count = static_cast<int>(to_int64(r->elements[1].str));
    for (int db = count - 1; db >= 0; --db) {
      if (db != live_) candidates.push_back(db);
    }
  }
  std::string refusals;
  for (int db : candidates) {
    reply claimed =
        checked(conn_->eval(script(scripts::claim_shadow), {}, {std::to_string(db), identity_}));
    if (!claimed.elements.empty() && claimed.elements[0].str == "ok") return db;
    if (requested) {
      const bool owned = claimed.elements.at(0).str == "owned";
      throw setup_error("Redis database " + std::to_string(db) + " cannot be the shadow copy: " +
                        (owned ? "it belongs to sluice sink " + claimed.elements.at(1).str
                               : "it holds " + claimed.elements.at(1).str + " keys"));
    }
  }
  throw setup_error(
      "no empty Redis database for the shadow copy (replay builds the new copy in a spare "
      "database, then swaps it in); free one, pass --shadow-db N, or use --in-place");
}

void replay_target::pause_live(std::chrono::milliseconds ttl) {
  checked(conn_->command(
      {"SET", str(layout::pause_key), identity_, "PX", std::to_string(ttl.count())}));
}

void replay_target::resume_live() {
  checked(conn_->command({"DEL", str(layout::pause_key)}));
}

bool replay_target::try_switch(int shadow, std::string& why_not) {
  reply r = checked(
      conn_->eval(script(scripts::swap), {}, {std::to_string(live_), std::to_string(shadow)}));
  if (!r.elements.empty() && r.elements[0].str == "swapped") return true;
  if (r.elements.size() >= 4) {
    why_not = "partition " + r.elements[1].str + ": live at " + r.elements[2].str + ", shadow at " +
              r.elements[3].str;
  }
  return false;
}

void replay_target::clear_live() {
  checked(conn_->command({"FLUSHDB", "ASYNC"}));
  checked(conn_->command({"SET", str(layout::owner_key), identity_}));
}

void replay_target::discard(int database) {
  checked(conn_->eval(script(scripts::flush_database), {}, {std::to_string(database)}));
}

std::map<std::string, std::int64_t> replay_target::stored_offsets(int database) {
  reply r = checked(conn_->eval(script(scripts::read_offsets), {}, {std::to_string(database)}));
  std::map<std::string, std::int64_t> out;
  for (std::size_t i = 0; i + 1 < r.elements.size(); i += 2) {
    out[r.elements[i].str] = to_int64(r.elements[i + 1].str);
  }
  return out;
}

long long replay_target::key_count(int database) {
  return checked(conn_->eval(script(scripts::count_keys), {}, {std::to_string(database)})).integer;
}

}  // namespace sluice::sinks::redis
