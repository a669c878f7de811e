// Replay into a shadow database while writes go on, in-place replay, bad records (stop, and
// dead letters), and `sluice status`: all as real processes against the real services.

#include <catch2/catch.hpp>
#include <csignal>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <random>
#include <thread>

#include "sluice/transport/kafka_producer.hpp"
#include "support/harness.hpp"
#include "support/services.hpp"
#include "support/sink_harness.hpp"

using namespace sluice;

namespace {

/// Rows of `table` (id bigint, v int, note text) as the hash sink holds them ("row:{id}").
std::map<std::string, test::redis_row> expected_rows(const std::string& table) {
  std::map<std::string, test::redis_row> out;
  for (const auto& r : test::sql_rows("SELECT id::text, v::text, note FROM " + table)) {
    test::redis_row row{{"id", *r[0]}, {"v", *r[1]}};
    if (r[2]) row["note"] = *r[2];
    out["row:" + *r[0]] = std::move(row);
  }
  return out;
}

std::string sink_yaml(const std::string& name, const std::string& url, const std::string& table,
                      const std::string& extra = "") {
  return "  " + name + ":\n    redis:\n      url: " + url + "\n      tables: [" + table +
         "]\n      key: \"row:{id}\"\n" + extra;
}

std::string converge(int database, const std::string& table) {
  return test::wait_until_converged(
      [&] { return test::diff_rows(expected_rows(table), test::read_redis_rows(database)); });
}

}  // namespace

