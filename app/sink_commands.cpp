#include "sink_commands.hpp"

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <expected>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <pqxx/pqxx>
#include <random>
#include <sstream>
#include <thread>

#include "kafka_sink_adapters.hpp"
#include "sluice/config/loader.hpp"
#include "sluice/config/redact.hpp"
#include "sluice/schemas/codec.hpp"
#include "sluice/schemas/log.hpp"
#include "sluice/sinks/redis/redis_cache.hpp"
#include "sluice/sinks/runtime.hpp"
#include "sluice/transport/topic_admin.hpp"

namespace sluice::app {
namespace {

using clock = std::chrono::steady_clock;

/// The sink named by the first positional argument, or an exit code.
const config::sink* find_sink(const command_line& cl, const config::pipeline& p, int& exit_code) {
  if (cl.positional.empty()) {
    std::cerr << "sluice " << cl.command << ": name the sink: sluice " << cl.command
              << " <sink> -c FILE\n";
    exit_code = ex_usage;
    return nullptr;
  }
  std::string names;
  for (const auto& s : p.sinks) {
    if (s.name == cl.positional[0]) return &s;
    names += (names.empty() ? "" : ", ") + s.name;
  }
  std::cerr << "sluice " << cl.command << ": " << p.file << " has no sink '" << cl.positional[0]
            << "' (sinks: " << (names.empty() ? "none" : names) << ")\n";
  exit_code = ex_usage;
  return nullptr;
}

std::string group_of(const config::pipeline& p, const config::sink& s) {
  return "sluice." + p.name + "." + s.name;
}

std::string dlq_topic(const config::pipeline& p, const config::sink& s) {
  return p.transport.topic_prefix + ".dlq." + s.name;
}

struct sink_wiring {
  std::vector<std::string> topics;
  std::map<std::string, sinks::table_ref> tables_by_topic;
  std::vector<sinks::table_ref> tables;
};

sink_wiring wiring_of(const config::pipeline& p, const config::sink& s) {
  sink_wiring w;
  for (const auto& t : config::tables_of(s)) {
    const std::string topic = config::topic_for(p.transport, t);
    w.topics.push_back(topic);
    w.tables_by_topic[topic] = t.to_string();
    w.tables.push_back(t.to_string());
  }
  return w;
}

sinks::redis::cache_options cache_options_of(const config::redis_sink& r) {
  sinks::redis::cache_options o;
  o.key_template = r.key;
  o.format = r.format == config::redis_format::json ? sinks::redis::row_format::json
                                                    : sinks::redis::row_format::hash;
  o.include_columns = r.include_columns;
  o.exclude_columns = r.exclude_columns;
  o.ttl_seconds = r.ttl_seconds;
  return o;
}

const config::redis_sink* redis_kind(const config::sink& s, const command_line& cl,
                                     int& exit_code) {
  if (const auto* r = std::get_if<config::redis_sink>(&s.kind)) return r;
  std::cerr << "sluice " << cl.command << ": sink " << s.name << " is a " << config::kind_name(s)
            << " sink; this version runs redis sinks only\n";
  exit_code = ex_config;
  return nullptr;
}

sinks::on_bad_event on_bad_event_of(const config::sink& s) {
  return s.on_error == config::error_policy::dead_letter ? sinks::on_bad_event::dead_letter
                                                         : sinks::on_bad_event::stop;
}

/// The dead-letter queue of a sink with `on_error: dead_letter` (its topic created when
/// missing), null for one that stops instead; or why it cannot be had.
std::expected<std::unique_ptr<kafka_dead_letter_queue>, std::string> dead_letters_for(
    const config::pipeline& p, const config::sink& s) {
  if (s.on_error != config::error_policy::dead_letter) return nullptr;
  // Not compacted: every rejected record stays, even several with the same key.
  const std::string topic = dlq_topic(p, s);
  if (auto ok = transport::ensure_topics(p.transport.brokers,
                                         {{topic, 1, p.transport.replication_factor, {}}}, 30'000);
      !ok) {
    return std::unexpected("cannot create the dead-letter topic " + topic + ": " +
                           ok.error().message);
  }
  return std::make_unique<kafka_dead_letter_queue>(
      transport::producer_options{p.transport.brokers, p.transport.producer}, topic, s.name);
}

std::string with_commas(std::int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return (n < 0 ? "-" : "") + out;
}

/// Call from a catch block: prints why a sink command stopped, secrets redacted whatever the
/// exception, and returns the exit code for its kind.
int report_failure(const std::string& command, const std::string& sink) {
  auto say = [&](const char* what) {
    std::cerr << command << ": " << sink << ": " << config::redact(what) << "\n";
  };
  try {
    throw;
  } catch (const sinks::redis::setup_error& e) {
    say(e.what());
    return ex_config;
  } catch (const sinks::redis::unavailable_error& e) {
    say(e.what());
    return ex_unavailable;
  } catch (const std::exception& e) {
    say(e.what());
    return ex_software;
  }
}

int exit_code_of(const sinks::run_outcome& outcome) {
  switch (outcome.result) {
    case sinks::run_outcome::status::stopped:
      return 0;
    case sinks::run_outcome::status::bad_event:
      return ex_dataerr;
    case sinks::run_outcome::status::failed:
      return ex_unavailable;
  }
  return ex_software;
}

}  // namespace

namespace {

/// Worker `index` of `count` in this process: its own Redis connection, Kafka consumer (a member
/// of the sink's group, like a worker in another process), dead-letter producer and runtime.
/// Runs until `stop`; returns its exit code.
int run_sink_worker(const command_line& cl, const config::pipeline& p, const config::sink& s,
                    const config::redis_sink& r, const sink_wiring& w, int index, int count,
                    const std::atomic<bool>& stop) {
  const std::string name = count == 1 ? s.name : s.name + "#" + std::to_string(index + 1);
  try {
    sinks::redis::redis_cache cache({r.url, std::nullopt, p.name + "/" + s.name, w.tables},
                                    cache_options_of(r));
    cache.open();

    auto dlq = dead_letters_for(p, s);
    if (!dlq) {
      std::cerr << "sluice sink: " << dlq.error() << "\n";
      return ex_unavailable;
    }

    const std::string group = group_of(p, s);
    auto consumer_options = sink_consumer_options(p.transport.brokers, group);
    if (cl.flag("--instance")) {
      // Static membership (KIP-345): a restarted worker with the same name gets its partitions
      // back at once instead of after the session timeout and a rebalance.
      consumer_options.extra["group.instance.id"] =
          s.name + "." + cl.option("--instance") +
          (count == 1 ? "" : "." + std::to_string(index + 1));
    }
    if (count > 1) {
      // The process' prefetched records stay about what one worker's would be.
      consumer_options.extra["queued.max.messages.kbytes"] =
          std::to_string(std::max(16384, 65536 / count));
    }
    kafka_record_source source(consumer_options, w.topics, kafka_record_source::mode::group);
    sinks::runtime_options o;
    o.sink_name = name;
    o.tables_by_topic = w.tables_by_topic;
    o.on_error = on_bad_event_of(s);
    sinks::sink_runtime runtime(o, source, cache, dlq->get());
    std::string topics;
    for (const auto& t : w.topics) topics += (topics.empty() ? "" : ", ") + t;
    log(log_level::info, "sinks", "sink " + name + ": consuming " + topics + " in group " + group);
    auto outcome = runtime.run(stop);
    if (outcome.result == sinks::run_outcome::status::stopped) {
      log(log_level::info, "sinks",
          "sink " + name + ": stopped after committing what was applied (" +
              std::to_string(outcome.events_applied) + " events applied, " +
              std::to_string(outcome.events_skipped) + " skipped as not newer)");
    } else {
      std::cerr << "sluice sink: " << outcome.message << "\n";
    }
    return exit_code_of(outcome);
  } catch (...) {
    return report_failure("sluice sink", name);
  }
}

}  // namespace

int run_sink(const command_line& cl) {
  int code = 0;
  auto p = load_pipeline(cl, code);
  if (!p) return code;
  const config::sink* s = find_sink(cl, *p, code);
  if (s == nullptr) return code;
  const config::redis_sink* r = redis_kind(*s, cl, code);
  if (r == nullptr) return code;
  int count = s->workers;
  if (cl.flag("--workers")) {
    const std::string text = cl.option("--workers");
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), count);
    if (ec != std::errc{} || end != text.data() + text.size() || count < 1 ||
        count > config::max_sink_workers) {
      std::cerr << "sluice sink: --workers needs a number from 1 to " << config::max_sink_workers
                << "\n";
      return ex_usage;
    }
  }
  const sink_wiring w = wiring_of(*p, *s);
  if (count == 1) return run_sink_worker(cl, *p, *s, *r, w, 0, 1, stop_requested);

