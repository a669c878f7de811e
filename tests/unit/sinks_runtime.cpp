// The sink runtime against a scripted record source and sink kind: commit only what was
// applied, bad events, dead letters, retries, transaction-sized batches, revocation, stop.

#include <catch2/catch.hpp>
#include <deque>
#include <future>
#include <map>
#include <string>
#include <vector>

#include "sluice/schemas/codec.hpp"
#include "sluice/sinks/runtime.hpp"

using namespace sluice;
using namespace sluice::sinks;

namespace {

std::string event_json(const std::string& op, int id, const std::string& commit_lsn, int seq) {
  const std::string row = R"({"id":)" + std::to_string(id) + "}";
  const bool del = op == "d";
  return R"({"op":")" + op + R"(","before":)" + (del ? row : "null") + R"(,"after":)" +
         (del ? "null" : row) +
         R"(,"unchanged":[],"source":{"connector":"sluice","version":"0.1.0","db":"d","schema":"public","table":"t","lsn":"0/1","commit_lsn":")" +
         commit_lsn + R"(","seq":)" + std::to_string(seq) +
         R"(,"txId":7,"ts_ms":1,"snapshot":false},"ts_ms":2})";
}

/// Hands out queued records; asks the stop flag to turn true once they are all out.
class scripted_source : public record_source {
 public:
  std::deque<source_record> records;
  std::vector<std::vector<partition_offset>> commits;
  std::atomic<bool>* stop_when_empty = nullptr;
  assignment_handler* handler = nullptr;
  std::function<void()> before_poll;
  bool assigned = false;

  void set_assignment_handler(assignment_handler* h) override { handler = h; }
  std::expected<bool, source_error> poll(int, source_record& into) override {
    if (!assigned) {
      assigned = true;
      handler->on_assigned({{"t", 0}, {"t", 1}});
    }
    if (before_poll) before_poll();
    if (records.empty()) {
      if (stop_when_empty != nullptr) *stop_when_empty = true;
      return false;
    }
    into = std::move(records.front());
    records.pop_front();
    return true;
  }
  std::expected<void, source_error> commit(const std::vector<partition_offset>& o) override {
    commits.push_back(o);
    return {};
  }
  void close() override {}

  void add(int partition, std::int64_t offset, std::string key, std::optional<std::string> value) {
    records.push_back({"t", partition, offset, std::move(key), std::move(value)});
  }
};

/// Records batches; can refuse an event (by record offset) or fail a number of times.
class scripted_kind : public sink_kind {
 public:
  std::vector<std::vector<sink_event>> batches;
  std::vector<std::vector<partition_offset>> offsets_seen;
  std::optional<std::int64_t> refuse_offset;
  int failures_left = 0;

  std::vector<std::optional<std::int64_t>> resume_offsets(
      const std::vector<partition_ref>& partitions) override {
    return std::vector<std::optional<std::int64_t>>(partitions.size());
  }
  std::expected<apply_stats, apply_error> apply(
      std::span<const sink_event> events, const std::vector<partition_offset>& offsets) override {
    if (failures_left > 0) {
      --failures_left;
      return std::unexpected(target_failure{"target down", true});
    }
    for (std::size_t i = 0; i < events.size(); ++i) {
      if (refuse_offset && events[i].record.offset == *refuse_offset) {
        return std::unexpected(bad_event{i, "refused"});
      }
    }
    batches.emplace_back(events.begin(), events.end());
    offsets_seen.push_back(offsets);
    return apply_stats{events.size(), 0};
  }

  std::vector<std::int64_t> applied_offsets() const {
    std::vector<std::int64_t> out;
    for (const auto& b : batches) {
      for (const auto& e : b) out.push_back(e.record.offset);
    }
    return out;
  }
};

class recording_dlq : public dead_letter_queue {
 public:
  std::vector<std::pair<source_record, std::string>> sent;
  std::expected<void, std::string> send(const source_record& r, std::string_view error) override {
    sent.emplace_back(r, std::string(error));
    return {};
  }
};

runtime_options options() {
  runtime_options o;
  o.sink_name = "cache";
  o.tables_by_topic = {{"t", "public.t"}};
  o.linger = std::chrono::milliseconds(0);
  o.retry_min = std::chrono::milliseconds(1);
  return o;
}

std::int64_t last_commit(const scripted_source& s, int partition) {
  std::int64_t out = -1;
  for (const auto& c : s.commits) {
    for (const auto& o : c) {
      if (o.partition.partition == partition) out = o.next_offset;
    }
  }
  return out;
}

}  // namespace

