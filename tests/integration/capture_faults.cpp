// Capture under faults and bad input: kill -9, a Kafka outage, a dropped slot, schema changes
// while streaming, and configurations that must fail with one clear line.
#include <catch2/catch.hpp>
#include <csignal>
#include <cstdlib>
#include <map>
#include <pqxx/pqxx>
#include <set>
#include <thread>

#include "sluice/schemas/codec.hpp"
#include "support/harness.hpp"
#include "support/services.hpp"

using namespace sluice;
using test::sql;

namespace {

/// A row version: (id, v). The workload records every version it committed.
using version = std::pair<std::int64_t, std::int64_t>;

/// Commits `transactions` transactions of 8 inserts and 2 updates each into `table` (id, v),
/// pausing `pause` between transactions. Returns every committed row version.
std::vector<version> run_workload(const std::string& table, int transactions,
                                  std::chrono::milliseconds pause) {
  pqxx::connection conn(test::pg_dsn());
  std::vector<version> committed;
  std::map<std::int64_t, std::int64_t> current;
  std::int64_t next_id = 1;
  for (int t = 0; t < transactions; ++t) {
    std::vector<version> txn;
    std::string statement = "INSERT INTO " + table + " (id, v) VALUES ";
    for (int i = 0; i < 8; ++i) {
      statement += (i ? ", (" : "(") + std::to_string(next_id) + ", 0)";
      txn.emplace_back(next_id, 0);
      ++next_id;
    }
    statement += ";";
    for (int i = 0; i < 2 && next_id > 10; ++i) {
      const std::int64_t id = 1 + (t * 7 + i * 13) % (next_id - 9);
      const std::int64_t v = current.count(id) ? current[id] + 1 : 1;
      statement += "UPDATE " + table + " SET v = " + std::to_string(v) +
                   " WHERE id = " + std::to_string(id) + ";";
      txn.emplace_back(id, v);
      current[id] = v;
    }
    pqxx::work tx(conn);
    tx.exec(statement);
    tx.commit();
    committed.insert(committed.end(), txn.begin(), txn.end());
    if (pause.count() > 0) std::this_thread::sleep_for(pause);
  }
  return committed;
}

/// Checks that every committed version is in the topic, and that duplicates (from resending
/// after a crash) carry the same position as their first copy.
void check_every_version_arrived(const std::vector<transport::kafka_record>& records,
                                 const std::vector<version>& committed) {
  std::map<version, schemas::position> seen;
  std::size_t duplicates = 0;
  for (const auto& r : records) {
    if (!r.value) continue;
    auto e = schemas::decode_event(*r.value);
    REQUIRE(e);
    REQUIRE(e->after);
    const version ver{std::get<std::int64_t>(*e->after->find("id")),
                      std::get<std::int64_t>(*e->after->find("v"))};
    auto [it, inserted] = seen.emplace(ver, e->source.pos());
    if (!inserted) {
      ++duplicates;
      CHECK(it->second == e->source.pos());
    }
  }
  std::size_t missing = 0;
  for (const auto& v : committed) missing += seen.count(v) == 0 ? 1 : 0;
  INFO("duplicates: " << duplicates);
  CHECK(missing == 0);
  CHECK(seen.size() == std::set<version>(committed.begin(), committed.end()).size());
}

int services(const std::string& args) {
  const std::string cmd = std::string(SLUICE_SOURCE_DIR) + "/scripts/services.sh " + args;
  return std::system(cmd.c_str());
}

std::string confirmed_flush_lsn(const std::string& slot) {
  return test::sql_value(
      "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '" + slot + "'");
}

}  // namespace

