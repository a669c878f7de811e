// Capture against the real Postgres and Kafka: the events a workload produces, their order,
// shape and positions.
#include <catch2/catch.hpp>
#include <csignal>
#include <map>
#include <set>

#include "sluice/schemas/codec.hpp"
#include "support/harness.hpp"
#include "support/json_schema.hpp"
#include "support/services.hpp"

using namespace sluice;
using test::sql;

namespace {

struct decoded {
  transport::kafka_record record;
  std::optional<schemas::change_event> event;  // nullopt for tombstones
};

std::vector<decoded> decode_all(const std::vector<transport::kafka_record>& records) {
  std::vector<decoded> out;
  for (const auto& r : records) {
    decoded d{r, std::nullopt};
    if (r.value) {
      INFO(*r.value);
      const auto errors = test::validate_event(nlohmann::json::parse(*r.value));
      CHECK(errors.empty());
      auto e = schemas::decode_event(*r.value);
      REQUIRE(e);
      d.event = std::move(*e);
    }
    out.push_back(std::move(d));
  }
  return out;
}

/// "c", "u", "d", "t" or "tombstone" per record, grouped by key, in Kafka order.
std::map<std::string, std::vector<std::string>> ops_by_key(const std::vector<decoded>& records) {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& d : records) {
    out[d.record.key].push_back(d.event ? std::string(1, static_cast<char>(d.event->op))
                                        : "tombstone");
  }
  return out;
}

}  // namespace

TEST_CASE("capture turns inserts, updates, key changes, deletes and truncates into events",
          "[integration][capture]") {
  const std::string name = test::unique_name("cap_events");
  const std::string a = name + "_a", b = name + "_b";
  sql("CREATE TABLE public." + a +
      " (id int PRIMARY KEY, name text, qty int);"
      "CREATE TABLE public." +
      b + " (code text PRIMARY KEY, price numeric(10,2));");
  test::pipeline_spec spec(name, {"public." + a, "public." + b}, 2);
  const std::string file = test::write_pipeline(spec);
  test::child_process capture(test::capture_args(file, test::scratch_dir() + "/" + name),
                              test::scratch_dir() + "/" + name + ".log");
  REQUIRE(capture.wait_for_log("streaming"));

  sql("INSERT INTO " + a +
      " VALUES (1, 'x', 1), (2, 'y', 2);"
      "INSERT INTO " +
      b + " VALUES ('k1', 1.50);");
  sql("UPDATE " + a +
      " SET qty = 10 WHERE id = 1;"
      "UPDATE " +
      a +
      " SET id = 3 WHERE id = 2;"  // a primary-key change
      "UPDATE " +
      b + " SET price = 2.50;");
  sql("DELETE FROM " + a + " WHERE id = 1; DELETE FROM " + b + " WHERE code = 'k1';");
  sql("INSERT INTO " + b + " VALUES ('k2', 3);");
  sql("TRUNCATE " + b + ";");

  auto a_records = decode_all(
      test::read_topics({spec.topic("public." + a)}, [](const auto& r) { return r.size() >= 8; }));
  auto b_records = decode_all(
      test::read_topics({spec.topic("public." + b)}, [](const auto& r) { return r.size() >= 7; }));
  capture.signal(SIGTERM);
  CHECK(capture.wait() == 0);

  // Per key, in commit order. The key change moves row 2 to key 3: delete + tombstone under
  // the old key, create under the new one.
  const auto a_ops = ops_by_key(a_records);
  CHECK(a_ops.at(R"({"id":1})") == std::vector<std::string>{"c", "u", "d", "tombstone"});
  CHECK(a_ops.at(R"({"id":2})") == std::vector<std::string>{"c", "d", "tombstone"});
  CHECK(a_ops.at(R"({"id":3})") == std::vector<std::string>{"c"});
  CHECK(a_records.size() == 8);

  const auto b_ops = ops_by_key(b_records);
  CHECK(b_ops.at(R"({"code":"k1"})") == std::vector<std::string>{"c", "u", "d", "tombstone"});
  CHECK(b_ops.at(R"({"code":"k2"})") == std::vector<std::string>{"c"});
  // The truncate is written to every partition, so each sink worker sees it.
  CHECK(b_ops.at("{}") == std::vector<std::string>{"t", "t"});
  std::set<int> truncate_partitions;
  for (const auto& d : b_records) {
    if (d.event && d.event->op == schemas::op::truncate)
      truncate_partitions.insert(d.record.partition);
  }
  CHECK(truncate_partitions == std::set<int>{0, 1});

  // Values and before-images.
  for (const auto& d : a_records) {
    if (!d.event) continue;
    const auto& e = *d.event;
    CHECK(e.source.table == a);
    CHECK(e.source.schema == "public");
    CHECK_FALSE(e.source.snapshot);
    if (e.op == schemas::op::update) {
      REQUIRE(e.after);
      CHECK(std::get<std::int64_t>(*e.after->find("qty")) == 10);
      CHECK(std::get<std::string>(*e.after->find("name")) == "x");
    }
    if (e.op == schemas::op::remove && d.record.key == R"({"id":2})") {
      // REPLICA IDENTITY DEFAULT: the old image holds the key columns only.
      REQUIRE(e.before);
      CHECK(e.before->columns.size() == 1);
      CHECK(std::get<std::int64_t>(*e.before->find("id")) == 2);
    }
  }
  for (const auto& d : b_records) {
    if (d.event && d.event->op == schemas::op::update) {
      CHECK(std::get<std::string>(*d.event->after->find("price")) == "2.50");
    }
  }

  // Positions: strictly increasing along each partition, one transaction = one commit_lsn
  // with seq 0, 1, 2... in order.
  std::map<std::pair<std::string, int>, schemas::position> last;
  std::map<std::string, std::vector<std::uint32_t>> seqs_by_commit;
  for (const auto* records : {&a_records, &b_records}) {
    for (const auto& d : *records) {
      if (!d.event) continue;
      const auto pos = d.event->source.pos();
      const auto k = std::make_pair(d.record.topic, d.record.partition);
      if (last.count(k) > 0) CHECK(last[k] < pos);
      last[k] = pos;
      seqs_by_commit[pos.commit_lsn.to_string()].push_back(pos.seq);
    }
  }
  CHECK(seqs_by_commit.size() == 5);  // five transactions
  test::drop_slot(spec.slot());
}

