// The Redis cache end to end, as real processes: Postgres → sluice capture → Kafka → sluice
// sink → Redis. One random workload of 50,000 operations feeds three sinks at once: one run as
// three workers in one process (--workers 3), one killed with SIGKILL at random points and
// restarted, and one run as two worker processes of one group. Each must end up holding exactly
// the rows of the tables.

#include <catch2/catch.hpp>
#include <csignal>
#include <map>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <random>
#include <regex>
#include <set>
#include <thread>

#include "support/harness.hpp"
#include "support/services.hpp"
#include "support/sink_harness.hpp"

using namespace sluice;

namespace {

enum class column_kind { integer, text, boolean, numeric, json };

struct column {
  std::string name;
  column_kind kind;
};

const std::vector<column> a_columns{
    {"id", column_kind::integer},   {"name", column_kind::text},      {"big", column_kind::text},
    {"flag", column_kind::boolean}, {"amount", column_kind::numeric}, {"note", column_kind::text},
    {"tags", column_kind::json}};
const std::vector<column> b_columns{{"id", column_kind::integer},
                                    {"k", column_kind::text},
                                    {"qty", column_kind::integer},
                                    {"big", column_kind::text}};

/// What the sink should hold for every row of a table: hash fields (NULL left out, booleans
/// true/false, JSON compact) or JSON members (NULL as null), per docs/sinks.md.
void expected_rows(const std::string& table, const std::vector<column>& columns, bool json,
                   std::map<std::string, test::redis_row>& out) {
  std::string select;
  for (const auto& c : columns) select += (select.empty() ? "" : ", ") + c.name + "::text";
  for (const auto& row : test::sql_rows("SELECT " + select + " FROM " + table)) {
    test::redis_row r;
    for (std::size_t i = 0; i < columns.size(); ++i) {
      const auto& v = row[i];
      const auto kind = columns[i].kind;
      if (!v) {
        if (json) r[columns[i].name] = "null";
        continue;
      }
      nlohmann::json j;
      switch (kind) {
        case column_kind::integer:
          j = std::stoll(*v);
          break;
        case column_kind::boolean:
          j = *v == "true";
          break;
        case column_kind::json:
          j = nlohmann::json::parse(*v);
          break;
        default:
          j = *v;
          break;
      }
      if (json) {
        r[columns[i].name] = j.dump();
      } else {
        r[columns[i].name] = j.is_string() ? j.get<std::string>() : j.dump();
      }
    }
    out["row:" + *row[0]] = std::move(r);
  }
}

std::string random_text(std::mt19937_64& rng, std::size_t n) {
  static const char letters[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::string s(n, ' ');
  for (auto& c : s) c = letters[rng() % (sizeof letters - 1)];
  return s;
}

/// The random workload: `operations` row changes in transactions of 10, on table a (ids from
/// 1) and table b (ids from 1,000,000,000), with one TRUNCATE of b about halfway.
struct workload {
  std::string a, b;
  int operations = 50'000;
  std::chrono::microseconds pause{3000};
  std::size_t committed = 0;

  void run(std::uint64_t seed) {
    pqxx::connection conn(test::pg_dsn());
    std::mt19937_64 rng(seed);
    std::vector<std::int64_t> live_a, live_b, gone_a;
    std::int64_t next_a = 1, next_b = 1'000'000'000;
    auto pick = [&](std::vector<std::int64_t>& ids) -> std::int64_t {
      return ids[rng() % ids.size()];
    };
    auto remove = [&](std::vector<std::int64_t>& ids, std::int64_t id) {
      auto it = std::find(ids.begin(), ids.end(), id);
      *it = ids.back();
      ids.pop_back();
    };
    bool truncated = false;
    int done = 0;
    while (done < operations) {
      std::string sql;
      for (int i = 0; i < 10 && done < operations; ++i, ++done) {
        if (!truncated && done >= operations / 2) {
          sql += "TRUNCATE " + b + ";";
          live_b.clear();
          truncated = true;
          continue;
        }
        const int dice = static_cast<int>(rng() % 100);
        const bool on_a = rng() % 3 != 0;
        auto& live = on_a ? live_a : live_b;
        const std::string& table = on_a ? a : b;
        if (dice < 35 || live.size() < 20) {
          const std::int64_t id = on_a ? next_a++ : next_b++;
          const bool big = rng() % 10 < 3;
          if (on_a) {
            sql += "INSERT INTO " + a + " VALUES (" + std::to_string(id) + ", 'n" +
                   std::to_string(rng() % 1000) + "', " +
                   (big ? "'" + random_text(rng, 2600) + "'" : "NULL") + ", " +
                   (rng() % 2 ? "true" : "false") + ", " + std::to_string(rng() % 100000) +
                   ".25, " + (rng() % 2 ? "'note'" : "NULL") +
                   ", '{\"n\": " + std::to_string(rng() % 50) + ", \"s\": \"x\"}');";
          } else {
            sql += "INSERT INTO " + b + " VALUES (" + std::to_string(id) + ", 'k" +
                   std::to_string(rng() % 1000) + "', " + std::to_string(rng() % 100) + ", " +
                   (big ? "'" + random_text(rng, 2600) + "'" : "NULL") + ");";
          }
          live.push_back(id);
        } else if (dice < 40 && on_a && !gone_a.empty()) {
          // A key that was deleted comes back.
          const std::int64_t id = gone_a.back();
          gone_a.pop_back();
          sql += "INSERT INTO " + a + " (id, name, flag) VALUES (" + std::to_string(id) +
                 ", 'again', NULL);";
          live_a.push_back(id);
        } else if (dice < 65) {
          // Leaves `big` alone: Postgres does not resend it (TOAST), the sink must keep it.
          const std::int64_t id = pick(live);
          sql += on_a
                     ? "UPDATE " + a + " SET name = 'u" + std::to_string(rng() % 1000) +
                           "', flag = NOT coalesce(flag, false) WHERE id = " + std::to_string(id) +
                           ";"
                     : "UPDATE " + b +
                           " SET qty = coalesce(qty, 0) + 1 WHERE id = " + std::to_string(id) + ";";
        } else if (dice < 85) {
          const std::int64_t id = pick(live);
          if (on_a) {
            sql += "UPDATE " + a + " SET note = " + (rng() % 2 ? "NULL" : "'changed'") +
                   ", amount = " + (rng() % 4 ? std::to_string(rng() % 1000) + ".5" : "NULL") +
                   ", tags = '{\"n\": " + std::to_string(rng() % 50) + "}'" +
                   (rng() % 4 == 0 ? ", big = '" + random_text(rng, 2600) + "'" : "") +
                   " WHERE id = " + std::to_string(id) + ";";
          } else {
            sql += "UPDATE " + b + " SET k = 'k" + std::to_string(rng() % 1000) +
                   "', qty = NULL WHERE id = " + std::to_string(id) + ";";
          }
        } else {
          const std::int64_t id = pick(live);
          sql += "DELETE FROM " + table + " WHERE id = " + std::to_string(id) + ";";
          remove(live, id);
          if (on_a) gone_a.push_back(id);
        }
      }
      pqxx::work tx(conn);
      tx.exec(sql);
      tx.commit();
      committed = static_cast<std::size_t>(done);
      if (pause.count() > 0) std::this_thread::sleep_for(pause);
    }
  }
};

std::string sink_yaml(const std::string& name, const std::string& url,
                      const std::vector<std::string>& tables, const std::string& extra) {
  std::string t;
  for (const auto& x : tables) t += (t.empty() ? "" : ", ") + x;
  return "  " + name + ":\n    redis:\n      url: " + url + "\n      tables: [" + t +
         "]\n      key: \"row:{id}\"\n" + extra;
}

std::int64_t applied_in_log(const std::string& log) {
  std::smatch m;
  static const std::regex stopped(R"(stopped after committing what was applied \((\d+) events)");
  if (!std::regex_search(log, m, stopped)) return -1;
  return std::stoll(m[1]);
}

/// Events each worker of a --workers process applied, by worker number, from its stop lines.
std::map<int, std::int64_t> applied_by_worker(const std::string& log) {
  static const std::regex stopped(
      R"(sink \w+#(\d+): stopped after committing what was applied \((\d+) events)");
  std::map<int, std::int64_t> out;
  for (std::sregex_iterator it(log.begin(), log.end(), stopped), end; it != end; ++it) {
    out[std::stoi((*it)[1])] = std::stoll((*it)[2]);
  }
  return out;
}

}  // namespace

TEST_CASE(
    "50,000 random changes: every sink converges to the tables, through kill -9 and "
    "with workers in one process and in two",
    "[integration][sink][fault]") {
  const std::string name = test::unique_name("sink_load");
  const std::string a = "public." + name + "_a";
  const std::string b = "public." + name + "_b";
  test::sql("CREATE TABLE " + a +
            " (id bigint PRIMARY KEY, name text NOT NULL, big text, flag boolean, "
            "amount numeric(12,2), note text, tags jsonb);"
            "ALTER TABLE " +
            a +
            " ALTER COLUMN big SET STORAGE EXTERNAL;"
            "CREATE TABLE " +
            b +
            " (id bigint PRIMARY KEY, k text NOT NULL, qty int, big text);"
            "ALTER TABLE " +
            b + " ALTER COLUMN big SET STORAGE EXTERNAL;");
  test::pipeline_spec spec(name, {a, b}, 3);
  const std::string file = test::write_pipeline(spec);
  test::redis_database plain_db(name + "_plain"), killed_db(name + "_killed"),
      pair_db(name + "_pair");
  test::add_sinks(file, sink_yaml("plain", plain_db.url(), {a, b}, "") +
                            sink_yaml("killed", killed_db.url(), {a, b}, "      format: json\n") +
                            sink_yaml("pair", pair_db.url(), {a, b}, ""));
  const std::string dir = test::scratch_dir() + "/" + name;
  test::child_process capture(test::capture_args(file, dir), dir + ".capture.log");
  REQUIRE(capture.wait_for_log("streaming"));

  auto start = [&](const std::string& sink, const std::string& log) {
    auto p = std::make_unique<test::child_process>(test::sink_args(file, sink), log);
    REQUIRE(p->wait_for_log("assigned"));
    return p;
  };
  // Three workers in one process, sharing the six partitions of the two tables.
  auto plain_args = test::sink_args(file, "plain");
  plain_args.insert(plain_args.end(), {"--workers", "3"});
  auto plain = std::make_unique<test::child_process>(plain_args, dir + ".plain.log");
  REQUIRE(plain->wait_for_log("assigned"));
  // A stable instance name, so that each restart gets the partitions back at once and the next
  // kill lands while it applies batches, not while it waits for a rebalance.
  auto killed_args = test::sink_args(file, "killed");
  killed_args.insert(killed_args.end(), {"--instance", "w1"});
  auto killed = std::make_unique<test::child_process>(killed_args, dir + ".killed.log");
  REQUIRE(killed->wait_for_log("assigned"));
  auto pair1 = start("pair", dir + ".pair1.log");
  auto pair2 = start("pair", dir + ".pair2.log");

  std::random_device rd;
  const std::uint64_t seed = rd();
  INFO("workload seed " << seed);
  workload w{a, b};
  std::thread load([&] { w.run(seed); });

  // SIGKILL at random points of the workload, each followed by a restart; the next kill waits
  // until the restarted worker owns its partitions again.
  std::mt19937_64 rng(seed);
  int kills = 0;
  auto assignments = [&] {
    const std::string log = killed->log();
    std::size_t n = 0;
    for (auto at = log.find("assigned"); at != std::string::npos;
         at = log.find("assigned", at + 1)) {
      ++n;
    }
    return n;
  };
  std::size_t committed_at_last_kill = 0;
  while (kills < 6) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1000 + rng() % 2000));
    const std::size_t before = assignments();
    committed_at_last_kill = w.committed;
    killed->signal(SIGKILL);
    CHECK(killed->wait() == 128 + SIGKILL);
    ++kills;
    killed = std::make_unique<test::child_process>(killed_args, dir + ".killed.log");
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (assignments() == before && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  load.join();
  CHECK(kills >= 5);
  // The kills happened while the workload ran.
  CHECK(committed_at_last_kill < static_cast<std::size_t>(w.operations));

  std::map<std::string, test::redis_row> as_hash, as_json;
  expected_rows(a, a_columns, false, as_hash);
  expected_rows(b, b_columns, false, as_hash);
  expected_rows(a, a_columns, true, as_json);
  expected_rows(b, b_columns, true, as_json);
  // The workload leaves rows in both tables, some with TOASTed values that later updates
  // did not resend.
  CHECK(test::sql_value("SELECT count(*) FROM " + a + " WHERE big IS NOT NULL") != "0");
  CHECK(test::sql_value("SELECT count(*) FROM " + b) != "0");

  for (const auto& [sink, db, expected] : {std::tuple{"plain", plain_db.number(), &as_hash},
                                           std::tuple{"killed", killed_db.number(), &as_json},
                                           std::tuple{"pair", pair_db.number(), &as_hash}}) {
    INFO("sink " << sink);
    const std::string diff = test::wait_until_converged([&, db = db, expected = expected] {
      return test::diff_rows(*expected, test::read_redis_rows(db));
    });
    CHECK(diff.empty());
    if (!diff.empty()) FAIL_CHECK(diff);
  }

  for (auto* p : {plain.get(), killed.get(), pair1.get(), pair2.get()}) p->signal(SIGTERM);
  CHECK(plain->wait() == 0);
  CHECK(killed->wait() == 0);
  CHECK(pair1->wait() == 0);
  CHECK(pair2->wait() == 0);
  // Every worker applied a share of the events: the three in one process, and the two processes.
  const auto shares = applied_by_worker(plain->log());
  CHECK(shares.size() == 3);
  for (const auto& [worker, applied] : shares) {
    INFO("plain worker " << worker);
    CHECK(applied > 0);
  }
  CHECK(applied_in_log(pair1->log()) > 0);
  CHECK(applied_in_log(pair2->log()) > 0);
  capture.signal(SIGTERM);
  CHECK(capture.wait() == 0);
  test::drop_slot(spec.slot());
}