TEST_CASE("offsets are committed after the batch is applied, and on stop", "[unit][sinks]") {
  scripted_source source;
  scripted_kind kind;
  std::atomic<bool> stop{false};
  source.stop_when_empty = &stop;
  source.add(0, 0, R"({"id":1})", event_json("c", 1, "0/10", 0));
  source.add(1, 5, R"({"id":2})", event_json("c", 2, "0/10", 1));
  source.add(0, 1, R"({"id":1})", event_json("u", 1, "0/20", 0));
  sink_runtime runtime(options(), source, kind, nullptr);
  auto outcome = runtime.run(stop);
  CHECK(outcome.result == run_outcome::status::stopped);
  CHECK(kind.applied_offsets() == std::vector<std::int64_t>{0, 5, 1});
  CHECK(last_commit(source, 0) == 2);
  CHECK(last_commit(source, 1) == 6);
  CHECK(outcome.events_applied == 3);
}

TEST_CASE("a batch that is due still ends at a transaction boundary", "[unit][sinks]") {
  scripted_source source;
  scripted_kind kind;
  std::atomic<bool> stop{false};
  source.stop_when_empty = &stop;
  for (int seq = 0; seq < 3; ++seq) {
    source.add(0, seq, R"({"id":1})", event_json("u", 1, "0/10", seq));
  }
  source.add(0, 3, R"({"id":1})", event_json("u", 1, "0/20", 0));
  auto o = options();
  o.max_batch_events = 1;
  sink_runtime runtime(o, source, kind, nullptr);
  (void)runtime.run(stop);
  REQUIRE(kind.batches.size() == 2);
  CHECK(kind.batches[0].size() == 3);
  CHECK(kind.batches[1].size() == 1);
}

TEST_CASE("while a batch is applied, the next one grows past max_batch_events", "[unit][sinks]") {
  // The kind holds its first batch until the source has handed out every record.
  class held_kind : public scripted_kind {
   public:
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    std::expected<apply_stats, apply_error> apply(
        std::span<const sink_event> events, const std::vector<partition_offset>& offsets) override {
      // The bound only keeps a regression from hanging the suite; nothing is timed.
      if (batches.empty()) released.wait_for(std::chrono::seconds(30));
      return scripted_kind::apply(events, offsets);
    }
  };
  scripted_source source;
  held_kind kind;
  std::atomic<bool> stop{false};
  source.stop_when_empty = &stop;
  for (int id = 1; id <= 10; ++id) {
    source.add(0, id, R"({"id":)" + std::to_string(id) + "}",
               event_json("c", id, "0/" + std::to_string(id * 16), 0));
  }
  bool released = false;
  source.before_poll = [&] {
    if (source.records.empty() && !released) {
      released = true;
      kind.release.set_value();
    }
  };
  auto o = options();
  o.overlap = true;
  o.max_batch_events = 2;
  o.hard_cap = 12;
  sink_runtime runtime(o, source, kind, nullptr);
  (void)runtime.run(stop);
  REQUIRE(kind.batches.size() == 2);
  CHECK(kind.batches[0].size() == 1);  // due at once (linger 0), then held by the kind
  CHECK(kind.batches[1].size() == 9);  // everything read meanwhile, up to hard_cap
}

TEST_CASE("a tombstone right after its delete carries the delete's position", "[unit][sinks]") {
  scripted_source source;
  scripted_kind kind;
  std::atomic<bool> stop{false};
  source.stop_when_empty = &stop;
  source.add(0, 0, R"({"id":1})", event_json("d", 1, "0/10", 4));
  source.add(0, 1, R"({"id":1})", std::nullopt);
  source.add(0, 2, R"({"id":2})", std::nullopt);
  sink_runtime runtime(options(), source, kind, nullptr);
  (void)runtime.run(stop);
  REQUIRE(kind.batches.size() == 1);
  const auto& b = kind.batches[0];
  REQUIRE(b.size() == 3);
  CHECK(b[1].is_tombstone());
  CHECK(b[1].table == "public.t");
  REQUIRE(b[1].tombstone_of);
  CHECK(b[1].tombstone_of->seq == 4);
  CHECK_FALSE(b[2].tombstone_of);
}