TEST_CASE("replay rebuilds into a shadow database while writes go on, then switches",
          "[integration][sink][replay]") {
  const std::string name = test::unique_name("sink_replay");
  const std::string table = "public." + name;
  test::sql("CREATE TABLE " + table + " (id bigint PRIMARY KEY, v int NOT NULL, note text)");
  test::pipeline_spec spec(name, {table}, 3);
  const std::string file = test::write_pipeline(spec);
  test::redis_database live(name + "_live"), shadow(name + "_shadow");
  test::add_sinks(file, sink_yaml("cache", live.url(), table));
  const std::string dir = test::scratch_dir() + "/" + name;
  test::child_process capture(test::capture_args(file, dir), dir + ".capture.log");
  REQUIRE(capture.wait_for_log("streaming"));
  test::sql("INSERT INTO " + table +
            " SELECT g, g % 7, CASE WHEN g % 3 = 0 THEN NULL ELSE 'n' || g END "
            "FROM generate_series(1, 20000) g");
  test::child_process sink(test::sink_args(file, "cache"), dir + ".sink.log");
  REQUIRE(sink.wait_for_log("assigned"));
  CHECK(converge(live.number(), table).empty());

  // Something the rebuilt copy does not have: it must be gone after the switch.
  test::redis_command(live.number(), {"SET", "stale:marker", "from before the replay"});

  std::atomic<bool> writing{true};
  std::thread writer([&] {
    pqxx::connection conn(test::pg_dsn());
    std::mt19937 rng(7);
    std::int64_t next = 20001;
    while (writing) {
      pqxx::work tx(conn);
      tx.exec("UPDATE " + table +
              " SET v = v + 1, note = 'w' WHERE id = " + std::to_string(1 + rng() % 20000));
      tx.exec("INSERT INTO " + table + " VALUES (" + std::to_string(next++) + ", 1, NULL)");
      tx.exec("DELETE FROM " + table + " WHERE id = " + std::to_string(1 + rng() % 20000));
      tx.commit();
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  auto replay = test::run_sluice(
      {"replay", "cache", "-c", file, "--shadow-db", std::to_string(shadow.number())});
  // Writes continue for a moment after the switch: the live sink keeps serving.
  std::this_thread::sleep_for(std::chrono::seconds(1));
  writing = false;
  writer.join();
  INFO(replay.output);
  CHECK(replay.exit_code == 0);
  CHECK_THAT(replay.output, Catch::Contains("ETA"));
  CHECK_THAT(replay.output, Catch::Contains("switched: database " + std::to_string(live.number())));

  CHECK(converge(live.number(), table).empty());
  CHECK(test::redis_command(live.number(), {"EXISTS", "stale:marker"}) == "0");
  CHECK(test::redis_key_count(shadow.number()) == 0);  // the old copy is gone

  SECTION("--in-place clears and rebuilds the live database") {
    test::redis_command(live.number(), {"SET", "stale:marker", "again"});
    auto in_place = test::run_sluice({"replay", "cache", "-c", file, "--in-place"});
    INFO(in_place.output);
    CHECK(in_place.exit_code == 0);
    CHECK_THAT(in_place.output, Catch::Contains("rebuilt in place"));
    test::sql("UPDATE " + table + " SET v = 100 WHERE id % 10 = 0");
    CHECK(converge(live.number(), table).empty());
  }

  sink.signal(SIGTERM);
  CHECK(sink.wait() == 0);
  capture.signal(SIGTERM);
  CHECK(capture.wait() == 0);
  test::drop_slot(spec.slot());
}

TEST_CASE("a malformed record stops the sink where it is, or goes to the dead-letter topic",
          "[integration][sink]") {
  const std::string name = test::unique_name("sink_bad");
  const std::string table = "public." + name;
  test::sql("CREATE TABLE " + table + " (id bigint PRIMARY KEY, v int NOT NULL, note text)");
  test::pipeline_spec spec(name, {table}, 1);
  const std::string file = test::write_pipeline(spec);
  test::redis_database strict_db(name + "_strict"), lenient_db(name + "_lenient");
  test::add_sinks(file, sink_yaml("strict", strict_db.url(), table) +
                            sink_yaml("lenient", lenient_db.url(), table) +
                            "    on_error: dead_letter\n");
  const std::string dir = test::scratch_dir() + "/" + name;
  test::child_process capture(test::capture_args(file, dir), dir + ".capture.log");
  REQUIRE(capture.wait_for_log("streaming"));
  test::child_process strict(test::sink_args(file, "strict"), dir + ".strict.log");
  test::child_process lenient(test::sink_args(file, "lenient"), dir + ".lenient.log");
  REQUIRE(strict.wait_for_log("assigned"));
  REQUIRE(lenient.wait_for_log("assigned"));

  test::sql("INSERT INTO " + table + " SELECT g, g, 'before' FROM generate_series(1, 100) g");
  CHECK(converge(strict_db.number(), table).empty());
  const auto before_bad = expected_rows(table);

  // Two records no sink can apply, produced by hand: not JSON, and a key without the key column.
  const std::string topic = spec.topic(table);
  {
    std::atomic<int> acked{0};
    transport::kafka_producer producer({test::kafka_brokers(), {}},
                                       [&](std::uint64_t, auto err) { acked += err ? 0 : 1; });
    REQUIRE(producer.produce(topic, 0, R"({"id":999})", std::string_view("{not json"), 1));
    const std::string valid_event =
        R"({"op":"c","before":null,"after":{"other":1},"unchanged":[],"source":{"connector":"sluice","version":"0.1.0","db":"sluice","schema":"public","table":")" +
        name +
        R"(","lsn":"0/1","commit_lsn":"0/1","seq":0,"txId":1,"ts_ms":1,"snapshot":false},"ts_ms":1})";
    REQUIRE(producer.produce(topic, 0, R"({"other":1})", std::string_view(valid_event), 2));
    REQUIRE(producer.flush(30'000));
    REQUIRE(acked == 2);
  }
  test::sql("INSERT INTO " + table + " SELECT g, g, 'after' FROM generate_series(101, 200) g");

  auto records = test::read_topics({topic}, [](const auto& r) { return r.size() >= 202; });
  std::int64_t bad_offset = -1;
  for (const auto& r : records) {
    if (r.value && *r.value == "{not json") bad_offset = r.offset;
  }
  REQUIRE(bad_offset >= 0);

  // stop: exits naming topic, partition and offset; everything before it is applied.
  CHECK(strict.wait() == 65);
  CHECK_THAT(strict.log(),
             Catch::Contains("cannot apply " + topic + "[0]@" + std::to_string(bad_offset)));
  CHECK(test::diff_rows(before_bad, test::read_redis_rows(strict_db.number())).empty());

  // dead_letter: both records are in the DLQ topic with the error and origin; the rest converges.
  CHECK(converge(lenient_db.number(), table).empty());
  auto dead = test::read_topics({spec.prefix() + ".dlq.lenient"},
                                [](const auto& r) { return r.size() >= 2; });
  REQUIRE(dead.size() == 2);
  std::map<std::string, std::string> headers(dead[0].headers.begin(), dead[0].headers.end());
  CHECK(dead[0].value == std::optional<std::string>("{not json"));
  CHECK(headers["sluice.topic"] == topic);
  CHECK(headers["sluice.partition"] == "0");
  CHECK(headers["sluice.offset"] == std::to_string(bad_offset));
  CHECK_FALSE(headers["sluice.error"].empty());
  std::map<std::string, std::string> second(dead[1].headers.begin(), dead[1].headers.end());
  CHECK_THAT(second["sluice.error"], Catch::Contains("needs column 'id'"));

  // status: the stopped sink lags by what it could not apply; the other is caught up.
  auto status = test::run_sluice({"status", "-c", file, "--json"});
  INFO(status.output);
  REQUIRE(status.exit_code == 0);
  auto json = nlohmann::json::parse(status.output.substr(status.output.find('{')));
  CHECK(json["capture"]["state"] == "streaming");
  CHECK(json["capture"]["lag_bytes"].get<std::int64_t>() >= 0);
  CHECK(json["capture"].contains("lag_seconds"));
  for (const auto& s : json["sinks"]) {
    if (s["name"] == "strict") {
      CHECK(s["state"] == "stopped");
      CHECK(s["lag_messages"].get<std::int64_t>() >= 100);
      CHECK(s["lag_seconds"].get<double>() > 0);
    } else {
      CHECK(s["state"] == "running");
      CHECK(s["lag_messages"] == 0);
      CHECK(s["workers"] == 1);
    }
  }
  auto text = test::run_sluice({"status", "-c", file});
  CHECK_THAT(text.output,
             Catch::Contains("sink     lenient (redis): running (1 worker), lag 0 messages"));

  lenient.signal(SIGTERM);
  CHECK(lenient.wait() == 0);
  capture.signal(SIGTERM);
  CHECK(capture.wait() == 0);
  test::drop_slot(spec.slot());
}

TEST_CASE("status says Kafka cannot be reached and exits 69, and librdkafka logs in our format",
          "[integration][sink][status]") {
  const std::string name = test::unique_name("status_down");
  test::pipeline_spec spec(name, {"public." + name}, 1);
  spec.brokers = "127.0.0.1:1";  // nothing listens there: every Kafka request fails
  const std::string file = test::write_pipeline(spec);
  test::redis_database db(name);
  test::add_sinks(file, sink_yaml("cache", db.url(), "public." + name));
  auto status = test::run_sluice({"status", "-c", file, "--json"});
  INFO(status.output);
  CHECK(status.exit_code == 69);
  auto json = nlohmann::json::parse(status.output.substr(status.output.find("{\n")));
  REQUIRE(json["sinks"].size() == 1);
  CHECK(json["sinks"][0]["state"] == "unknown");
  CHECK_FALSE(json["sinks"][0]["error"].get<std::string>().empty());
  CHECK_FALSE(json["sinks"][0].contains("lag_messages"));
  CHECK_THAT(status.output, Catch::Contains("ERROR kafka: "));
  CHECK_THAT(status.output, !Catch::Contains("|rdkafka#"));
}

TEST_CASE("a write Redis fails inside the transaction stops the sink without passing the event",
          "[integration][sink]") {
  const std::string name = test::unique_name("sink_wrongtype");
  const std::string table = "public." + name;
  test::sql("CREATE TABLE " + table + " (id bigint PRIMARY KEY, v int NOT NULL, note text)");
  test::pipeline_spec spec(name, {table}, 1);
  const std::string file = test::write_pipeline(spec);
  test::redis_database db(name);
  test::add_sinks(file, sink_yaml("cache", db.url(), table));
  const std::string dir = test::scratch_dir() + "/" + name;
  test::child_process capture(test::capture_args(file, dir), dir + ".capture.log");
  REQUIRE(capture.wait_for_log("streaming"));
  auto sink =
      std::make_unique<test::child_process>(test::sink_args(file, "cache"), dir + ".sink.log");
  REQUIRE(sink->wait_for_log("assigned"));

  // Something else writes a string where the sink will write row 5's hash: HSET fails with
  // WRONGTYPE inside the batch's transaction, while the batch's other writes take effect.
  test::redis_command(db.number(), {"SET", "row:5", "not a hash"});
  test::sql("INSERT INTO " + table + " SELECT g, g, 'n' || g FROM generate_series(1, 10) g");
  // A sink that lost track would apply the batch again, find every position already written,
  // skip all ten and carry on without a word: it would never log the error.
  REQUIRE(sink->wait_for_log("WRONGTYPE"));
  const int code = sink->wait();
  const std::string log = sink->log();
  INFO(log);
  CHECK(code == 69);
  CHECK_THAT(log, Catch::Contains("WRONGTYPE"));
  CHECK_THAT(log, Catch::Contains("put back"));

  // Once the foreign key is gone, a restart applies row 5 too: nothing was passed over.
  test::redis_command(db.number(), {"DEL", "row:5"});
  sink = std::make_unique<test::child_process>(test::sink_args(file, "cache"), dir + ".sink2.log");
  REQUIRE(sink->wait_for_log("assigned"));
  CHECK(converge(db.number(), table).empty());

  sink->signal(SIGTERM);
  CHECK(sink->wait() == 0);
  capture.signal(SIGTERM);
  CHECK(capture.wait() == 0);
  test::drop_slot(spec.slot());
}
