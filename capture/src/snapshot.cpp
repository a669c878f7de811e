// Snapshots beside the stream: the watermark algorithm (DBLog, Andreakis & Papapanagiotou,
// 2020) on Postgres logical messages. docs/snapshot.md explains it and why it is correct.
#include "sluice/capture/snapshot.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>

#include "pq_util.hpp"
#include "sluice/capture/change_builder.hpp"
#include "sluice/capture/type_map.hpp"
#include "sluice/schemas/codec.hpp"
#include "sluice/schemas/log.hpp"

namespace sluice::capture {
namespace {

using detail::exec;
using clock = std::chrono::steady_clock;
constexpr std::string_view watermark_prefix = "sluice.snapshot";

void info(const std::string& m) {
  log(log_level::info, "snapshot", m);
}
void warn(const std::string& m) {
  log(log_level::warn, "snapshot", m);
}

// What pg_stat_activity shows for the snapshot's connections.
constexpr const char* snapshot_application = "sluice snapshot";
constexpr const char* progress_application = "sluice snapshot progress";

PGconn* open_connection(const std::string& dsn, const char* application_name) {
  PGconn* conn = detail::connect(dsn, false, application_name);
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string why = detail::one_line(PQerrorMessage(conn));
    PQfinish(conn);
    throw source_error("snapshot: cannot connect to Postgres: " + why);
  }
  return conn;
}

struct connection {
  PGconn* conn;
  explicit connection(const std::string& dsn) : conn(open_connection(dsn, snapshot_application)) {}
  ~connection() { PQfinish(conn); }
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;
};

std::string value_of(PGresult* r, int row, int col) {
  return PQgetvalue(r, row, col);
}
bool is_null(PGresult* r, int row, int col) {
  return PQgetisnull(r, row, col) != 0;
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// Waits until every transaction in progress now has finished and become visible, giving up on
/// those still running after `grace` (see the caller in run_range).
void wait_for_commits_before(PGconn* conn,
                             std::chrono::milliseconds grace = std::chrono::milliseconds(500)) {
  auto snap = exec(conn, "SELECT pg_current_snapshot()::text");
  const std::string taken = value_of(snap.get(), 0, 0);
  const auto give_up_on_running = clock::now() + grace;
  for (;;) {
    // Committed (or aborted) but not yet visible, and still running, separately.
    auto r = exec(conn,
                  "SELECT count(*) FILTER (WHERE pg_xact_status(x) <> 'in progress'), "
                  "count(*) FILTER (WHERE pg_xact_status(x) = 'in progress') "
                  "FROM pg_snapshot_xip($1::pg_snapshot) AS x "
                  "WHERE NOT pg_visible_in_snapshot(x, pg_current_snapshot())",
                  {taken});
    const bool settling = value_of(r.get(), 0, 0) != "0";
    const bool running = value_of(r.get(), 0, 1) != "0";
    if (!settling && (!running || clock::now() >= give_up_on_running)) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

std::string qualified(const std::string& schema, const std::string& table) {
  return quote_ident(schema) + "." + quote_ident(table);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// snapshot_store

namespace snapshot_store {

void ensure_schema(const std::string& dsn) {
  connection c(dsn);
  // An advisory lock: two captures starting at once must not race on CREATE ... IF NOT EXISTS.
  detail::result_ptr r(PQexec(c.conn, R"(
    BEGIN;
    SELECT pg_advisory_xact_lock(7311);
    CREATE SCHEMA IF NOT EXISTS sluice;
    CREATE TABLE IF NOT EXISTS sluice.snapshot_requests (
      id bigserial PRIMARY KEY,
      slot text NOT NULL,
      schema_name text NOT NULL,
      table_name text NOT NULL,
      state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'running', 'done')),
      rows_estimate bigint NOT NULL DEFAULT 0,
      rows_done bigint NOT NULL DEFAULT 0,
      requested_at timestamptz NOT NULL DEFAULT now(),
      finished_at timestamptz);
    CREATE TABLE IF NOT EXISTS sluice.snapshot_ranges (
      request_id bigint NOT NULL REFERENCES sluice.snapshot_requests (id) ON DELETE CASCADE,
      range_id int NOT NULL,
      lo bigint,
      hi bigint,
      last_key jsonb,
      rows_done bigint NOT NULL DEFAULT 0,
      done boolean NOT NULL DEFAULT false,
      PRIMARY KEY (request_id, range_id));
    COMMIT;)"));
  if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
    throw source_error("cannot create the sluice schema for snapshot progress: " +
                       detail::one_line(PQerrorMessage(c.conn)));
  }
}

void request(const std::string& dsn, const std::string& slot,
             const std::vector<table_ref>& tables) {
  connection c(dsn);
  for (const auto& t : tables) {
    exec(c.conn,
         "INSERT INTO sluice.snapshot_requests (slot, schema_name, table_name) VALUES ($1, $2, $3)",
         {slot, t.schema, t.table});
  }
}

void forget(const std::string& dsn, const std::string& slot) {
  connection c(dsn);
  exec(c.conn, "DELETE FROM sluice.snapshot_requests WHERE slot = $1", {slot});
}

std::vector<request_progress> progress(const std::string& dsn, const std::string& slot) {
  connection c(dsn);
  auto r = exec(c.conn,
                "SELECT id, schema_name || '.' || table_name, state, rows_done, rows_estimate "
                "FROM sluice.snapshot_requests WHERE slot = $1 ORDER BY id",
                {slot});
  std::vector<request_progress> out;
  for (int i = 0; i < PQntuples(r.get()); ++i) {
    out.push_back({std::stoll(value_of(r.get(), i, 0)), value_of(r.get(), i, 1),
                   value_of(r.get(), i, 2), std::stoll(value_of(r.get(), i, 3)),
                   std::stoll(value_of(r.get(), i, 4))});
  }
  return out;
}

}  // namespace snapshot_store

// ---------------------------------------------------------------------------------------------
// snapshot_coordinator

struct snapshot_coordinator::range_task {
  std::int64_t request_id;
  int range_id;
  table_ref table;
  std::optional<std::int64_t> lo, hi;
  std::optional<std::vector<std::string>> last_key;  // key values (text) of the last row done
};

/// One chunk between its watermarks, shared by its worker and the capture thread.
struct snapshot_coordinator::chunk_state {
  std::string topic;
  std::int64_t request_id = 0;
  int range_id = 0;
  bool window_open = false;            // low watermark seen on the stream
  std::set<std::string> changed_keys;  // keys streamed inside the window
  bool ready = false;                  // rows read and encoded
  bool failed = false;
  bool consumed = false;
  bool retry = false;  // the window was not seen whole: read the chunk again
  std::vector<std::pair<std::string, std::string>> records;  // key, value
  std::optional<std::vector<std::string>> last_key;
  std::int64_t rows = 0;
  bool final_chunk = false;
};

struct snapshot_coordinator::pending_progress {
  std::int64_t request_id;
  int range_id;
  std::optional<std::vector<std::string>> last_key;
  std::int64_t rows;
  bool final_chunk;
  std::optional<schemas::lsn> end;  // end of the high watermark's transaction
};

snapshot_coordinator::snapshot_coordinator(snapshot_options options)
    : options_(std::move(options)), run_id_(std::random_device{}()) {
  threads_.emplace_back([this] { plan_loop(); });
  for (int i = 0; i < options_.parallelism; ++i) threads_.emplace_back([this] { worker_loop(); });
}

snapshot_coordinator::~snapshot_coordinator() {
  stop_ = true;
  changed_.notify_all();
  for (auto& t : threads_) t.join();
  PQfinish(progress_conn_);
}

void snapshot_coordinator::plan_loop() {
  std::unique_ptr<connection> c;
  auto next_log = clock::now() + std::chrono::seconds(5);
  while (!stop_) {
    try {
      if (!c) c = std::make_unique<connection>(options_.dsn);
      // New requests: estimate, split into key ranges, mark running.
      auto pending = exec(c->conn,
                          "SELECT id, schema_name, table_name FROM sluice.snapshot_requests "
                          "WHERE slot = $1 AND state = 'pending' ORDER BY id",
                          {options_.slot});
      for (int i = 0; i < PQntuples(pending.get()); ++i) {
        const std::string id = value_of(pending.get(), i, 0);
        const table_ref t{value_of(pending.get(), i, 1), value_of(pending.get(), i, 2)};
        const std::string rel = qualified(t.schema, t.table);
        auto est = exec(
            c->conn, "SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = $1::regclass",
            {rel});
        const std::int64_t estimate = std::stoll(value_of(est.get(), 0, 0));
        const auto& keys = options_.keys.at(t.qualified());
        std::vector<std::pair<std::optional<std::int64_t>, std::optional<std::int64_t>>> ranges{
            {std::nullopt, std::nullopt}};
        if (keys.size() == 1 && options_.parallelism > 1 && estimate > 4 * options_.chunk_rows) {
          // A large table with one integer key is read in parallel key ranges.
          auto bounds = exec(c->conn, "SELECT min(" + quote_ident(keys[0]) + ")::text, max(" +
                                          quote_ident(keys[0]) + ")::text, pg_typeof(min(" +
                                          quote_ident(keys[0]) + "))::text FROM " + rel);
          const std::string type = value_of(bounds.get(), 0, 2);
          if (!is_null(bounds.get(), 0, 0) &&
              (type == "integer" || type == "bigint" || type == "smallint")) {
            const std::int64_t lo = std::stoll(value_of(bounds.get(), 0, 0));
            const std::int64_t hi = std::stoll(value_of(bounds.get(), 0, 1));
            const int parts = options_.parallelism;
            ranges.clear();
            for (int p = 0; p < parts; ++p) {
              std::optional<std::int64_t> from, to;
              // Unsigned, so that a bigint key's span (up to 2^64) and the product do not
              // overflow; the last range is open-ended and takes the remainder.
              const std::uint64_t step =
                  (static_cast<std::uint64_t>(hi) - static_cast<std::uint64_t>(lo)) / parts;
              const auto bound = [&](int q) {
                return static_cast<std::int64_t>(static_cast<std::uint64_t>(lo) +
                                                 step * static_cast<std::uint64_t>(q));
              };
              if (p > 0) from = bound(p);
              if (p + 1 < parts) to = bound(p + 1);
              ranges.emplace_back(from, to);
            }
          }
        }
        exec(c->conn, "BEGIN");
        for (std::size_t r = 0; r < ranges.size(); ++r) {
          exec(c->conn,
               "INSERT INTO sluice.snapshot_ranges (request_id, range_id, lo, hi) "
               "VALUES ($1, $2, NULLIF($3, '')::bigint, NULLIF($4, '')::bigint)",
               {id, std::to_string(r),
                ranges[r].first ? std::to_string(*ranges[r].first) : std::string(),
                ranges[r].second ? std::to_string(*ranges[r].second) : std::string()});
        }
        exec(c->conn,
             "UPDATE sluice.snapshot_requests SET state = 'running', rows_estimate = $2 WHERE id = "
             "$1",
             {id, std::to_string(estimate)});
        exec(c->conn, "COMMIT");
        info("snapshot of " + t.qualified() + " started: ~" + std::to_string(estimate) +
             " rows in " + std::to_string(ranges.size()) + " range(s)");
      }
      // Ranges not done yet (new, or left by a process that stopped): queue them.
      auto open = exec(c->conn,
                       "SELECT r.request_id, r.range_id, r.lo, r.hi, r.last_key, q.schema_name, "
                       "q.table_name FROM sluice.snapshot_ranges r JOIN sluice.snapshot_requests q "
                       "ON q.id = r.request_id WHERE q.slot = $1 AND q.state = 'running' AND NOT "
                       "r.done ORDER BY r.request_id, r.range_id",
                       {options_.slot});
      {
        std::lock_guard lock(mutex_);
        for (int i = 0; i < PQntuples(open.get()); ++i) {
          range_task task;
          task.request_id = std::stoll(value_of(open.get(), i, 0));
          task.range_id = std::stoi(value_of(open.get(), i, 1));
          if (active_.count({task.request_id, task.range_id}) > 0) continue;
          if (!is_null(open.get(), i, 2)) task.lo = std::stoll(value_of(open.get(), i, 2));
          if (!is_null(open.get(), i, 3)) task.hi = std::stoll(value_of(open.get(), i, 3));
          if (!is_null(open.get(), i, 4)) {
            task.last_key =
                nlohmann::json::parse(value_of(open.get(), i, 4)).get<std::vector<std::string>>();
          }
          task.table = {value_of(open.get(), i, 5), value_of(open.get(), i, 6)};
          active_.insert({task.request_id, task.range_id});
          queue_.push_back(std::move(task));
        }
      }
      changed_.notify_all();
      if (clock::now() >= next_log) {
        log_progress();
        next_log = clock::now() + std::chrono::seconds(5);
      }
    } catch (const std::exception& e) {
      warn(std::string("planning failed: ") + e.what() + "; retrying");
      c.reset();
    }
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, std::chrono::seconds(1), [this] { return stop_.load(); });
  }
}

void snapshot_coordinator::log_progress() {
  auto& last = progress_seen_;
  for (const auto& p : snapshot_store::progress(options_.dsn, options_.slot)) {
    if (p.state != "running") continue;
    std::string line = "snapshot table=" + p.table + " rows=" + std::to_string(p.rows_done) + "/~" +
                       std::to_string(std::max(p.rows_estimate, p.rows_done));
    const auto now = clock::now();
    auto it = last.find(p.id);
    if (it != last.end()) {
      const double secs = std::chrono::duration<double>(now - it->second.second).count();
      const double rate = secs > 0 ? static_cast<double>(p.rows_done - it->second.first) / secs : 0;
      line += " rate=" + std::to_string(static_cast<std::int64_t>(rate)) + "/s";
      if (rate > 0 && p.rows_estimate > p.rows_done) {
        line += " eta=" +
                std::to_string(static_cast<std::int64_t>(
                    static_cast<double>(p.rows_estimate - p.rows_done) / rate)) +
                "s";
      }
    }
    last[p.id] = {p.rows_done, now};
    info(line);
  }
}

void snapshot_coordinator::worker_loop() {
  while (!stop_) {
    range_task task;
    {
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    while (!stop_) {
      try {
        run_range(task);
        break;
      } catch (const std::exception& e) {
        warn("table=" + task.table.qualified() + " range=" + std::to_string(task.range_id) + ": " +
             e.what() + "; retrying in 1 s");
        std::unique_lock lock(mutex_);
        changed_.wait_for(lock, std::chrono::seconds(1), [this] { return stop_.load(); });
      }
    }
  }
}

void snapshot_coordinator::run_range(range_task& task) {
  connection c(options_.dsn);
  source_catalog types(options_.dsn);
  type_mapper mapper([&types](std::uint32_t oid) { return types.type(oid); });
  const std::string rel = qualified(task.table.schema, task.table.table);
  const auto& keys = options_.keys.at(task.table.qualified());

  // The columns pgoutput sends: not dropped, not generated, in attnum order.
  auto cols = exec(c.conn,
                   "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                   "WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped "
                   "AND attgenerated = '' ORDER BY attnum",
                   {rel});
  std::string select_list;
  std::map<std::string, std::string> type_of;
  for (int i = 0; i < PQntuples(cols.get()); ++i) {
    select_list += (i ? ", " : "") + quote_ident(value_of(cols.get(), i, 0));
    type_of[value_of(cols.get(), i, 0)] = value_of(cols.get(), i, 1);
  }
  std::string key_list, key_params;
  for (std::size_t k = 0; k < keys.size(); ++k) {
    key_list += (k ? ", " : "") + quote_ident(keys[k]);
    key_params += (k ? ", " : "") + ("$" + std::to_string(k + 1) + "::" + type_of.at(keys[k]));
  }
  std::string range_filter;
  if (task.lo) range_filter += " AND " + quote_ident(keys[0]) + " >= " + std::to_string(*task.lo);
  if (task.hi) range_filter += " AND " + quote_ident(keys[0]) + " < " + std::to_string(*task.hi);
  const std::string first_sql = "SELECT " + select_list + " FROM " + rel + " WHERE true" +
                                range_filter + " ORDER BY " + key_list + " LIMIT " +
                                std::to_string(options_.chunk_rows);
  const std::string next_sql = "SELECT " + select_list + " FROM " + rel + " WHERE (" + key_list +
                               ") > (" + key_params + ")" + range_filter + " ORDER BY " + key_list +
                               " LIMIT " + std::to_string(options_.chunk_rows);
  const std::string topic = table_topic(options_.topic_prefix, task.table.schema, task.table.table);

  auto emit_watermark = [&](std::uint64_t chunk, const char* mark) {
    auto r = exec(c.conn, "SELECT pg_logical_emit_message(true, $1, $2)::text",
                  {std::string(watermark_prefix),
                   std::to_string(run_id_) + "/" + std::to_string(chunk) + "/" + mark});
    return schemas::lsn::parse(value_of(r.get(), 0, 0)).value_or(schemas::lsn{});
  };

  while (!stop_) {
    const std::uint64_t chunk_id = next_chunk_++;
    auto state = std::make_shared<chunk_state>();
    state->topic = topic;
    state->request_id = task.request_id;
    state->range_id = task.range_id;
    {
      std::lock_guard lock(mutex_);
      chunks_[chunk_id] = state;
    }
    std::vector<std::pair<std::string, std::string>> records;
    std::optional<std::vector<std::string>> last_key = task.last_key;
    int n = 0;
    try {
      emit_watermark(chunk_id, "low");
      // A transaction whose commit record precedes the low watermark in the WAL can still be
      // invisible for a moment (WAL order is not visibility order: after its commit record is
      // flushed, a backend still marks the commit in clog and leaves the ProcArray). Its change
      // streams before the window, so a chunk that missed it would overwrite it with an older
      // row. Every such transaction was in progress when the watermark committed, so wait
      // until those have become visible. One still running after a grace period is a long
      // transaction whose commit record will follow the watermark, which the window covers.
      wait_for_commits_before(c.conn);
      auto rows = task.last_key ? exec(c.conn, next_sql, *task.last_key) : exec(c.conn, first_sql);
      const schemas::lsn high = emit_watermark(chunk_id, "high");

      // Encode the rows as read events positioned at the high watermark (docs/snapshot.md).
      n = PQntuples(rows.get());
      const int ncols = PQnfields(rows.get());
      records.reserve(static_cast<std::size_t>(n));
      // What is the same for every row of the chunk is set once; one event and one key row
      // are reused, since allocation dominates this loop.
      std::vector<int> key_idx;
      for (const auto& k : keys) key_idx.push_back(PQfnumber(rows.get(), quote_ident(k).c_str()));
      schemas::change_event e;
      e.op = schemas::op::read;
      e.source.version = options_.version;
      e.source.db = options_.db;
      e.source.schema = task.table.schema;
      e.source.table = task.table.table;
      e.source.change_lsn = high;
      e.source.commit_lsn = high;
      e.source.snapshot = true;
      e.source.ts_ms = now_ms();
      e.ts_ms = e.source.ts_ms;
      e.after.emplace();
      for (int f = 0; f < ncols; ++f) e.after->columns.push_back({PQfname(rows.get(), f), {}});
      // The Kafka key lists the key columns in table order, as the stream writes it
      // (change_builder::key_of), whatever the order of the key's index: one row, one key.
      std::vector<std::size_t> key_order(keys.size());
      std::iota(key_order.begin(), key_order.end(), std::size_t{0});
      std::sort(key_order.begin(), key_order.end(),
                [&](std::size_t a, std::size_t b) { return key_idx[a] < key_idx[b]; });
      schemas::row key;
      for (std::size_t k : key_order) key.columns.push_back({keys[k], {}});
      for (int i = 0; i < n; ++i) {
        for (int f = 0; f < ncols; ++f) {
          e.after->columns[f].v =
              is_null(rows.get(), i, f)
                  ? schemas::value{schemas::null_value{}}
                  : mapper.map(PQftype(rows.get(), f), PQgetvalue(rows.get(), i, f));
        }
        for (std::size_t k = 0; k < key_order.size(); ++k)
          key.columns[k].v = e.after->columns[key_idx[key_order[k]]].v;
        e.source.seq = static_cast<std::uint32_t>(i);
        records.emplace_back(schemas::encode_key(key), schemas::encode_event(e));
        if (i == n - 1) {
          std::vector<std::string> key_text;
          for (int ki : key_idx) key_text.push_back(value_of(rows.get(), i, ki));
          last_key = std::move(key_text);
        }
      }
    } catch (...) {
      // The capture thread may be waiting for this chunk at its high watermark: release it.
      std::lock_guard lock(mutex_);
      state->failed = true;
      chunks_.erase(chunk_id);
      changed_.notify_all();
      throw;
    }

    std::unique_lock lock(mutex_);
    state->records = std::move(records);
    state->last_key = last_key;
    state->rows = n;
    state->final_chunk = n < options_.chunk_rows;
    state->ready = true;
    changed_.notify_all();
    // One chunk in flight per worker keeps memory bounded.
    changed_.wait(lock, [&] { return stop_ || state->consumed; });
    chunks_.erase(chunk_id);
    if (stop_) return;
    if (state->retry) continue;
    task.last_key = state->last_key;
    if (state->final_chunk) return;
  }
}

void snapshot_coordinator::on_record(std::string_view topic, std::string_view key) {
  std::lock_guard lock(mutex_);
  for (auto& [id, chunk] : chunks_) {
    if (chunk->window_open && chunk->topic == topic) chunk->changed_keys.emplace(key);
  }
}

void snapshot_coordinator::on_message(const pgoutput::message& m,
                                      const std::function<void(const outgoing_record&)>& emit) {
  if (m.prefix != watermark_prefix) return;
  // Payload: "<run>/<chunk>/<low|high>". Watermarks of earlier runs are resent after a
  // restart; they belong to nobody now.
  const std::string payload(m.content);
  const auto a = payload.find('/');
  const auto b = payload.find('/', a + 1);
  if (a == std::string::npos || b == std::string::npos) return;
  if (payload.substr(0, a) != std::to_string(run_id_)) return;
  const std::uint64_t chunk_id = std::stoull(payload.substr(a + 1, b - a - 1));
  const bool low = payload.substr(b + 1) == "low";

  std::unique_lock lock(mutex_);
  auto it = chunks_.find(chunk_id);
  if (it == chunks_.end()) return;
  auto chunk = it->second;
  if (low) {
    chunk->window_open = true;
    return;
  }
  if (!chunk->window_open) {
    chunk->retry = true;  // the low watermark went by on a stream we no longer have
  } else {
    changed_.wait(lock, [&] { return stop_ || chunk->ready || chunk->failed; });
    if (chunk->ready) {
      std::int64_t emitted = 0;
      for (const auto& [key, value] : chunk->records) {
        // A key changed inside the window: the stream already carries a newer (or the same)
        // state of that row, so the snapshot copy is dropped.
        if (chunk->changed_keys.count(key) > 0) continue;
        emit(outgoing_record{chunk->topic, key, value, false});
        ++emitted;
      }
      pending_.push_back({chunk->request_id, chunk->range_id, chunk->last_key, chunk->rows,
                          chunk->final_chunk, std::nullopt});
    }
  }
  chunk->consumed = true;
  changed_.notify_all();
}

void snapshot_coordinator::on_transaction_end(schemas::lsn end_lsn) {
  for (auto& p : pending_) {
    if (!p.end) p.end = end_lsn;
  }
}

void snapshot_coordinator::on_confirmed(schemas::lsn confirmed) {
  while (!pending_.empty() && pending_.front().end && *pending_.front().end <= confirmed) {
    const pending_progress p = pending_.front();
    if (progress_conn_ == nullptr)
      progress_conn_ = open_connection(options_.dsn, progress_application);
    std::optional<std::string> finished;
    try {
      finished = record_progress(p);
    } catch (const source_error&) {
      // A lost connection stays lost, and a failed statement leaves the transaction aborted:
      // the next attempt (capture retries after a backoff) starts on a fresh connection. The
      // chunk stays pending until its progress is recorded.
      PQfinish(progress_conn_);
      progress_conn_ = nullptr;
      throw;
    }
    if (p.final_chunk) {
      std::lock_guard lock(mutex_);
      active_.erase({p.request_id, p.range_id});
    }
    if (finished && p.final_chunk) info("snapshot of " + *finished);
    pending_.erase(pending_.begin());
  }
}

std::optional<std::string> snapshot_coordinator::record_progress(const pending_progress& p) {
  const std::string request = std::to_string(p.request_id);
  exec(progress_conn_, "BEGIN");
  exec(progress_conn_,
       "UPDATE sluice.snapshot_ranges SET last_key = $3::jsonb, rows_done = rows_done + $4, "
       "done = $5 WHERE request_id = $1 AND range_id = $2",
       {request, std::to_string(p.range_id),
        p.last_key ? nlohmann::json(*p.last_key).dump() : std::string("null"),
        std::to_string(p.rows), p.final_chunk ? "true" : "false"});
  auto state = exec(progress_conn_,
                    "UPDATE sluice.snapshot_requests SET rows_done = rows_done + $2, "
                    "state = CASE WHEN NOT EXISTS (SELECT 1 FROM sluice.snapshot_ranges "
                    "WHERE request_id = $1 AND NOT done) THEN 'done' ELSE state END, "
                    "finished_at = CASE WHEN NOT EXISTS (SELECT 1 FROM sluice.snapshot_ranges "
                    "WHERE request_id = $1 AND NOT done) THEN now() END "
                    "WHERE id = $1 RETURNING state, schema_name || '.' || table_name, rows_done",
                    {request, std::to_string(p.rows)});
  exec(progress_conn_, "COMMIT");
  if (PQntuples(state.get()) != 1 || value_of(state.get(), 0, 0) != "done") return std::nullopt;
  return value_of(state.get(), 0, 1) + " done: " + value_of(state.get(), 0, 2) + " rows";
}

void snapshot_coordinator::stream_restarted() {
  std::lock_guard lock(mutex_);
  for (auto& [id, chunk] : chunks_) {
    chunk->window_open = false;
    chunk->changed_keys.clear();
  }
  // Chunks handed out but not yet confirmed are read again from their saved position by a
  // later run; in this run their progress simply waits for the next confirmation.
}

}  // namespace sluice::capture