TEST_CASE("a malformed record stops the worker exactly there", "[unit][sinks]") {
  scripted_source source;
  scripted_kind kind;
  std::atomic<bool> stop{false};
  source.add(0, 0, R"({"id":1})", event_json("c", 1, "0/10", 0));
  source.add(1, 0, R"({"id":2})", event_json("c", 2, "0/10", 1));
  source.add(0, 1, R"({"id":3})", "{not json");
  source.add(0, 2, R"({"id":4})", event_json("c", 4, "0/20", 0));
  sink_runtime runtime(options(), source, kind, nullptr);
  auto outcome = runtime.run(stop);
  CHECK(outcome.result == run_outcome::status::bad_event);
  CHECK_THAT(outcome.message, Catch::StartsWith("sink cache: cannot apply t[0]@1: "));
  CHECK(kind.applied_offsets() == std::vector<std::int64_t>{0, 0});
  CHECK(last_commit(source, 0) == 1);  // up to the bad record, not past it
  CHECK(last_commit(source, 1) == 1);
  CHECK(source.records.size() == 1);  // nothing after it was read
}

TEST_CASE("with dead_letter, the bad record goes to the queue and the rest is applied",
          "[unit][sinks]") {
  scripted_source source;
  scripted_kind kind;
  recording_dlq dlq;
  std::atomic<bool> stop{false};
  source.stop_when_empty = &stop;
  source.add(0, 0, R"({"id":1})", event_json("c", 1, "0/10", 0));
  source.add(0, 1, "not a key", event_json("c", 3, "0/10", 1));
  source.add(0, 2, R"({"id":4})", event_json("c", 4, "0/20", 0));
  source.add(0, 3, R"({"id":5})", event_json("c", 5, "0/30", 0));
  kind.refuse_offset = 3;  // rejected by the sink kind, not by decoding
  auto o = options();
  o.on_error = on_bad_event::dead_letter;
  sink_runtime runtime(o, source, kind, &dlq);
  auto outcome = runtime.run(stop);
  CHECK(outcome.result == run_outcome::status::stopped);
  CHECK(kind.applied_offsets() == std::vector<std::int64_t>{0, 2});
  REQUIRE(dlq.sent.size() == 2);
  CHECK(dlq.sent[0].first.offset == 1);
  CHECK_THAT(dlq.sent[0].second, Catch::Contains("record key"));
  CHECK(dlq.sent[1].first.offset == 3);
  CHECK(dlq.sent[1].second == "refused");
  CHECK(last_commit(source, 0) == 4);
  CHECK(outcome.dead_lettered == 2);
}

TEST_CASE("a target that is down is retried, and nothing is committed meanwhile", "[unit][sinks]") {
  scripted_source source;
  scripted_kind kind;
  std::atomic<bool> stop{false};
  source.before_poll = [&] {
    if (!kind.batches.empty()) stop = true;
  };
  source.add(0, 0, R"({"id":1})", event_json("c", 1, "0/10", 0));
  kind.failures_left = 3;
  sink_runtime runtime(options(), source, kind, nullptr);
  auto outcome = runtime.run(stop);
  CHECK(outcome.result == run_outcome::status::stopped);
  CHECK(kind.batches.size() == 1);
  CHECK(source.commits.size() == 1);
}

TEST_CASE("a stop while the target is down commits nothing and fails", "[unit][sinks]") {
  scripted_source source;
  scripted_kind kind;
  std::atomic<bool> stop{false};
  source.add(0, 0, R"({"id":1})", event_json("c", 1, "0/10", 0));
  kind.failures_left = 1000000;
  source.before_poll = [&] {
    if (source.records.empty()) stop = true;
  };
  sink_runtime runtime(options(), source, kind, nullptr);
  auto outcome = runtime.run(stop);
  CHECK(outcome.result == run_outcome::status::failed);
  CHECK(source.commits.empty());
}

TEST_CASE("revocation applies and commits the pending batch first", "[unit][sinks]") {
  scripted_source source;
  scripted_kind kind;
  std::atomic<bool> stop{false};
  auto o = options();
  o.linger = std::chrono::hours(1);
  o.max_batch_events = 100;
  source.add(0, 0, R"({"id":1})", event_json("c", 1, "0/10", 0));
  source.add(0, 1, R"({"id":2})", event_json("c", 2, "0/10", 1));
  int polls = 0;
  source.before_poll = [&] {
    if (++polls == 4) {
      source.handler->on_revoked({{"t", 0}});
      CHECK(kind.batches.size() == 1);
      CHECK(last_commit(source, 0) == 2);
      stop = true;
    }
  };
  sink_runtime runtime(o, source, kind, nullptr);
  (void)runtime.run(stop);
  CHECK(kind.applied_offsets() == std::vector<std::int64_t>{0, 1});
}

