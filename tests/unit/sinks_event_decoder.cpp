// The sink's fast decoder gives exactly what schemas::decode_event gives: on every recorded
// event fixture, on random events, and on inputs it must leave to the slow path.

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <vector>

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

TEST_CASE("fast decoding equals decode_event on spellings the encoder does not write",
          "[unit][sinks]") {
  // Each spelling is valid JSON (or close to it) that encode_event would write differently, so
  // the scanner must leave it to decode_event; the canonical ones next to them stay fast.
  const auto event = [](const std::string& after, const std::string& lsn = "16/B374D848",
                        const std::string& seq = "0", const std::string& ts = "1") {
    return R"({"op":"c","before":null,"after":)" + after +
           R"(,"unchanged":[],"source":{"connector":"sluice","version":"0.1.0","db":"d","schema":"s","table":"t","lsn":")" +
           lsn + R"(","commit_lsn":")" + lsn + R"(","seq":)" + seq +
           R"(,"txId":1,"ts_ms":1,"snapshot":false},"ts_ms":)" + ts + "}";
  };
  const std::vector<std::string> rows{
      // integers
      R"({"id":7})", R"({"id":-7})", R"({"id":0})", R"({"id":-0})", R"({"id":007})", R"({"id":+7})",
      R"({"id":9223372036854775807})", R"({"id":-9223372036854775808})",
      R"({"id":9223372036854775808})",
      // doubles
      R"({"f":1.5})", R"({"f":1.50})", R"({"f":2.0})", R"({"f":2})", R"({"f":1e5})", R"({"f":1E5})",
      R"({"f":100000.0})", R"({"f":1e+20})", R"({"f":-0.0})", R"({"f":0.1})", R"({"f":.5})",
      R"({"f":1.})",
      // strings: escapes, valid and ill-formed UTF-8 (overlong, truncated, surrogate), DEL
      R"({"s":"caf\u00e9"})", "{\"s\":\"caf\xC3\xA9\"}", "{\"s\":\"\xF0\x9F\x98\x80\"}",
      "{\"s\":\"bad \xFF byte\"}", "{\"s\":\"\xC0\xAF\"}", "{\"s\":\"cut \xC3\"}",
      "{\"s\":\"\xED\xA0\x80\"}", "{\"s\":\"tab\there\"}", R"({"s":"del \u007f"})",
      "{\"s\":\"del \x7F\"}",
      // embedded JSON, literals, layout
      R"({"j":{"a":1,"b":[1,2]}})", R"({"j":{"b":1,"a":2}})", R"({"j":[1, 2]})",
      R"({"j":{"a":1.50}})", R"({"a":1,"b":true,"c":false,"d":null})", R"({})", R"({"id":7 })",
      R"({ "id":7})"};
  for (const auto& after : rows) same_as_schemas(event(after));
  for (const char* lsn :
       {"0/0", "0/1", "FFFFFFFF/FFFFFFFF", "16/b374d848", "016/B374D848", "16/0B374D84", "16/",
        "/1", "1/2/3", "123456789/1", "G/1", "-1/1", "+1/1", "1 /1"}) {
    same_as_schemas(event(R"({"id":1})", lsn));
  }
  for (const char* seq : {"0", "4294967295", "4294967296", "-0", "01", "-1", "1.0"}) {
    same_as_schemas(event(R"({"id":1})", "0/1", seq));
  }
  for (const char* ts : {"-1", "-0", "00", "1e3"}) {
    same_as_schemas(event(R"({"id":1})", "0/1", "0", ts));
  }
}

TEST_CASE("fast key decoding equals decode_key", "[unit][sinks]") {
  for (const std::string& key :
       {std::string(R"({"id":7})"), std::string(R"({"a":1,"b":"x y"})"), std::string("{}"),
        std::string(R"({"id":"q\"uote"})"), std::string("not a key"), std::string(R"({"id":7} )"),
        std::string(R"({"id":-0})"), std::string(R"({"id":07})"), std::string(R"({"f":1.50})"),
        std::string(R"({"f":0.25})"), std::string("{\"s\":\"\xC3\xA9\"}"),
        std::string("{\"s\":\"\xC3\"}")}) {
    INFO(key);
    auto fast = sinks::decode_key(key);
    auto slow = schemas::decode_key(key);
    REQUIRE(fast.has_value() == slow.has_value());
    if (fast) CHECK(*fast == *slow);
  }
}