  // Workers in one process share nothing but the process: each is a member of the group with
  // partitions of its own, so Redis applies one worker's transaction while another worker
  // reads and decides its next batch. When one worker ends (a bad record, a failure), the
  // others stop too, so the process exits and says why.
  std::atomic<bool> stop{false};
  std::atomic<int> ended{0};
  std::atomic<int> first_ended{-1};
  std::vector<int> codes(static_cast<std::size_t>(count), 0);
  std::vector<std::thread> threads;
  for (int i = 0; i < count; ++i) {
    threads.emplace_back([&, i] {
      codes[static_cast<std::size_t>(i)] = run_sink_worker(cl, *p, *s, *r, w, i, count, stop);
      int none = -1;
      first_ended.compare_exchange_strong(none, i);
      ++ended;
    });
  }
  while (!stop_requested && ended.load() == 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  stop = true;
  for (auto& t : threads) t.join();
  // The code of the worker whose end stopped the others; else of any that failed.
  if (first_ended >= 0 && codes[static_cast<std::size_t>(first_ended.load())] != 0) {
    return codes[static_cast<std::size_t>(first_ended.load())];
  }
  for (int c : codes) {
    if (c != 0) return c;
  }
  return 0;
}

namespace {

/// Follows replay's progress against the topics' end offsets measured when it started.
class replay_progress {
 public:
  replay_progress(std::string sink, std::map<sinks::partition_ref, transport::watermarks> marks)
      : sink_(std::move(sink)), marks_(std::move(marks)), started_(clock::now()) {
    for (const auto& [p, m] : marks_) total_ += m.high - m.low;
  }

