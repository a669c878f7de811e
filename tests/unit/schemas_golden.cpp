// Golden envelopes: each C++ event below must encode to exactly the bytes of its file in
// tests/fixtures/events/, decode back to the same struct, and validate against
// schemas/change-event.schema.json. The files are the documented wire format (docs/events.md
// quotes them), so a change to the encoder shows up here as a diff to review.
//
// To rewrite the files after an intended format change: SLUICE_UPDATE_GOLDEN=1 unit_tests
// "[golden]", then review the diff.

#include <catch2/catch.hpp>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "sluice/schemas/codec.hpp"
#include "support/json_schema.hpp"

namespace {

using namespace sluice::schemas;
using namespace std::string_literals;

std::filesystem::path golden_dir() {
  return std::filesystem::path(SLUICE_SOURCE_DIR) / "tests" / "fixtures" / "events";
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string trim_trailing_newline(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

source_info orders_source(std::uint64_t change_lsn, std::uint64_t commit_lsn, std::uint32_t seq) {
  source_info s;
  s.version = "0.1.0";
  s.db = "shop";
  s.schema = "public";
  s.table = "orders";
  s.change_lsn = lsn{change_lsn};
  s.commit_lsn = lsn{commit_lsn};
  s.seq = seq;
  s.tx_id = 771;
  s.ts_ms = 1764350000123;
  return s;
}

row make_row(std::vector<column_value> columns) {
  return row{std::move(columns)};
}

change_event insert_event() {
  change_event e;
  e.op = op::create;
  e.after = make_row({{"id", std::int64_t{7}},
                      {"customer_id", std::int64_t{42}},
                      {"status", std::string("new")},
                      {"amount", std::string("19.99")},
                      {"note", null_value{}},
                      {"created_at", std::string("2025-11-28T17:13:20.123456Z")}});
  e.source = orders_source(0x16B3748, 0x16B37A0, 0);
  e.ts_ms = 1764350000140;
  return e;
}

change_event update_event() {
  change_event e;
  e.op = op::update;
  // REPLICA IDENTITY FULL: the old row in full.
  e.before = make_row({{"id", std::int64_t{7}},
                       {"status", std::string("new")},
                       {"amount", std::string("19.99")},
                       {"paid", false}});
  e.after = make_row({{"id", std::int64_t{7}},
                      {"status", std::string("paid")},
                      {"amount", std::string("19.99")},
                      {"paid", true}});
  e.source = orders_source(0x16B3900, 0x16B3A10, 1);
  e.source.tx_id = 772;
  e.source.ts_ms = 1764350001000;
  e.ts_ms = 1764350001012;
  return e;
}

change_event update_unchanged_toast_event() {
  change_event e;
  e.op = op::update;
  // REPLICA IDENTITY DEFAULT and the key did not change: Postgres sends no old row.
  e.after = make_row({{"id", std::int64_t{8}}, {"status", std::string("shipped")}});
  e.unchanged = {"big_text_col", "attachments"};
  e.source = orders_source(0xA0000028, 0xA0000100, 2);
  e.source.tx_id = 773;
  e.source.ts_ms = 1764350002000;
  e.ts_ms = 1764350002005;
  return e;
}

change_event delete_event() {
  change_event e;
  e.op = op::remove;
  // REPLICA IDENTITY DEFAULT: the old key only.
  e.before = make_row({{"id", std::int64_t{7}}});
  e.source = orders_source(0x1000000016B4000, 0x1000000016B4050, 0);
  e.source.tx_id = 774;
  e.source.ts_ms = 1764350003000;
  e.ts_ms = 1764350003001;
  return e;
}

change_event truncate_event() {
  change_event e;
  e.op = op::truncate;
  e.source = orders_source(0xFFFFFFFF00000000, 0xFFFFFFFFFFFFFFFF, 0);
  e.source.tx_id = 4294967295;
  e.source.ts_ms = 1764350004000;
  e.ts_ms = 1764350004002;
  return e;
}

change_event snapshot_read_event() {
  change_event e;
  e.op = op::read;
  e.after = make_row({{"id", std::int64_t{1}},
                      {"customer_id", std::int64_t{3}},
                      {"status", std::string("paid")},
                      {"amount", std::string("5.00")}});
  // Snapshot rows all carry the slot's consistent point; seq orders them within it.
  e.source = orders_source(0x16A0000, 0x16A0000, 12);
  e.source.tx_id = 760;
  e.source.ts_ms = 1764349990000;
  e.source.snapshot = true;
  e.ts_ms = 1764349990100;
  return e;
}

change_event values_event() {
  change_event e;
  e.op = op::create;
  e.after = make_row({
      {"id", std::int64_t{9}},
      {"null_col", null_value{}},
      {"bool_true", true},
      {"bool_false", false},
      {"int64_min", std::numeric_limits<std::int64_t>::min()},
      {"int64_max", std::numeric_limits<std::int64_t>::max()},
      {"int_zero", std::int64_t{0}},
      {"double_fraction", 0.1},
      {"double_whole", 1.0},
      {"double_negative", -2.5},
      {"double_large", 1e300},
      {"double_small", 5e-324},
      {"double_max", std::numeric_limits<double>::max()},
      {"string_empty", std::string("")},
      {"string_escapes", std::string("quote \" backslash \\ slash / newline \n tab \t cr \r "
                                     "bs \b ff \f")},
      {"string_control", "nul \x00 soh \x01 us \x1f del \x7f"s},
      {"string_unicode", std::string("h\xC3\xA9llo w\xC3\xB6rld \xE2\x9C\x93 \xF0\x9F\x98\x80 "
                                     "\xE2\x80\xA8")},
      {"we\"ird col\xC3\xA9", std::string("column names are escaped too")},
      {"json_object", nlohmann::json::parse(R"({"b":[1,2.5,{"c":null}],"a":"x\"y","e":{}})")},
      {"json_array", nlohmann::json::parse(R"([1,"two",3.5,null,true,[]])")},
      {"json_empty_array", nlohmann::json::array()},
  });
  e.source = orders_source(0x16B5000, 0x16B5100, 4);
  e.source.table = "value_kinds";
  e.ts_ms = 1764350005000;
  return e;
}

struct golden_case {
  const char* file;
  std::function<change_event()> make;
};

const std::vector<golden_case>& golden_cases() {
  static const std::vector<golden_case> cases = {
      {"insert.json", insert_event},
      {"update.json", update_event},
      {"update_unchanged_toast.json", update_unchanged_toast_event},
      {"delete.json", delete_event},
      {"truncate.json", truncate_event},
      {"snapshot_read.json", snapshot_read_event},
      {"values.json", values_event},
  };
  return cases;
}

bool updating_golden() {
  const char* flag = std::getenv("SLUICE_UPDATE_GOLDEN");
  return flag != nullptr && std::string(flag) == "1";
}

}  // namespace

TEST_CASE("encode_event writes each golden envelope byte for byte", "[unit][schemas][golden]") {
  for (const auto& c : golden_cases()) {
    SECTION(c.file) {
      const auto path = golden_dir() / c.file;
      const std::string encoded = encode_event(c.make());
      if (updating_golden()) {
        std::ofstream(path, std::ios::binary) << encoded << '\n';
        WARN("rewrote " << path.string());
      }
      CHECK(encoded == trim_trailing_newline(read_file(path)));
    }
  }
}

TEST_CASE("decode_event reads each golden envelope back into the same event",
          "[unit][schemas][golden]") {
  for (const auto& c : golden_cases()) {
    SECTION(c.file) {
      const auto decoded = decode_event(trim_trailing_newline(read_file(golden_dir() / c.file)));
      INFO((decoded ? std::string("decoded") : decoded.error().message));
      REQUIRE(decoded.has_value());
      CHECK(*decoded == c.make());
    }
  }
}

TEST_CASE("every golden envelope validates against the JSON Schema", "[unit][schemas][golden]") {
  for (const auto& c : golden_cases()) {
    SECTION(c.file) {
      const auto event = nlohmann::json::parse(read_file(golden_dir() / c.file));
      const auto errors = sluice::test::validate_event(event);
      for (const auto& error : errors) INFO(error);
      CHECK(errors.empty());
    }
  }
}

TEST_CASE("golden envelopes agree with an independent JSON serializer", "[unit][schemas][golden]") {
  // nlohmann's own compact dump of the parsed file, members kept in file order, must give the
  // same bytes: the hand-written encoder escapes and prints numbers the standard way.
  for (const auto& c : golden_cases()) {
    SECTION(c.file) {
      const auto text = trim_trailing_newline(read_file(golden_dir() / c.file));
      CHECK(nlohmann::ordered_json::parse(text).dump() == text);
    }
  }
}

TEST_CASE("golden envelopes carry the fields in the documented order", "[unit][schemas][golden]") {
  const std::vector<std::string> top = {"op", "before", "after", "unchanged", "source", "ts_ms"};
  const std::vector<std::string> source = {"connector", "version", "db",         "schema",
                                           "table",     "lsn",     "commit_lsn", "seq",
                                           "txId",      "ts_ms",   "snapshot"};
  for (const auto& c : golden_cases()) {
    SECTION(c.file) {
      const auto event = nlohmann::ordered_json::parse(read_file(golden_dir() / c.file));
      std::vector<std::string> keys;
      for (const auto& [k, v] : event.items()) keys.push_back(k);
      CHECK(keys == top);
      keys.clear();
      for (const auto& [k, v] : event["source"].items()) keys.push_back(k);
      CHECK(keys == source);
    }
  }
}