TEST_CASE("decoding into a reused event gives what decoding afresh gives", "[unit][sinks]") {
  // One event and one key are decoded into over and over, as the runtime does with recycled
  // events: rows grow and shrink, values change type, before/after/unchanged come and go, and
  // failed decodes (which leave the event half-written) come in between.
  std::vector<std::string> inputs;
  const std::filesystem::path dir =
      std::filesystem::path(SLUICE_SOURCE_DIR) / "tests/fixtures/events";
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".json") inputs.push_back(read_file(entry.path()));
  }
  std::mt19937_64 rng(7);
  for (int i = 0; i < 300; ++i) {
    schemas::change_event e;
    const schemas::op ops[] = {schemas::op::create, schemas::op::update, schemas::op::remove,
                               schemas::op::truncate};
    e.op = ops[rng() % 4];
    schemas::row r;
    const auto columns = rng() % 5;
    for (std::uint64_t c = 0; c < columns; ++c) {
      const std::string name = "c" + std::to_string(rng() % 6);
      switch (rng() % 5) {
        case 0:
          r.columns.push_back({name, std::string(rng() % 40, 'x')});
          break;
        case 1:
          r.columns.push_back({name, static_cast<std::int64_t>(rng() % 1000)});
          break;
        case 2:
          r.columns.push_back({name, 0.5});
          break;
        case 3:
          r.columns.push_back({name, nlohmann::json::parse(R"([1,{"a":"b"}])")});
          break;
        default:
          r.columns.push_back({name, schemas::null_value{}});
      }
    }
    if (e.op == schemas::op::remove || (e.op == schemas::op::update && rng() % 2)) e.before = r;
    if (e.op == schemas::op::create || e.op == schemas::op::update) e.after = r;
    if (e.op == schemas::op::update && rng() % 2) e.unchanged = {"toasted", "other"};
    e.source.version = "0.1.0";
    e.source.table = std::string(rng() % 30, 't');
    e.source.commit_lsn = schemas::lsn{rng()};
    e.source.snapshot = rng() % 2 == 0;
    inputs.push_back(schemas::encode_event(e));
    if (rng() % 10 == 0) inputs.push_back("{not json");
    if (rng() % 10 == 0) inputs.push_back(inputs.back().substr(0, inputs.back().size() / 2));
  }
  schemas::change_event reused;
  for (const auto& json : inputs) {
    INFO(json);
    auto fresh = sinks::decode_value(json);
    auto into = sinks::decode_value(json, reused);
    REQUIRE(into.has_value() == fresh.has_value());
    if (fresh) {
      CHECK(reused == *fresh);
    } else {
      CHECK(into.error().message == fresh.error().message);
    }
  }

  schemas::row reused_key;
  for (const std::string& key :
       {std::string(R"({"a":1,"b":"xxxxxxxxxxxxxxxxxxxxxxxx","c":null})"), std::string("{}"),
        std::string(R"({"a":"yyyyyyyyyyyyyyyyyyyyyyyyyy"})"), std::string("not a key"),
        std::string(R"({"b":2.5,"a":[1]})"), std::string(R"({"id":"q\"uote"})")}) {
    INFO(key);
    auto fresh = sinks::decode_key(key);
    auto into = sinks::decode_key(key, reused_key);
    REQUIRE(into.has_value() == fresh.has_value());
    if (fresh) CHECK(reused_key == *fresh);
  }
}

TEST_CASE("fast string scanning agrees with decode_key wherever the odd byte sits",
          "[unit][sinks]") {
  // The scanner reads strings eight bytes at a time: put each kind of byte it must notice
  // (an escape, a raw control character, DEL, valid and ill-formed UTF-8) at every position of
  // strings around one and two words long.
  for (const std::string odd : {"\\\"", "\\\\", "\\n", "\n", "\x7f", "\xC3\xA9", "\xFF", "\x01"}) {
    for (std::size_t length = 0; length <= 20; ++length) {
      for (std::size_t at = 0; at <= length; ++at) {
        const std::string text = std::string(at, 'a') + odd + std::string(length - at, 'b');
        const std::string key = R"({"s":")" + text + R"(","n":1})";
        INFO(key);
        auto fast = sinks::decode_key(key);
        auto slow = schemas::decode_key(key);
        REQUIRE(fast.has_value() == slow.has_value());
        if (fast) CHECK(*fast == *slow);
      }
    }
  }
}
