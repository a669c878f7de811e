#include "sluice/capture/capture_session.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "replication_stream.hpp"
#include "sluice/capture/change_builder.hpp"
#include "sluice/schemas/log.hpp"

namespace sluice::capture {
namespace {

using clock = std::chrono::steady_clock;

void info(const std::string& m) {
  log(log_level::info, "capture", m);
}
void warn(const std::string& m) {
  log(log_level::warn, "capture", m);
}

/// Writes `content` to `path` so that a crash leaves either the old or the new file.
void write_file_atomically(const std::filesystem::path& path, const std::string& content) {
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
  const std::filesystem::path tmp = path.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) throw capture_failure("cannot write " + tmp.string());
  const bool ok =
      ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()) &&
      ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) throw capture_failure("cannot write " + tmp.string());
  std::filesystem::rename(tmp, path);
}

/// Bridges the builder to the sink and the tracker (each record joins the open unit), and
/// shows the snapshot coordinator every streamed key and every watermark.
class tracked_output : public change_output {
 public:
  tracked_output(record_sink& sink, delivery_tracker& tracker, snapshot_coordinator& snapshots,
                 std::uint64_t& events)
      : sink_(sink), tracker_(tracker), snapshots_(snapshots), events_(events) {}
  void record(const outgoing_record& r) override {
    snapshots_.on_record(r.topic, r.key);
    send(r);
  }
  void message(const pgoutput::message& m) override {
    snapshots_.on_message(m, [this](const outgoing_record& r) { send(r); });
  }
  void transaction_end(lsn end_lsn) override {
    tracker_.close_unit(end_lsn);
    snapshots_.on_transaction_end(end_lsn);
  }

 private:
  void send(const outgoing_record& r) {
    const std::uint64_t token = tracker_.current_token();
    tracker_.sent(token, sink_.copies(r));
    sink_.send(r, token);
    ++events_;
  }

  record_sink& sink_;
  delivery_tracker& tracker_;
  snapshot_coordinator& snapshots_;
  std::uint64_t& events_;
};

}  // namespace

capture_session::capture_session(capture_options options, record_sink& sink)
    : options_(std::move(options)), sink_(sink) {}

capture_session::~capture_session() = default;

std::optional<lsn> capture_session::read_recorded_position() const {
  std::ifstream in(options_.state_file);
  if (!in) return std::nullopt;
  nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.contains("confirmed_lsn")) {
    throw source_error("capture state file " + options_.state_file.string() + " is unreadable");
  }
  return lsn::parse(j["confirmed_lsn"].get<std::string>());
}

void capture_session::persist_confirmed(lsn confirmed) {
  nlohmann::json j{{"slot", options_.slot}, {"confirmed_lsn", confirmed.to_string()}};
  write_file_atomically(options_.state_file, j.dump() + "\n");
  persisted_ = confirmed;
}

void capture_session::prepare() {
  catalog_ = std::make_unique<source_catalog>(options_.dsn);
  catalog_->require_logical_wal_level();
  db_name_ = catalog_->database_name();
  keys_ = catalog_->key_columns(options_.tables);
  catalog_->ensure_publication(options_.publication, options_.tables, options_.alter_publication);
  snapshot_store::ensure_schema(options_.dsn);

  const auto recorded = read_recorded_position();
  const auto slot = catalog_->slot(options_.slot);
  if (!slot) {
    if (recorded && !options_.accept_slot_reset) {
      throw source_error("replication slot " + options_.slot +
                         " does not exist, but capture last confirmed " + recorded->to_string() +
                         " on it: it was dropped, and changes made since may be lost. To start "
                         "over on a new slot (and re-snapshot), run with --accept-slot-reset");
    }
    // A new slot streams only what happens from now on: the rows already there come from a
    // snapshot, read beside the stream (docs/snapshot.md). It is requested before the slot
    // exists, so that a crash in between cannot leave a slot whose snapshot was never asked for.
    snapshot_store::forget(options_.dsn, options_.slot);
    if (options_.initial_snapshot)
      snapshot_store::request(options_.dsn, options_.slot, options_.tables);
    replication_stream stream(options_.dsn);
    const lsn start = stream.create_slot(options_.slot);
    info("created replication slot slot=" + options_.slot + " lsn=" + start.to_string());
    persist_confirmed(start);
    return;
  }
  if (slot->plugin != "pgoutput") {
    throw source_error("replication slot " + options_.slot + " uses plugin " + slot->plugin +
                       ", not pgoutput");
  }
  if (recorded && slot->confirmed_flush_lsn > *recorded && !options_.accept_slot_reset) {
    throw source_error("replication slot " + options_.slot + " is confirmed up to " +
                       slot->confirmed_flush_lsn.to_string() +
                       ", ahead of what capture last confirmed (" + recorded->to_string() +
                       "): it was recreated or advanced by someone else, and the changes in "
                       "between never reached Kafka. Re-snapshot, then run with "
                       "--accept-slot-reset");
  }
  persist_confirmed(std::max(slot->confirmed_flush_lsn, recorded.value_or(lsn{})));
  info("resuming slot=" + options_.slot +
       " confirmed_flush_lsn=" + slot->confirmed_flush_lsn.to_string());
}