  [[nodiscard]] bool caught_up(const std::map<sinks::partition_ref, std::int64_t>& applied) const {
    for (const auto& [p, m] : marks_) {
      if (m.high <= m.low) continue;
      auto it = applied.find(p);
      if (it == applied.end() || it->second < m.high) return false;
    }
    return true;
  }

  void report(const std::map<sinks::partition_ref, std::int64_t>& applied, bool force) {
    const auto now = clock::now();
    if (!force && now - last_ < std::chrono::seconds(1)) return;
    last_ = now;
    std::int64_t done = 0;
    for (const auto& [p, m] : marks_) {
      auto it = applied.find(p);
      if (it != applied.end()) done += std::clamp(it->second, m.low, m.high) - m.low;
    }
    const double seconds = std::chrono::duration<double>(now - started_).count();
    const double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0;
    const double percent =
        total_ > 0 ? 100.0 * static_cast<double>(done) / static_cast<double>(total_) : 100.0;
    char line[256];
    std::string eta = "-";
    if (rate > 0 && done < total_) {
      eta = std::to_string(
                static_cast<long long>(std::ceil(static_cast<double>(total_ - done) / rate))) +
            "s";
    } else if (done >= total_) {
      eta = "0s";
    }
    std::snprintf(line, sizeof line, "%.1f%% (%s of %s records), %s records/s, ETA %s", percent,
                  with_commas(done).c_str(), with_commas(total_).c_str(),
                  with_commas(static_cast<std::int64_t>(rate)).c_str(), eta.c_str());
    log(log_level::info, "replay", "replay " + sink_ + ": " + line);
  }

  [[nodiscard]] std::int64_t total() const { return total_; }
  [[nodiscard]] double seconds() const {
    return std::chrono::duration<double>(clock::now() - started_).count();
  }

