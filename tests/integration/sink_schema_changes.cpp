// The Redis cache across schema changes: a column dropped from the table leaves the cached rows,
// also when the next update of a row keeps a TOASTed column (the sink then does not rewrite
// the row whole, so it must remove the dropped column's field by name).

#include <catch2/catch.hpp>
#include <csignal>

#include "support/harness.hpp"
#include "support/services.hpp"
#include "support/sink_harness.hpp"

using namespace sluice;

TEST_CASE("a dropped column leaves cached rows, also those whose update keeps a TOASTed value",
          "[integration][sink]") {
  const std::string name = test::unique_name("sink_ddl");
  const std::string table = "public." + name;
  // `big` is stored out of line (TOAST), so an update that does not touch it lists it as
  // unchanged instead of sending it.
  test::sql("CREATE TABLE " + table +
            " (id bigint PRIMARY KEY, v int NOT NULL, old_col text, big text)");
  test::sql("ALTER TABLE " + table + " ALTER COLUMN big SET STORAGE EXTERNAL");
  test::pipeline_spec spec(name, {table}, 1);
  const std::string file = test::write_pipeline(spec);
  test::redis_database db(name);
  test::add_sinks(file, "  cache:\n    redis:\n      url: " + db.url() + "\n      tables: [" +
                            table + "]\n      key: \"row:{id}\"\n");
  const std::string dir = test::scratch_dir() + "/" + name;
  test::child_process capture(test::capture_args(file, dir), dir + ".capture.log");
  REQUIRE(capture.wait_for_log("streaming"));
  test::child_process sink(test::sink_args(file, "cache"), dir + ".sink.log");
  REQUIRE(sink.wait_for_log("assigned"));

  test::sql("INSERT INTO " + table +
            " SELECT g, g, 'old ' || g, repeat('b' || g, 5000) FROM generate_series(1, 4) g");
  auto expected = [&] {
    std::map<std::string, test::redis_row> out;
    for (const auto& r : test::sql_rows("SELECT id::text, v::text, big FROM " + table)) {
      out["row:" + *r[0]] = {{"id", *r[0]}, {"v", *r[1]}, {"big", *r[2]}};
    }
    return out;
  };
  auto with_old_col = expected();
  for (auto& [key, row] : with_old_col) row["old_col"] = "old " + row["id"];
  CHECK(test::wait_until_converged([&] {
          return test::diff_rows(with_old_col, test::read_redis_rows(db.number()));
        }).empty());

  test::sql("ALTER TABLE " + table + " DROP COLUMN old_col");
  // Rows 1 and 2: updates that keep `big` (unchanged); row 3: rewritten whole; row 4: untouched,
  // so it still has the field until its next change (the sink learns of the drop from events).
  test::sql("UPDATE " + table + " SET v = v + 10 WHERE id IN (1, 2)");
  test::sql("UPDATE " + table + " SET v = v + 10, big = big || 'x' WHERE id = 3");
  auto after_drop = expected();
  after_drop["row:4"]["old_col"] = "old 4";
  const std::string diff = test::wait_until_converged(
      [&] { return test::diff_rows(after_drop, test::read_redis_rows(db.number())); });
  INFO(diff);
  CHECK(diff.empty());
  CHECK(test::redis_command(db.number(), {"HEXISTS", "row:1", "old_col"}) == "0");

  sink.signal(SIGTERM);
  CHECK(sink.wait() == 0);
  capture.signal(SIGTERM);
  CHECK(capture.wait() == 0);
  test::drop_slot(spec.slot());
}