TEST_CASE("an unchanged TOASTed value is listed as unchanged, never sent as a placeholder",
          "[integration][capture]") {
  const std::string name = test::unique_name("cap_toast");
  sql("CREATE TABLE public." + name + " (id int PRIMARY KEY, status text, body text)");
  test::pipeline_spec spec(name, {"public." + name});
  const std::string file = test::write_pipeline(spec);
  test::child_process capture(test::capture_args(file, test::scratch_dir() + "/" + name),
                              test::scratch_dir() + "/" + name + ".log");
  REQUIRE(capture.wait_for_log("streaming"));

  // ~100 kB of hex digits compress poorly enough to be stored out of line.
  sql("INSERT INTO " + name +
      " SELECT 1, 'new', string_agg(md5(i::text || random()::text), '') "
      "FROM generate_series(1, 3200) i");
  sql("UPDATE " + name + " SET status = 'paid' WHERE id = 1");
  const std::string body = test::sql_value("SELECT body FROM " + name);
  REQUIRE(body.size() >= 100'000);
  CHECK(test::sql_value("SELECT pg_column_size(body) > 2000 FROM " + name) == "t");

  auto records = test::read_topics({spec.topic("public." + name)},
                                   [](const auto& r) { return r.size() >= 2; });
  capture.signal(SIGTERM);
  CHECK(capture.wait() == 0);
  REQUIRE(records.size() == 2);
  auto insert = schemas::decode_event(*records[0].value);
  auto update = schemas::decode_event(*records[1].value);
  REQUIRE(insert);
  REQUIRE(update);
  CHECK(std::get<std::string>(*insert->after->find("body")) == body);
  CHECK(update->op == schemas::op::update);
  CHECK(update->unchanged == std::vector<std::string>{"body"});
  CHECK(update->after->find("body") == nullptr);
  CHECK(std::get<std::string>(*update->after->find("status")) == "paid");
  // Nothing resembling a placeholder anywhere in the record.
  CHECK(records[1].value->find("unavailable") == std::string::npos);
  CHECK(records[1].value->size() < 2000);
  test::drop_slot(spec.slot());
}
