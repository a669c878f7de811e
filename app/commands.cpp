#include "commands.hpp"

#include <malloc.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <random>
#include <thread>

#include "kafka_record_sink.hpp"
#include "sluice/capture/capture_session.hpp"
#include "sluice/capture/snapshot.hpp"
#include "sluice/config/loader.hpp"
#include "sluice/config/redact.hpp"
#include "sluice/schemas/log.hpp"
#include "sluice/transport/kafka_consumer.hpp"
#include "sluice/transport/topic_admin.hpp"

namespace sluice::app {

std::atomic<bool> stop_requested{false};

namespace {

std::vector<std::string> table_topics(const config::pipeline& p) {
  std::vector<std::string> topics;
  for (const auto& t : p.source.tables) topics.push_back(config::topic_for(p.transport, t));
  return topics;
}

}  // namespace

std::optional<config::pipeline> load_pipeline(const command_line& cl, int& exit_code) {
  const std::string path = cl.option("--config");
  if (path.empty()) {
    std::cerr << "sluice " << cl.command << ": -c FILE is required\n";
    exit_code = ex_usage;
    return std::nullopt;
  }
  try {
    return config::load_pipeline(path);
  } catch (const config::config_error& e) {
    for (const auto& d : e.diagnostics()) std::cerr << d.to_string() << "\n";
    exit_code = ex_config;
    return std::nullopt;
  }
}

std::string command_line::option(const std::string& name, const std::string& fallback) const {
  auto it = options.find(name);
  return it == options.end() ? fallback : it->second;
}

int run_validate(const command_line& cl) {
  int code = 0;
  auto p = load_pipeline(cl, code);
  if (!p) return code;
  std::cout << config::summary(*p);
  std::cout << "ok: " << p->file << " is valid\n";
  return 0;
}

int run_capture(const command_line& cl) {
  int code = 0;
  auto p = load_pipeline(cl, code);
  if (!p) return code;

  capture::capture_options o;
  o.dsn = p->source.dsn;
  o.slot = p->source.slot;
  o.publication = p->source.publication;
  for (const auto& t : p->source.tables) o.tables.push_back({t.schema, t.table});
  o.topic_prefix = p->transport.topic_prefix;
  o.version = SLUICE_VERSION;
  o.alter_publication = p->source.alter_publication;
  o.accept_slot_reset = cl.flag("--accept-slot-reset");
  o.heartbeat_seconds = p->source.heartbeat_seconds;
  o.initial_snapshot = p->source.snapshot == config::snapshot_mode::initial;
  o.snapshot_parallelism = p->source.snapshot_parallelism;
  const char* env_dir = std::getenv("SLUICE_STATE_DIR");
  const std::string state_dir = cl.option("--state-dir", env_dir ? env_dir : ".sluice");
  o.state_file = std::filesystem::path(state_dir) / (p->name + "." + p->source.slot + ".json");

  // Snapshot chunks allocate and free thousands of small strings each; without these, glibc
  // hands the memory back after every chunk and faults it in again (bench/snapshot.sh).
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  try {
    // Topics first: compacted, so replaying a topic from the start rebuilds current state.
    std::vector<transport::topic_spec> specs;
    auto topics = table_topics(*p);
    topics.push_back(p->transport.topic_prefix + ".schema_changes");
    for (const auto& t : topics) {
      specs.push_back({t,
                       p->transport.partitions,
                       p->transport.replication_factor,
                       {{"cleanup.policy", "compact"}}});
    }
    if (auto ok = transport::ensure_topics(p->transport.brokers, specs, 30'000); !ok) {
      std::cerr << "sluice capture: cannot create topics on " << p->transport.brokers << ": "
                << ok.error().message << "\n";
      return ex_unavailable;
    }

    transport::producer_options po{p->transport.brokers, p->transport.producer};
    kafka_record_sink sink(po);
    capture::capture_session session(o, sink);
    sink.set_listener(&session.listener());
    session.prepare();
    session.run(stop_requested);
    return 0;
  } catch (const capture::source_error& e) {
    std::cerr << "sluice capture: " << config::redact(e.what()) << "\n";
    return ex_unavailable;
  } catch (const std::exception& e) {
    // capture_failure and anything unexpected: the message may quote a connection string.
    std::cerr << "sluice capture: " << config::redact(e.what()) << "\n";
    return ex_software;
  }
}

int run_snapshot(const command_line& cl) {
  int code = 0;
  auto p = load_pipeline(cl, code);
  if (!p) return code;
  // The running capture owns the stream, so it takes the snapshot: this command files the
  // request in the source database and follows its progress.
  std::vector<capture::table_ref> tables;
  const std::string list = cl.option("--tables");
  if (list.empty()) {
    std::cerr << "sluice snapshot: --tables schema.table[,schema.table...] is required\n";
    return ex_usage;
  }
  std::size_t start = 0;
  while (start <= list.size()) {
    const auto comma = list.find(',', start);
    const std::string item =
        list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    auto t = config::table_name::parse(item);
    if (!t) {
      std::cerr << "sluice snapshot: --tables: " << item << ": " << t.error() << "\n";
      return ex_usage;
    }
    const auto& configured = p->source.tables;
    if (std::find(configured.begin(), configured.end(), *t) == configured.end()) {
      std::cerr << "sluice snapshot: " << t->to_string() << " is not among the tables of "
                << p->file << "\n";
      return ex_usage;
    }
    tables.push_back({t->schema, t->table});
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  try {
    capture::snapshot_store::ensure_schema(p->source.dsn);
    const auto before = capture::snapshot_store::progress(p->source.dsn, p->source.slot);
    const std::int64_t first_new = before.empty() ? 0 : before.back().id + 1;
    capture::snapshot_store::request(p->source.dsn, p->source.slot, tables);
    std::cout << "snapshot requested for " << list << " on slot " << p->source.slot
              << "; the running `sluice capture` takes it\n";
    if (cl.flag("--no-wait")) return 0;
    const bool tty = isatty(1) != 0;
    for (;;) {
      std::string line;
      bool all_done = true;
      for (const auto& r : capture::snapshot_store::progress(p->source.dsn, p->source.slot)) {
        if (r.id < first_new) continue;
        all_done = all_done && r.state == "done";
        line += r.table + " " + r.state + " " + std::to_string(r.rows_done) + "/~" +
                std::to_string(std::max(r.rows_estimate, r.rows_done)) + "  ";
      }
      if (tty) std::cout << "\r" << line << std::flush;
      if (all_done) break;
      if (stop_requested) return 0;
      std::this_thread::sleep_for(std::chrono::milliseconds(tty ? 250 : 2000));
      if (!tty) std::cout << line << "\n";
    }
    std::cout << (tty ? "\n" : "") << "snapshot done\n";
    return 0;
  } catch (const capture::source_error& e) {
    std::cerr << "sluice snapshot: " << config::redact(e.what()) << "\n";
    return ex_unavailable;
  }
}

int run_tail(const command_line& cl) {
  int code = 0;
  auto p = load_pipeline(cl, code);
  if (!p) return code;
  std::vector<std::string> topics;
  if (cl.flag("--table")) {
    auto t = config::table_name::parse(cl.option("--table"));
    if (!t) {
      std::cerr << "sluice tail: --table: " << t.error() << "\n";
      return ex_usage;
    }
    topics.push_back(config::topic_for(p->transport, *t));
  } else {
    topics = table_topics(*p);
  }
  const long max = std::stol(cl.option("--max", "0"));
  const int idle_ms = std::stoi(cl.option("--idle-ms", "0"));

  // A throwaway group: tail reads from the beginning and commits nothing.
  std::random_device rd;
  transport::consumer_options co{
      p->transport.brokers, "sluice-tail-" + std::to_string(rd()), "earliest", {}};
  transport::kafka_consumer consumer(co);
  if (auto ok = consumer.subscribe(topics); !ok) {
    std::cerr << "sluice tail: " << ok.error().message << "\n";
    return ex_unavailable;
  }
  long printed = 0;
  auto last = std::chrono::steady_clock::now();
  while (!stop_requested && (max == 0 || printed < max)) {
    auto rec = consumer.poll(200);
    if (!rec) {
      std::cerr << "sluice tail: " << rec.error().message << "\n";
      if (rec.error().fatal()) return ex_unavailable;
      continue;
    }
    if (!*rec) {
      if (idle_ms > 0 &&
          std::chrono::steady_clock::now() - last > std::chrono::milliseconds(idle_ms)) {
        break;
      }
      continue;
    }
    last = std::chrono::steady_clock::now();
    const auto& r = **rec;
    std::cout << r.topic << " [" << r.partition << "@" << r.offset << "] " << r.key << " "
              << (r.value ? *r.value : std::string("(tombstone)")) << "\n";
    ++printed;
  }
  std::cout.flush();
  return 0;
}

}  // namespace sluice::app