void capture_session::run(const std::atomic<bool>& stop) {
  sink_.poll(0);
  snapshots_ = std::make_unique<snapshot_coordinator>(snapshot_options{
      options_.dsn, options_.slot, options_.topic_prefix, db_name_, options_.version,
      options_.snapshot_parallelism, options_.snapshot_chunk_rows, keys_});
  auto backoff = std::chrono::milliseconds(500);
  while (!stop) {
    try {
      stream_once(stop);
      return;
    } catch (const source_error& e) {
      // Connection trouble, or "slot is active for PID" right after our own crash: the old
      // walsender goes away once Postgres notices; waiting is the fix.
      warn(std::string(e.what()) + "; retrying in " + std::to_string(backoff.count()) + " ms");
      const auto until = clock::now() + backoff;
      while (!stop && clock::now() < until) sink_.poll(100);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(30'000));
    }
  }
}

void capture_session::stream_once(const std::atomic<bool>& stop) {
  replication_stream stream(options_.dsn);
  // 0/0: Postgres resumes at the slot's confirmed_flush_lsn. Anything after it is resent, with
  // the same (commit_lsn, seq), so sinks resolve the duplicates.
  stream.start(options_.slot, options_.publication, lsn{});
  info("streaming slot=" + options_.slot + " publication=" + options_.publication);

  builder_options bo{db_name_, options_.topic_prefix, options_.version, nullptr};
  auto keys = keys_;
  change_builder builder(bo, type_mapper([this](std::uint32_t oid) { return catalog_->type(oid); }),
                         [keys](const std::string& schema, const std::string& table) {
                           auto it = keys.find(schema + "." + table);
                           return it == keys.end() ? std::vector<std::string>{} : it->second;
                         });
  snapshots_->stream_restarted();
  tracked_output out(sink_, tracker_, *snapshots_, events_sent_);

  const auto status_every = std::chrono::milliseconds(options_.status_interval_ms);
  auto next_status = clock::now() + status_every;
  auto next_heartbeat = clock::now() + std::chrono::seconds(options_.heartbeat_seconds);
  lsn sent_status;

  auto report = [&](bool reply_requested) {
    const lsn confirmed = tracker_.confirmable();
    // Record before telling Postgres, so the slot is never ahead of our own record.
    if (confirmed > persisted_) persist_confirmed(confirmed);
    stream.send_status(std::max(confirmed, persisted_), reply_requested);
    sent_status = confirmed;
    next_status = clock::now() + status_every;
  };

  while (!stop) {
    if (tracker_.failure()) {
      throw capture_failure("Kafka did not accept a record: " + *tracker_.failure() +
                            "; stopping without confirming past " +
                            tracker_.confirmable().to_string());
    }
    auto msg = stream.read(50);
    sink_.poll(0);
    if (msg && msg->k == stream_message::kind::xlog_data) {
      auto decoded = pgoutput::decode(msg->payload);
      if (!decoded) {
        throw capture_failure("cannot decode pgoutput message at lsn=" +
                              msg->wal_start.to_string() + ": " + decoded.error().message);
      }
      if (auto ok = builder.apply(*decoded, msg->wal_start, out); !ok) {
        throw capture_failure("at lsn=" + msg->wal_start.to_string() + ": " + ok.error().message);
      }
    } else if (msg && msg->k == stream_message::kind::keepalive) {
      // Everything before wal_end was sent to us: once acknowledged it may be confirmed, which
      // is what keeps an idle slot from pinning WAL.
      if (!builder.in_transaction()) tracker_.close_unit(msg->wal_end);
      if (msg->reply_requested) report(false);
    }
    // Snapshot progress may be recorded as soon as Kafka has the chunk: the sooner it is, the
    // less a crash makes us read again.
    snapshots_->on_confirmed(tracker_.confirmable());
    if (clock::now() >= next_status) report(false);
    if (options_.heartbeat_seconds > 0 && clock::now() >= next_heartbeat) {
      catalog_->execute("SELECT pg_logical_emit_message(true, 'sluice.heartbeat', '')");
      next_heartbeat = clock::now() + std::chrono::seconds(options_.heartbeat_seconds);
    }
  }

  // SIGTERM: wait for Kafka to acknowledge what was sent, confirm it, and leave.
  info("stopping: flushing " + std::to_string(tracker_.pending_records()) + " records");
  if (!sink_.flush(60'000)) warn("Kafka did not acknowledge everything within 60 s");
  report(false);
  info("stopped slot=" + options_.slot + " confirmed=" + tracker_.confirmable().to_string());
}

}  // namespace sluice::capture