TEST_CASE("events reach the kind as decoded afresh, though the runtime reuses their memory",
          "[unit][sinks]") {
  // Small batches, so events are recycled many times over: creates with rows of other sizes,
  // deletes, tombstones with and without their delete, truncates, keys of other shapes, and
  // bad records in between (dead-lettered) must not leave anything behind in a reused event.
  // A transaction on partition 1 starts in the middle of each one on partition 0, so batches
  // also hold both partitions, in either order.
  scripted_source source;
  scripted_kind kind;
  recording_dlq dlq;
  std::atomic<bool> stop{false};
  source.stop_when_empty = &stop;
  const std::string wide_row =
      R"({"id":9,"name":"a name long enough to be on the heap","n":null,"f":1.5,"j":[1,2]})";
  const auto wide = [&wide_row](int round) {
    return R"({"op":"c","before":null,"after":)" + wide_row +
           R"(,"unchanged":[],"source":{"connector":"sluice","version":"0.1.0","db":"d","schema":"public","table":"t","lsn":"0/1","commit_lsn":"1/)" +
           std::to_string(round) + R"(","seq":0,"txId":7,"ts_ms":1,"snapshot":true},"ts_ms":2})";
  };
  std::int64_t offset = 0;
  std::int64_t offset_1 = 0;
  for (int round = 0; round < 20; ++round) {
    const std::string lsn = "0/" + std::to_string(100 + round);
    source.add(0, offset++, R"({"id":1})", event_json("c", 1, lsn, 0));
    source.add(0, offset++, R"({"id":1})", event_json("d", 1, lsn, 1));
    source.add(1, offset_1++, R"({"id":9})", wide(round));
    source.add(0, offset++, R"({"id":1})", std::nullopt);
    source.add(0, offset++, R"({"id":2})", std::nullopt);
    source.add(
        0, offset++, "{}",
        R"({"op":"t","before":null,"after":null,"unchanged":[],"source":{"connector":"sluice","version":"0.1.0","db":"d","schema":"public","table":"t","lsn":"0/1","commit_lsn":")" +
            lsn + R"(","seq":2,"txId":7,"ts_ms":1,"snapshot":false},"ts_ms":2})");
    if (round % 3 == 0) source.add(0, offset++, R"({"id":3})", "{not json");
    source.add(0, offset++, R"({"id":"a key long enough to be on the heap"})",
               event_json("u", 4, lsn, 3));
  }
  std::map<std::pair<int, std::int64_t>, source_record> sent;
  for (const auto& r : source.records) sent[{r.partition, r.offset}] = r;
  auto o = options();
  o.max_batch_events = 3;
  o.on_error = on_bad_event::dead_letter;
  o.overlap = GENERATE(true, false);
  sink_runtime runtime(o, source, kind, &dlq);
  auto outcome = runtime.run(stop);
  CHECK(outcome.result == run_outcome::status::stopped);
  CHECK(dlq.sent.size() == 7);

  std::size_t seen = 0;
  std::optional<schemas::position> last_delete;
  for (std::size_t b = 0; b < kind.batches.size(); ++b) {
    const auto& batch = kind.batches[b];
    std::map<int, std::int64_t> next;  // the offsets the kind must have been given
    for (const auto& e : batch) next[e.record.partition] = e.record.offset + 1;
    std::vector<partition_offset> expected;
    for (const auto& [p, n] : next) expected.push_back({{"t", p}, n});
    CHECK(kind.offsets_seen[b] == expected);
    for (const auto& e : batch) {
      INFO("partition " << e.record.partition << " offset " << e.record.offset);
      const auto& r = sent.at({e.record.partition, e.record.offset});
      CHECK(e.record.key == r.key);
      CHECK(e.record.value == r.value);
      CHECK(e.key == *schemas::decode_key(r.key));
      if (r.value) {
        const auto change = schemas::decode_event(*r.value);
        REQUIRE(e.change);
        CHECK(*e.change == *change);
        CHECK(e.table == "public.t");
        CHECK_FALSE(e.tombstone_of);
        if (change->op == schemas::op::remove) last_delete = change->source.pos();
      } else {
        CHECK_FALSE(e.change);
        CHECK(e.table == "public.t");
        // Only the tombstone of id 1 comes right after its delete.
        if (r.key == R"({"id":1})") {
          CHECK(e.tombstone_of == last_delete);
        } else {
          CHECK_FALSE(e.tombstone_of);
        }
      }
      ++seen;
    }
  }
  CHECK(seen == sent.size() - dlq.sent.size());
}