TEST_CASE("kill -9 during a 100,000-change workload loses nothing",
          "[integration][capture][fault]") {
  const std::string name = test::unique_name("cap_kill");
  sql("CREATE TABLE public." + name + " (id bigint PRIMARY KEY, v bigint NOT NULL)");
  test::pipeline_spec spec(name, {"public." + name}, 3);
  const std::string file = test::write_pipeline(spec);
  const std::string state = test::scratch_dir() + "/" + name;
  const std::string log = test::scratch_dir() + "/" + name + ".log";

  auto capture = std::make_unique<test::child_process>(test::capture_args(file, state), log);
  REQUIRE(capture->wait_for_log("streaming"));
  std::vector<version> committed;
  std::thread workload(
      [&] { committed = run_workload(name, 10'000, std::chrono::milliseconds(0)); });

  // Kill at several points while the workload runs, restarting each time.
  for (int round = 0; round < 3; ++round) {
    std::this_thread::sleep_for(std::chrono::seconds(3 + round));
    capture->signal(SIGKILL);
    CHECK(capture->wait() == 128 + SIGKILL);
    capture = std::make_unique<test::child_process>(test::capture_args(file, state), log);
  }
  workload.join();
  REQUIRE(committed.size() == 100'000 - 2);  // the first transaction has nothing to update

  const std::size_t expected = committed.size();
  auto records = test::read_topics(
      {spec.topic("public." + name)}, [&](const auto& r) { return r.size() >= expected; },
      std::chrono::milliseconds(3000));
  capture->signal(SIGTERM);
  CHECK(capture->wait() == 0);
  check_every_version_arrived(records, committed);
  test::drop_slot(spec.slot());
}

TEST_CASE("while Kafka is down the slot is not confirmed, and nothing is lost after",
          "[integration][capture][fault]") {
  const std::string name = test::unique_name("cap_kafka_down");
  sql("CREATE TABLE public." + name + " (id bigint PRIMARY KEY, v bigint NOT NULL)");
  test::pipeline_spec spec(name, {"public." + name});
  const std::string file = test::write_pipeline(spec);
  test::child_process capture(test::capture_args(file, test::scratch_dir() + "/" + name),
                              test::scratch_dir() + "/" + name + ".log");
  REQUIRE(capture.wait_for_log("streaming"));

  std::vector<version> committed;
  std::thread workload(
      [&] { committed = run_workload(name, 3000, std::chrono::milliseconds(15)); });
  // A failed REQUIRE below must not leave the thread running (std::terminate).
  struct joiner {
    std::thread& t;
    ~joiner() {
      if (t.joinable()) t.join();
    }
  } join_workload{workload};
  std::this_thread::sleep_for(std::chrono::seconds(3));
  REQUIRE(services("stop kafka") == 0);
  // services.sh stops only the Kafka this checkout started: make sure the broker is really gone.
  REQUIRE(std::system(("kcat -b " + test::kafka_brokers() + " -L -m 3 >/dev/null 2>&1").c_str()) !=
          0);
  // Acknowledgements already on their way may still land: let one status interval pass.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  const std::string frozen = confirmed_flush_lsn(spec.slot());
  for (int i = 0; i < 15; ++i) {
    std::this_thread::sleep_for(std::chrono::seconds(2));
    CHECK(confirmed_flush_lsn(spec.slot()) == frozen);
  }
  REQUIRE(services("start kafka") == 0);
  workload.join();

  const std::size_t expected = committed.size();
  auto records = test::read_topics({spec.topic("public." + name)},
                                   [&](const auto& r) { return r.size() >= expected; });
  check_every_version_arrived(records, committed);
  // Once everything is acknowledged, the slot moves past the outage.
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (confirmed_flush_lsn(spec.slot()) == frozen && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  CHECK(confirmed_flush_lsn(spec.slot()) != frozen);
  capture.signal(SIGTERM);
  CHECK(capture.wait() == 0);
  test::drop_slot(spec.slot());
}

TEST_CASE("a slot dropped while capture is down stops capture from starting",
          "[integration][capture][fault]") {
  const std::string name = test::unique_name("cap_slot_drop");
  sql("CREATE TABLE public." + name + " (id int PRIMARY KEY)");
  test::pipeline_spec spec(name, {"public." + name});
  const std::string file = test::write_pipeline(spec);
  const std::string state = test::scratch_dir() + "/" + name;
  {
    test::child_process capture(test::capture_args(file, state),
                                test::scratch_dir() + "/" + name + ".log");
    REQUIRE(capture.wait_for_log("streaming"));
    capture.signal(SIGTERM);
    REQUIRE(capture.wait() == 0);
  }
  test::drop_slot(spec.slot());

  auto refused = test::run_sluice({"capture", "-c", file, "--state-dir", state});
  CHECK(refused.exit_code == 69);
  CHECK_THAT(refused.output,
             Catch::Contains("replication slot " + spec.slot() + " does not exist"));
  CHECK_THAT(refused.output, Catch::Contains("--accept-slot-reset"));
  CHECK(confirmed_flush_lsn(spec.slot()).empty());  // and it did not recreate the slot

  // Someone recreates the slot: its position is now ahead of what capture confirmed.
  sql("INSERT INTO " + name + " VALUES (1)");
  test::sql_value("SELECT pg_create_logical_replication_slot('" + spec.slot() + "', 'pgoutput')");
  auto ahead = test::run_sluice({"capture", "-c", file, "--state-dir", state});
  CHECK(ahead.exit_code == 69);
  CHECK_THAT(ahead.output, Catch::Contains("ahead of what capture last confirmed"));
  test::drop_slot(spec.slot());
}

TEST_CASE("columns added, renamed and dropped while capture runs shape later events",
          "[integration][capture]") {
  const std::string name = test::unique_name("cap_ddl");
  sql("CREATE TABLE public." + name + " (id int PRIMARY KEY, name text)");
  test::pipeline_spec spec(name, {"public." + name});
  const std::string file = test::write_pipeline(spec);
  test::child_process capture(test::capture_args(file, test::scratch_dir() + "/" + name),
                              test::scratch_dir() + "/" + name + ".log");
  REQUIRE(capture.wait_for_log("streaming"));

  sql("INSERT INTO " + name + " VALUES (1, 'one')");
  sql("ALTER TABLE " + name + " ADD COLUMN extra text; INSERT INTO " + name +
      " VALUES (2, 'two', 'x')");
  sql("ALTER TABLE " + name + " RENAME COLUMN extra TO renamed; INSERT INTO " + name +
      " VALUES (3, 'three', 'y')");
  sql("ALTER TABLE " + name + " DROP COLUMN name; INSERT INTO " + name + " VALUES (4, 'z')");

  auto records = test::read_topics({spec.topic("public." + name)},
                                   [](const auto& r) { return r.size() >= 4; });
  auto changes = test::read_topics({spec.prefix() + ".schema_changes"},
                                   [](const auto& r) { return r.size() >= 3; });
  capture.signal(SIGTERM);
  CHECK(capture.wait() == 0);
  REQUIRE(records.size() == 4);
  auto columns_of = [](const transport::kafka_record& r) {
    std::vector<std::string> names;
    const auto event = nlohmann::json::parse(*r.value);
    for (const auto& [column, value] : event["after"].items()) names.push_back(column);
    return names;
  };
  CHECK(columns_of(records[0]) == std::vector<std::string>{"id", "name"});
  CHECK(columns_of(records[1]) == std::vector<std::string>{"extra", "id", "name"});
  CHECK(columns_of(records[2]) == std::vector<std::string>{"id", "name", "renamed"});
  CHECK(columns_of(records[3]) == std::vector<std::string>{"id", "renamed"});
  CHECK(nlohmann::json::parse(*records[3].value)["after"]["renamed"] == "z");
  CHECK(changes.size() == 3);
  CHECK(nlohmann::json::parse(*changes.back().value)["table"] == name);
  test::drop_slot(spec.slot());
}

TEST_CASE("bad sources fail with one clear line and no secret", "[integration][capture]") {
  const std::string name = test::unique_name("cap_bad");

  SECTION("a table that does not exist") {
    test::pipeline_spec spec(name, {"public.no_such_table_" + name});
    auto r = test::run_sluice({"capture", "-c", test::write_pipeline(spec), "--state-dir",
                               test::scratch_dir() + "/" + name});
    CHECK(r.exit_code == 69);
    CHECK_THAT(r.output, Catch::Contains("table public.no_such_table_" + name + " does not exist"));
  }
  SECTION("a table with neither primary key nor replica-identity index") {
    sql("CREATE TABLE public." + name + " (a int, b text)");
    test::pipeline_spec spec(name, {"public." + name});
    auto r = test::run_sluice({"capture", "-c", test::write_pipeline(spec), "--state-dir",
                               test::scratch_dir() + "/" + name});
    CHECK(r.exit_code == 69);
    CHECK_THAT(r.output,
               Catch::Contains("public." + name +
                               " has neither a primary key nor a replica-identity index"));
    CHECK_THAT(r.output, Catch::Contains("REPLICA IDENTITY USING INDEX"));
  }
  SECTION("a wrong password") {
    test::pipeline_spec spec(name, {"public.whatever"});
    spec.dsn = "postgresql://sluice:hunter2-not-the-password@127.0.0.1:55432/sluice";
    auto r = test::run_sluice({"capture", "-c", test::write_pipeline(spec), "--state-dir",
                               test::scratch_dir() + "/" + name});
    CHECK(r.exit_code == 69);
    CHECK_THAT(r.output, Catch::Contains("password authentication failed"));
    CHECK(r.output.find("hunter2") == std::string::npos);
  }
  SECTION("a server with wal_level=replica") {
    const std::string script =
        std::string(SLUICE_SOURCE_DIR) + "/tests/integration/replica_postgres.sh";
    const std::string dir = "/tmp/sluice-replica-" + name;
    REQUIRE(std::system((script + " start 55439 " + dir).c_str()) == 0);
    test::pipeline_spec spec(name, {"public.whatever"});
    spec.dsn = "postgresql://sluice@127.0.0.1:55439/postgres";
    auto r = test::run_sluice({"capture", "-c", test::write_pipeline(spec), "--state-dir",
                               test::scratch_dir() + "/" + name});
    std::system((script + " stop 55439 " + dir).c_str());
    CHECK(r.exit_code == 69);
    CHECK_THAT(r.output, Catch::Contains("wal_level=replica"));
  }
}
