// Snapshots against the real services: existing rows reach Kafka beside the stream, and the
// latest state per key in the topic equals the table, however writes interleave.
#include <catch2/catch.hpp>
#include <csignal>
#include <pqxx/pqxx>
#include <random>
#include <thread>

#include "support/harness.hpp"
#include "support/services.hpp"

using namespace sluice;
using test::sql;

namespace {

/// Random inserts, updates and deletes on public.table (id int key, v text, n int, flag bool,
/// at timestamp) until `stop`; ids above `existing` are new rows.
void churn(const std::string& name, int existing, const std::atomic<bool>& stop, int seed) {
  const std::string table = "public." + name;
  pqxx::connection conn(test::pg_dsn());
  std::mt19937 rng(static_cast<std::uint32_t>(seed));
  int next_id = existing + 1 + seed * 1'000'000;
  while (!stop) {
    pqxx::work tx(conn);
    for (int i = 0; i < 10; ++i) {
      const int id = 1 + static_cast<int>(rng() % static_cast<unsigned>(existing));
      switch (rng() % 3) {
        case 0:
          tx.exec("UPDATE " + table +
                  " SET v = md5(random()::text), n = n + 1, flag = NOT flag WHERE id = " +
                  std::to_string(id));
          break;
        case 1:
          tx.exec("DELETE FROM " + table + " WHERE id = " + std::to_string(id));
          break;
        default:
          tx.exec("INSERT INTO " + table + " VALUES (" + std::to_string(next_id++) +
                  ", 'new', 0, true, now()::timestamp)");
      }
    }
    tx.commit();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

/// Writes from a thread until destroyed (also when an assertion ends the test early).
class churner {
 public:
  churner(const std::string& name, int existing, int seed)
      : thread_([=, this] { churn(name, existing, stop_, seed); }) {}
  ~churner() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

void create_table(const std::string& name, int rows) {
  const std::string table = "public." + name;
  sql("CREATE TABLE " + table +
      " (id int PRIMARY KEY, v text, n int, flag bool, at timestamp);"
      "INSERT INTO " +
      table +
      " SELECT i, md5(i::text), i % 100, i % 2 = 0, "
      "'2024-01-01'::timestamp + i * interval '1 second' FROM generate_series(1, " +
      std::to_string(rows) + ") i; ANALYZE " + table);
}

/// Reads the topic until the latest state per key equals the table (or the safety net ends).
void check_topic_equals_table(const std::string& topic, const std::string& name,
                              const std::vector<std::string>& keys = {"id"}) {
  const auto expected = test::table_rows("public." + name, keys);
  auto records = test::read_topics(
      {topic}, [&](const auto& r) { return test::latest_per_key(r).size() >= expected.size(); },
      std::chrono::milliseconds(3000));
  const auto actual = test::latest_per_key(records);
  CHECK(actual.size() == expected.size());
  std::size_t mismatches = 0;
  for (const auto& [key, row] : expected) {
    auto it = actual.find(key);
    if (it == actual.end() || it->second != row) {
      if (++mismatches <= 5) {
        UNSCOPED_INFO(
            "key " << key << ": table " << row.dump() << " topic "
                   << (it == actual.end() ? std::string("(missing)") : it->second.dump()));
      }
    }
  }
  CHECK(mismatches == 0);
}

std::int64_t snapshot_rows_done(const std::string& slot) {
  const std::string v = test::sql_value(
      "SELECT coalesce(sum(rows_done), 0) FROM sluice.snapshot_requests WHERE slot = '" + slot +
      "'");
  return v.empty() ? 0 : std::stoll(v);
}

bool snapshot_done(const std::string& slot) {
  return test::sql_value(
             "SELECT count(*) FILTER (WHERE state <> 'done') = 0 AND count(*) > 0 "
             "FROM sluice.snapshot_requests WHERE slot = '" +
             slot + "'") == "t";
}

void wait_snapshot_done(const std::string& slot) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::minutes(5);
  while (!snapshot_done(slot) && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  REQUIRE(snapshot_done(slot));
}

}  // namespace

TEST_CASE("an initial snapshot under concurrent writes ends equal to the tables",
          "[integration][snapshot]") {
  const std::string name = test::unique_name("snap_init");
  const std::string big = name + "_big", small = name + "_small";
  create_table(big, 200'000);
  create_table(small, 5'000);
  test::pipeline_spec spec(name, {"public." + big, "public." + small});
  spec.snapshot = "initial";
  const std::string file = test::write_pipeline(spec);

  churner writer_big(big, 200'000, 1);
  churner writer_small(small, 5'000, 2);
  test::child_process capture(test::capture_args(file, test::scratch_dir() + "/" + name),
                              test::scratch_dir() + "/" + name + ".log");
  REQUIRE(capture.wait_for_log("streaming"));
  wait_snapshot_done(spec.slot());
  std::this_thread::sleep_for(std::chrono::seconds(1));  // writes go on after the snapshot too
  writer_big.stop();
  writer_small.stop();

  check_topic_equals_table(spec.topic("public." + big), big);
  check_topic_equals_table(spec.topic("public." + small), small);
  CHECK(snapshot_rows_done(spec.slot()) >= 200'000);
  capture.signal(SIGTERM);
  CHECK(capture.wait() == 0);
  test::drop_slot(spec.slot());
}

TEST_CASE("a snapshot killed half-way resumes without re-reading finished chunks",
          "[integration][snapshot][fault]") {
  const std::string name = test::unique_name("snap_kill");
  const std::string table = name + "_t";
  create_table(table, 200'000);
  test::pipeline_spec spec(name, {"public." + table});
  spec.snapshot = "initial";
  spec.extra_source_yaml = "    snapshot_parallelism: 2\n";
  const std::string file = test::write_pipeline(spec);
  const std::string state = test::scratch_dir() + "/" + name;
  const std::string log = test::scratch_dir() + "/" + name + ".log";

  churner writer(table, 200'000, 3);
  std::int64_t done_at_kill = 0;
  {
    test::child_process capture(test::capture_args(file, state), log);
    REQUIRE(capture.wait_for_log("streaming"));
    const auto until = std::chrono::steady_clock::now() + std::chrono::minutes(5);
    while (snapshot_rows_done(spec.slot()) < 80'000 && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    capture.signal(SIGKILL);
    capture.wait();
    done_at_kill = snapshot_rows_done(spec.slot());
  }
  INFO("rows recorded done at the kill: " << done_at_kill);
  CHECK(done_at_kill >= 80'000);
  CHECK_FALSE(snapshot_done(spec.slot()));

  test::child_process capture(test::capture_args(file, state), log);
  wait_snapshot_done(spec.slot());
  writer.stop();
  check_topic_equals_table(spec.topic("public." + table), table);

  // Finished chunks were not read again. rows_done counts each recorded chunk once; the read
  // events in the topic (fewer where a row changed inside its chunk's window) exceed it only by
  // the chunks in flight at the kill: sent but not yet acknowledged and recorded, a few per
  // worker (2 workers x 4096 rows) -- not by the 80,000+ rows recorded before it.
  auto records =
      test::read_topics({spec.topic("public." + table)}, [](const auto&) { return true; });
  std::int64_t reads = 0;
  for (const auto& r : records) {
    if (r.value && r.value->find("\"op\":\"r\"") != std::string::npos) ++reads;
  }
  const std::int64_t rows_done = snapshot_rows_done(spec.slot());
  INFO("read events " << reads << ", rows recorded " << rows_done);
  CHECK(reads - rows_done <= 8 * 4096);
  CHECK(reads - rows_done < done_at_kill);
  capture.signal(SIGTERM);
  CHECK(capture.wait() == 0);
  test::drop_slot(spec.slot());
}

TEST_CASE("a snapshot goes on after its progress connection is dropped",
          "[integration][snapshot][fault]") {
  const std::string name = test::unique_name("snap_drop");
  const std::string table = name + "_t";
  create_table(table, 100'000);
  test::pipeline_spec spec(name, {"public." + table});
  spec.snapshot = "initial";
  spec.extra_source_yaml = "    snapshot_parallelism: 2\n";
  const std::string file = test::write_pipeline(spec);
  test::child_process capture(test::capture_args(file, test::scratch_dir() + "/" + name),
                              test::scratch_dir() + "/" + name + ".log");
  REQUIRE(capture.wait_for_log("streaming"));
  const auto until = std::chrono::steady_clock::now() + std::chrono::minutes(5);
  while (snapshot_rows_done(spec.slot()) < 20'000 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  REQUIRE_FALSE(snapshot_done(spec.slot()));
  // The connection that records chunks' progress goes away, as it would with a Postgres
  // restart or a network cut: capture must open another, not retry on the dead one forever.
  CHECK(test::sql_value("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE application_name = 'sluice snapshot progress'") == "1");
  wait_snapshot_done(spec.slot());
  check_topic_equals_table(spec.topic("public." + table), table);
  capture.signal(SIGTERM);
  CHECK(capture.wait() == 0);
  test::drop_slot(spec.slot());
}

TEST_CASE("an ad-hoc re-snapshot while writes continue brings the topic back to the table",
          "[integration][snapshot]") {
  const std::string name = test::unique_name("snap_adhoc");
  const std::string table = name + "_t";
  // The rows exist before the slot, and snapshot: never, so only a re-snapshot brings them.
  create_table(table, 30'000);
  test::pipeline_spec spec(name, {"public." + table});
  const std::string file = test::write_pipeline(spec);
  test::child_process capture(test::capture_args(file, test::scratch_dir() + "/" + name),
                              test::scratch_dir() + "/" + name + ".log");
  REQUIRE(capture.wait_for_log("streaming"));

  churner writer(table, 30'000, 4);
  auto r = test::run_sluice({"snapshot", "-c", file, "--tables", "public." + table});
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, Catch::Contains("snapshot done"));
  writer.stop();
  check_topic_equals_table(spec.topic("public." + table), table);
  capture.signal(SIGTERM);
  CHECK(capture.wait() == 0);
  test::drop_slot(spec.slot());
}

TEST_CASE("a table keyed by its replica-identity index snapshots correctly",
          "[integration][snapshot]") {
  const std::string name = test::unique_name("snap_ri");
  const std::string table = name + "_t";
  sql("CREATE TABLE public." + table +
      " (code text NOT NULL, v int);"
      "CREATE UNIQUE INDEX " +
      table + "_code ON public." + table +
      " (code);"
      "ALTER TABLE public." +
      table + " REPLICA IDENTITY USING INDEX " + table +
      "_code;"
      "INSERT INTO public." +
      table + " SELECT 'code-' || i, i FROM generate_series(1, 10000) i");
  test::pipeline_spec spec(name, {"public." + table});
  spec.snapshot = "initial";
  const std::string file = test::write_pipeline(spec);
  test::child_process capture(test::capture_args(file, test::scratch_dir() + "/" + name),
                              test::scratch_dir() + "/" + name + ".log");
  REQUIRE(capture.wait_for_log("streaming"));
  wait_snapshot_done(spec.slot());
  sql("UPDATE public." + table +
      " SET v = -v WHERE v % 7 = 0;"
      "DELETE FROM public." +
      table + " WHERE v % 11 = 0");
  check_topic_equals_table(spec.topic("public." + table), table, {"code"});
  capture.signal(SIGTERM);
  CHECK(capture.wait() == 0);
  test::drop_slot(spec.slot());
}

TEST_CASE("a key whose index lists its columns out of table order gets the stream's Kafka key",
          "[integration][snapshot]") {
  const std::string name = test::unique_name("snap_ck");
  const std::string table = name + "_t";
  // The primary key's index is (b, a); the stream writes keys in table order: {"a":..,"b":..}.
  sql("CREATE TABLE public." + table +
      " (a int NOT NULL, b int NOT NULL, v int, PRIMARY KEY (b, a));"
      "INSERT INTO public." +
      table + " SELECT i % 100, i / 100, i FROM generate_series(1, 5000) i");
  test::pipeline_spec spec(name, {"public." + table});
  spec.snapshot = "initial";
  const std::string file = test::write_pipeline(spec);
  test::child_process capture(test::capture_args(file, test::scratch_dir() + "/" + name),
                              test::scratch_dir() + "/" + name + ".log");
  REQUIRE(capture.wait_for_log("streaming"));
  wait_snapshot_done(spec.slot());
  // Streamed changes of snapshotted rows must replace them under the same key.
  sql("UPDATE public." + table + " SET v = -v WHERE v % 7 = 0;" + "DELETE FROM public." + table +
      " WHERE v % 11 = 0");
  check_topic_equals_table(spec.topic("public." + table), table, {"a", "b"});
  capture.signal(SIGTERM);
  CHECK(capture.wait() == 0);
  test::drop_slot(spec.slot());
}
