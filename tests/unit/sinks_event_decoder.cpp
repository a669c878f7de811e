// The sink's fast decoder gives exactly what schemas::decode_event gives: on every recorded
// event fixture, on random events, and on inputs it must leave to the slow path.

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "sluice/schemas/codec.hpp"
#include "sluice/sinks/event_decoder.hpp"

using namespace sluice;

namespace {

void same_as_schemas(const std::string& json) {
  INFO(json);
  auto fast = sinks::decode_value(json);
  auto slow = schemas::decode_event(json);
  REQUIRE(fast.has_value() == slow.has_value());
  if (fast) {
    CHECK(*fast == *slow);
  } else {
    CHECK(fast.error().message == slow.error().message);
  }
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

}  // namespace

TEST_CASE("fast decoding equals decode_event on the event fixtures", "[unit][sinks]") {
  const std::filesystem::path dir =
      std::filesystem::path(SLUICE_SOURCE_DIR) / "tests/fixtures/events";
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".json") continue;
    const std::string json = read_file(entry.path());
    same_as_schemas(json);
    ++files;
  }
  CHECK(files >= 6);
}

TEST_CASE("fast decoding equals decode_event on random events and odd inputs", "[unit][sinks]") {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 2000; ++i) {
    schemas::change_event e;
    const schemas::op ops[] = {schemas::op::create, schemas::op::update, schemas::op::remove,
                               schemas::op::read, schemas::op::truncate};
    e.op = ops[rng() % 5];
    schemas::row r;
    r.columns.push_back({"id", static_cast<std::int64_t>(rng())});
    r.columns.push_back({"name", std::string(rng() % 2 ? "plain" : "with \"quote\"\n")});
    r.columns.push_back({"f", static_cast<double>(rng() % 1000) / 7.0});
    r.columns.push_back({"b", rng() % 2 == 0});
    r.columns.push_back({"n", schemas::null_value{}});
    r.columns.push_back({"j", nlohmann::json::parse(R"({"a":[1,"x}",{"b":null}]})")});
    if (e.op == schemas::op::remove) e.before = r;
    if (e.op == schemas::op::create || e.op == schemas::op::update || e.op == schemas::op::read) {
      e.after = r;
    }
    if (e.op == schemas::op::update && rng() % 2) e.unchanged = {"big"};
    e.source.version = "0.1.0";
    e.source.db = "db";
    e.source.schema = "public";
    e.source.table = "t";
    e.source.commit_lsn = schemas::lsn{rng()};
    e.source.change_lsn = schemas::lsn{rng()};
    e.source.seq = static_cast<std::uint32_t>(rng());
    e.source.tx_id = static_cast<std::int64_t>(rng() >> 1);
    e.source.ts_ms = static_cast<std::int64_t>(rng() % 2000000000000);
    e.source.snapshot = e.op == schemas::op::read;
    const std::string json = schemas::encode_event(e);
    same_as_schemas(json);
    auto fast = sinks::decode_value(json);
    REQUIRE(fast);
    CHECK(*fast == e);
  }
  for (
      const std::string& odd : {
          std::string("{not json"),
          std::string(""),
          std::string("null"),
          std::string(R"({"op":"x","before":null,"after":null,"unchanged":[],"source":{}})"),
          std::string(
              R"({"before":null,"op":"t","after":null,"unchanged":[],"source":{"connector":"sluice","version":"0.1.0","db":"d","schema":"s","table":"t","lsn":"0/1","commit_lsn":"0/1","seq":0,"txId":1,"ts_ms":1,"snapshot":false},"ts_ms":1})"),
          std::string(
              R"({"op":"d","before":null,"after":null,"unchanged":[],"source":{"connector":"sluice","version":"0.1.0","db":"d","schema":"s","table":"t","lsn":"0/1","commit_lsn":"0/1","seq":0,"txId":1,"ts_ms":1,"snapshot":false},"ts_ms":1})"),
          std::string(
              R"({"op":"c","before":null,"after":{"id":99999999999999999999},"unchanged":[],"source":{"connector":"sluice","version":"0.1.0","db":"d","schema":"s","table":"t","lsn":"0/1","commit_lsn":"0/1","seq":0,"txId":1,"ts_ms":1,"snapshot":false},"ts_ms":1})"),
      }) {
    same_as_schemas(odd);
  }
}

TEST_CASE("fast key decoding equals decode_key", "[unit][sinks]") {
  for (const std::string& key : {std::string(R"({"id":7})"), std::string(R"({"a":1,"b":"x y"})"),
                                 std::string("{}"), std::string(R"({"id":"q\"uote"})"),
                                 std::string("not a key"), std::string(R"({"id":7} )")}) {
    INFO(key);
    auto fast = sinks::decode_key(key);
    auto slow = schemas::decode_key(key);
    REQUIRE(fast.has_value() == slow.has_value());
    if (fast) CHECK(*fast == *slow);
  }
}