 private:
  std::string sink_;
  std::map<sinks::partition_ref, transport::watermarks> marks_;
  std::int64_t total_ = 0;
  clock::time_point started_;
  clock::time_point last_{};
};

}  // namespace

int run_replay(const command_line& cl) {
  int code = 0;
  auto p = load_pipeline(cl, code);
  if (!p) return code;
  const config::sink* s = find_sink(cl, *p, code);
  if (s == nullptr) return code;
  const config::redis_sink* r = redis_kind(*s, cl, code);
  if (r == nullptr) return code;
  const sink_wiring w = wiring_of(*p, *s);
  const bool in_place = cl.flag("--in-place");
  std::optional<int> requested;
  if (cl.flag("--shadow-db")) {
    try {
      requested = std::stoi(cl.option("--shadow-db"));
    } catch (const std::exception&) {
      std::cerr << "sluice replay: --shadow-db needs a database number\n";
      return ex_usage;
    }
  }
  const std::string identity = p->name + "/" + s->name;
  try {
    // Kafka first: with --in-place the live database is emptied below, and nothing that can
    // fail for want of Kafka may come between that and the rebuild.
    // Not a member of the sink's group: replay reads every partition and commits nothing.
    kafka_record_source source(
        sink_consumer_options(p->transport.brokers, group_of(*p, *s) + ".replay"), w.topics,
        kafka_record_source::mode::all_partitions);
    std::map<sinks::partition_ref, transport::watermarks> marks;
    for (const auto& t : w.topics) {
      auto count = source.consumer().partition_count(t, 10'000);
      if (!count) {
        std::cerr << "sluice replay: topic " << t << ": " << count.error().message << "\n";
        return ex_unavailable;
      }
      for (int part = 0; part < *count; ++part) {
        auto m = source.consumer().query_watermarks(t, part, 10'000);
        if (!m) {
          std::cerr << "sluice replay: " << t << "[" << part << "]: " << m.error().message << "\n";
          return ex_unavailable;
        }
        marks[{t, part}] = *m;
      }
    }
    auto dlq = dead_letters_for(*p, *s);
    if (!dlq) {
      std::cerr << "sluice replay: " << dlq.error() << "\n";
      return ex_unavailable;
    }

    sinks::redis::replay_target target(r->url, identity);
    int database = target.live_database();
    if (in_place) {
      target.clear_live();
      log(log_level::info, "replay",
          "replay " + s->name + ": cleared database " + std::to_string(database) +
              "; rebuilding it in place");
    } else {
      database = target.claim_shadow(requested);
      log(log_level::info, "replay",
          "replay " + s->name + ": building a shadow copy in database " + std::to_string(database) +
              " while database " + std::to_string(target.live_database()) + " keeps serving");
    }
    sinks::redis::redis_cache cache({r->url, database, identity, w.tables}, cache_options_of(*r));
    cache.open();

    replay_progress progress(s->name, marks);

    enum class phase { catching_up, switching, done };
    phase current = phase::catching_up;
    std::atomic<bool> finish{false};
    clock::time_point pause_renewed{};
    clock::time_point switch_started{};
    std::string failure;
    constexpr auto pause_ttl = std::chrono::seconds(10);

    sinks::runtime_options o;
    o.sink_name = s->name + " (replay)";
    o.tables_by_topic = w.tables_by_topic;
    o.max_batch_events = 2000;
    o.commit_offsets = false;
    o.on_error = on_bad_event_of(*s);
    o.after_batch = [&](const std::map<sinks::partition_ref, std::int64_t>& applied) {
      if (stop_requested) finish = true;
      if (current == phase::catching_up) {
        progress.report(applied, false);
        if (!progress.caught_up(applied)) return;
        progress.report(applied, true);
        if (in_place) {
          current = phase::done;
          finish = true;
          return;
        }
        current = phase::switching;
        switch_started = clock::now();
        log(log_level::info, "replay",
            "replay " + s->name + ": caught up; pausing the live sink to switch");
      }
      if (current != phase::switching) return;
      // Live workers hold their batches while paused, so the shadow can only gain on them.
      if (clock::now() - pause_renewed > pause_ttl / 3) {
        target.pause_live(pause_ttl);
        pause_renewed = clock::now();
      }
      std::string why_not;
      if (target.try_switch(database, why_not)) {
        cache.detach();  // its database number now holds the old copy
        current = phase::done;
        finish = true;
        return;
      }
      if (clock::now() - switch_started > std::chrono::seconds(60)) {
        failure =
            "the shadow copy did not catch up with the live sink within 60 s (" + why_not + ")";
        finish = true;
      }
    };
    sinks::sink_runtime runtime(o, source, cache, dlq->get());
    auto outcome = runtime.run(finish);
    if (current == phase::switching) target.resume_live();
    if (outcome.result != sinks::run_outcome::status::stopped) {
      std::cerr << "sluice replay: " << outcome.message << "\n";
      return exit_code_of(outcome);
    }
    if (current != phase::done) {
      if (!in_place) target.discard(database);
      std::cerr << "sluice replay: " << s->name << ": "
                << (failure.empty() ? "interrupted before the switch" : failure)
                << (in_place ? "; the database is partly rebuilt, run replay again"
                             : "; the live copy is unchanged, the shadow copy was discarded")
                << "\n";
      return failure.empty() ? ex_tempfail : ex_software;
    }
    const double seconds = progress.seconds();
    const double rate = seconds > 0 ? static_cast<double>(progress.total()) / seconds : 0;
    std::cout << "replay " << s->name << ": rebuilt from " << with_commas(progress.total())
              << " records in " << std::fixed << std::setprecision(1) << seconds << " s ("
              << with_commas(static_cast<std::int64_t>(rate)) << " records/s); "
              << (in_place ? "database " + std::to_string(database) + " rebuilt in place"
                           : "switched: database " + std::to_string(target.live_database()) +
                                 " now holds the rebuilt copy, the old copy is removed")
              << "\n";
    return 0;
  } catch (...) {
    return report_failure("sluice replay", s->name);
  }
}

namespace {

std::string human_bytes(std::int64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// The `ts_ms` (capture time) and `source.ts_ms` (commit time) of the record at an offset.
struct record_times {
  std::int64_t captured_ms = 0;
  std::int64_t committed_ms = 0;
};

std::optional<record_times> times_at(const std::string& brokers, const std::string& topic,
                                     std::int32_t partition, std::int64_t offset) {
  std::random_device rd;
  transport::kafka_consumer c({brokers, "sluice-status-" + std::to_string(rd()), "earliest", {}});
  if (!c.assign({{topic, partition, offset}})) return std::nullopt;
  const auto until = clock::now() + std::chrono::seconds(5);
  while (clock::now() < until) {
    auto r = c.poll(200);
    if (!r || !*r) continue;
    const auto& rec = **r;
    // A tombstone carries no time, and a record that does not decode none we can trust: the
    // next event tells how old the unapplied part is.
    if (!rec.value) continue;
    auto e = schemas::decode_event(*rec.value);
    if (!e) continue;
    return record_times{e->ts_ms, e->source.ts_ms};
  }
  return std::nullopt;
}

}  // namespace

int run_status(const command_line& cl) {
  int code = 0;
  auto p = load_pipeline(cl, code);
  if (!p) return code;
  const bool as_json = cl.flag("--json");
  nlohmann::json out = nlohmann::json::object();
  int exit_code = 0;

  // Capture: the slot.
  nlohmann::json capture = {{"slot", p->source.slot}};
  try {
    pqxx::connection conn(p->source.dsn);
    pqxx::nontransaction tx(conn);
    auto rows = tx.exec_params(
        "SELECT s.active, s.active_pid, s.confirmed_flush_lsn::text, "
        "       pg_wal_lsn_diff(pg_current_wal_lsn(), s.confirmed_flush_lsn)::bigint, "
        "       extract(epoch FROM r.flush_lag)::float8 "
        "FROM pg_replication_slots s LEFT JOIN pg_stat_replication r ON r.pid = s.active_pid "
        "WHERE s.slot_name = $1",
        p->source.slot);
    if (rows.empty()) {
      capture["state"] = "no slot (capture never ran)";
    } else {
      const auto& row = rows[0];
      const bool active = row[0].as<bool>();
      capture["state"] = active ? "streaming" : "stopped";
      if (active) capture["pid"] = row[1].as<long>();
      capture["confirmed_flush_lsn"] = row[2].is_null() ? "" : row[2].c_str();
      const std::int64_t lag_bytes =
          row[3].is_null() ? 0 : std::max<std::int64_t>(0, row[3].as<std::int64_t>());
      capture["lag_bytes"] = lag_bytes;
      if (!row[4].is_null()) {
        capture["lag_seconds"] = row[4].as<double>();
      } else if (lag_bytes == 0 || active) {
        capture["lag_seconds"] = 0.0;
      }
    }
  } catch (const std::exception& e) {
    capture["state"] = "unknown";
    capture["error"] = config::redact(e.what());
    exit_code = ex_unavailable;
  }
  out["capture"] = capture;

  // Sinks: the group's committed offsets against the end of each partition.
  nlohmann::json sinks_out = nlohmann::json::array();
  for (const auto& s : p->sinks) {
    nlohmann::json j = {{"name", s.name}, {"kind", std::string(config::kind_name(s))}};
    const std::string group = group_of(*p, s);
    j["group"] = group;
    try {
      transport::kafka_consumer c({p->transport.brokers, group, "earliest", {}});
      std::vector<transport::topic_partition_offset> parts;
      std::map<std::pair<std::string, int>, transport::watermarks> marks;
      for (const auto& t : config::tables_of(s)) {
        const std::string topic = config::topic_for(p->transport, t);
        auto count = c.partition_count(topic, 5'000);
        if (!count && count.error().unknown_topic()) continue;  // capture has not created it yet
        if (!count) throw std::runtime_error(count.error().message);
        for (int part = 0; part < *count; ++part) {
          auto m = c.query_watermarks(topic, part, 5'000);
          if (!m) throw std::runtime_error(m.error().message);
          marks[{topic, part}] = *m;
          parts.push_back({topic, part, 0});
        }
      }
      auto committed = c.committed(parts, 5'000);
      if (!committed) throw std::runtime_error(committed.error().message);
      std::int64_t lag = 0;
      std::optional<double> lag_seconds = 0.0;
      for (const auto& o : *committed) {
        const auto& m = marks[{o.topic, o.partition}];
        const std::int64_t from = o.offset < 0 ? m.low : std::max(o.offset, m.low);
        const std::int64_t behind = std::max<std::int64_t>(0, m.high - from);
        lag += behind;
        if (behind > 0) {
          auto t = times_at(p->transport.brokers, o.topic, o.partition, from);
          if (t) {
            lag_seconds =
                std::max(*lag_seconds, static_cast<double>(now_ms() - t->captured_ms) / 1000.0);
          }
        }
      }
      j["lag_messages"] = lag;
      if (lag_seconds) j["lag_seconds"] = *lag_seconds;
      auto g = c.describe_group(group, 5'000);
      if (!g) throw std::runtime_error(g.error().message);
      j["workers"] = g->members;
      if (g->state == "Stable" && g->members > 0) {
        j["state"] = "running";
      } else if (g->state == "PreparingRebalance" || g->state == "CompletingRebalance") {
        j["state"] = "rebalancing";
      } else if (g->state == "Empty") {
        j["state"] = "stopped";
      } else {
        j["state"] = "never started";
      }
      c.close();
    } catch (const std::exception& e) {
      j["state"] = "unknown";
      j["error"] = config::redact(e.what());
      exit_code = ex_unavailable;
    }
    sinks_out.push_back(j);
  }
  out["sinks"] = sinks_out;

  if (as_json) {
    std::cout << out.dump(2) << "\n";
    return exit_code;
  }
  std::cout << "pipeline " << p->name << "\n";
  std::cout << "  capture  slot " << p->source.slot << ": " << capture["state"].get<std::string>();
  if (capture.contains("pid")) std::cout << " (pid " << capture["pid"].get<long>() << ")";
  if (capture.contains("lag_bytes")) {
    std::cout << ", lag " << human_bytes(capture["lag_bytes"].get<std::int64_t>());
    if (capture.contains("lag_seconds")) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.1f s", capture["lag_seconds"].get<double>());
      std::cout << ", " << buf;
    } else {
      std::cout << ", seconds unknown (capture is not running)";
    }
  }
  if (capture.contains("error")) std::cout << " (" << capture["error"].get<std::string>() << ")";
  std::cout << "\n";
  for (const auto& j : sinks_out) {
    std::cout << "  sink     " << j["name"].get<std::string>() << " ("
              << j["kind"].get<std::string>() << "): " << j["state"].get<std::string>();
    if (j.contains("workers") && j["workers"].get<int>() > 0) {
      std::cout << " (" << j["workers"].get<int>()
                << (j["workers"].get<int>() == 1 ? " worker)" : " workers)");
    }
    if (j.contains("lag_messages")) {
      std::cout << ", lag " << with_commas(j["lag_messages"].get<std::int64_t>()) << " messages";
      if (j.contains("lag_seconds")) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.1f s", j["lag_seconds"].get<double>());
        std::cout << ", " << buf;
      }
    }
    if (j.contains("error")) std::cout << " (" << j["error"].get<std::string>() << ")";
    std::cout << "\n";
  }
  return exit_code;
}

}  // namespace sluice::app
