// The test-support JSON Schema validator: integration tests trust it to reject bad events from
// Kafka, so it is tested on its own here, keyword by keyword and on the real event schema.

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "support/json_schema.hpp"

using nlohmann::json;
using sluice::test::validate;
using sluice::test::validate_event;

namespace {

json valid_event() {
  return json::parse(R"({"op":"c","before":null,"after":{"id":7},"unchanged":[],
    "source":{"connector":"sluice","version":"0.1.0","db":"shop","schema":"public",
    "table":"orders","lsn":"0/16B3748","commit_lsn":"0/16B37A0","seq":3,"txId":771,
    "ts_ms":1764350000123,"snapshot":false},"ts_ms":1764350000140})");
}

bool has_error(const std::vector<std::string>& errors, const std::string& expected) {
  for (const auto& e : errors) {
    if (e == expected) return true;
  }
  return false;
}

std::string joined(const std::vector<std::string>& errors) {
  std::string out;
  for (const auto& e : errors) out += e + "\n";
  return out;
}

}  // namespace

TEST_CASE("the event schema accepts a valid event", "[unit][schemas]") {
  const auto errors = validate_event(valid_event());
  INFO(joined(errors));
  CHECK(errors.empty());
}

TEST_CASE("the event schema rejects a bad op", "[unit][schemas]") {
  auto e = valid_event();
  e["op"] = "x";
  const auto errors = validate_event(e);
  INFO(joined(errors));
  CHECK(has_error(errors, R"(/op: "x" is not one of ["c","u","d","r","t"])"));
}

TEST_CASE("the event schema rejects a missing source.seq", "[unit][schemas]") {
  auto e = valid_event();
  e["source"].erase("seq");
  const auto errors = validate_event(e);
  INFO(joined(errors));
  CHECK(has_error(errors, "/source: missing required property 'seq'"));
}

TEST_CASE("the event schema rejects extra fields at the top and in source", "[unit][schemas]") {
  auto e = valid_event();
  e["extra"] = 1;
  e["source"]["partition"] = 0;
  const auto errors = validate_event(e);
  INFO(joined(errors));
  CHECK(has_error(errors, "/extra: property not allowed"));
  CHECK(has_error(errors, "/source/partition: property not allowed"));
}

TEST_CASE("the event schema checks LSNs, seq and the per-op rules", "[unit][schemas]") {
  auto lowercase = valid_event();
  lowercase["source"]["lsn"] = "0/16b3748";  // sluice writes uppercase, as Postgres does
  CHECK(has_error(validate_event(lowercase),
                  R"(/source/lsn: "0/16b3748" does not match "^[0-9A-F]{1,8}/[0-9A-F]{1,8}$")"));

  auto negative_seq = valid_event();
  negative_seq["source"]["seq"] = -1;
  CHECK(has_error(validate_event(negative_seq), "/source/seq: -1 violates minimum 0"));

  auto insert_with_before = valid_event();
  insert_with_before["before"] = {{"id", 7}};
  CHECK(has_error(validate_event(insert_with_before), "/before: expected null, got object"));

  auto delete_with_after = valid_event();
  delete_with_after["op"] = "d";
  delete_with_after["before"] = {{"id", 7}};
  CHECK(has_error(validate_event(delete_with_after), "/after: expected null, got object"));

  auto update_without_after = valid_event();
  update_without_after["op"] = "u";
  update_without_after["after"] = nullptr;
  CHECK(has_error(validate_event(update_without_after), "/after: expected object, got null"));

  auto update_with_old_row = valid_event();
  update_with_old_row["op"] = "u";
  update_with_old_row["before"] = {{"id", 7}};
  update_with_old_row["unchanged"] = {"big"};
  CHECK(validate_event(update_with_old_row).empty());

  auto truncate = valid_event();
  truncate["op"] = "t";
  truncate["after"] = nullptr;
  CHECK(validate_event(truncate).empty());
  truncate["unchanged"] = {"x"};
  CHECK(has_error(validate_event(truncate), "/unchanged: 1 items violates maxItems 0"));
}

TEST_CASE("the key schema wants an object", "[unit][schemas]") {
  CHECK(sluice::test::validate_key(json{{"id", 7}}).empty());
  CHECK(sluice::test::validate_key(json::object()).empty());  // a truncate record's key
  CHECK_FALSE(sluice::test::validate_key(json::array({7})).empty());
  CHECK_FALSE(sluice::test::validate_key(nullptr).empty());
}

TEST_CASE("validator: type, enum, const", "[unit][schemas]") {
  const auto schema = json::parse(R"({"type":["integer","null"]})");
  CHECK(validate(schema, 3).empty());
  CHECK(validate(schema, 3.0).empty());  // 2020-12: a zero fraction makes an integer
  CHECK(validate(schema, nullptr).empty());
  CHECK(validate(schema, 3.5) ==
        std::vector<std::string>{R"((root): expected ["integer","null"], got number)"});
  CHECK(validate(json::parse(R"({"type":"number"})"), 3).empty());
  CHECK_FALSE(validate(json::parse(R"({"type":"string"})"), 3).empty());
  CHECK(validate(json::parse(R"({"enum":[1,"a"]})"), 1.0).empty());  // numbers compare by value
  CHECK_FALSE(validate(json::parse(R"({"enum":[1,"a"]})"), "b").empty());
  CHECK(validate(json::parse(R"({"const":{"a":[1]}})"), json::parse(R"({"a":[1]})")).empty());
  CHECK(validate(json::parse(R"({"const":"u"})"), "c") ==
        std::vector<std::string>{R"((root): "c" is not "u")"});
}

TEST_CASE("validator: objects, arrays and JSON pointers", "[unit][schemas]") {
  const auto schema = json::parse(R"({
    "type":"object",
    "properties":{"list":{"type":"array","items":{"type":"string"},"minItems":1},
                  "a/b":{"type":"integer"}},
    "required":["list"],
    "additionalProperties":{"type":"boolean"}})");
  CHECK(validate(schema, json::parse(R"({"list":["x"],"flag":true})")).empty());
  CHECK(validate(schema, json::parse(R"({"list":["x",2]})")) ==
        std::vector<std::string>{"/list/1: expected string, got integer"});
  CHECK(validate(schema, json::parse(R"({"list":["x"],"a/b":"no"})")) ==
        std::vector<std::string>{"/a~1b: expected integer, got string"});
  CHECK(validate(schema, json::parse(R"({"list":["x"],"other":1})")) ==
        std::vector<std::string>{"/other: expected boolean, got integer"});
  CHECK(validate(schema, json::parse(R"({"list":[]})")) ==
        std::vector<std::string>{"/list: 0 items violates minItems 1"});
  CHECK(validate(schema, json::object()) ==
        std::vector<std::string>{"(root): missing required property 'list'"});
}

TEST_CASE("validator: strings and numbers", "[unit][schemas]") {
  // pattern is not anchored unless the pattern says so
  CHECK(validate(json::parse(R"({"pattern":"b+"})"), "abbc").empty());
  CHECK_FALSE(validate(json::parse(R"({"pattern":"^b+$"})"), "abbc").empty());
  CHECK(validate(json::parse(R"({"pattern":"^b+$"})"), 5).empty());  // applies to strings only
  // lengths count code points: "é✓" is 2 code points, 5 bytes
  CHECK(validate(json::parse(R"({"maxLength":2})"), "\xC3\xA9\xE2\x9C\x93").empty());
  CHECK_FALSE(validate(json::parse(R"({"minLength":3})"), "\xC3\xA9\xE2\x9C\x93").empty());
  const auto uint32 = json::parse(R"({"minimum":0,"maximum":4294967295})");
  CHECK(validate(uint32, 4294967295u).empty());
  CHECK_FALSE(validate(uint32, 4294967296u).empty());
  CHECK_FALSE(validate(uint32, -1).empty());
  CHECK_FALSE(validate(uint32, -0.5).empty());
  // exact near the int64 limit, where doubles cannot tell neighbours apart
  const auto int64 = json::parse(R"({"maximum":9223372036854775807})");
  CHECK(validate(int64, 9223372036854775807).empty());
  CHECK_FALSE(validate(int64, 9223372036854775808u).empty());
}

TEST_CASE("validator: combinators, conditionals and references", "[unit][schemas]") {
  const auto one_of = json::parse(R"({"oneOf":[{"type":"integer"},{"minimum":0}]})");
  CHECK(validate(one_of, -1).empty());
  CHECK(validate(one_of, 0.5).empty());
  CHECK_FALSE(validate(one_of, 1).empty());     // both match
  CHECK_FALSE(validate(one_of, -0.5).empty());  // neither matches

  const auto any_of = json::parse(R"({"anyOf":[{"type":"string"},{"type":"null"}]})");
  CHECK(validate(any_of, nullptr).empty());
  CHECK_FALSE(validate(any_of, 1).empty());

  CHECK(validate(json::parse(R"({"allOf":[{"minimum":1},{"maximum":3}]})"), 2).empty());
  CHECK_FALSE(validate(json::parse(R"({"allOf":[{"minimum":1},{"maximum":3}]})"), 4).empty());
  CHECK_FALSE(validate(json::parse(R"({"not":{"type":"null"}})"), nullptr).empty());

  const auto conditional = json::parse(R"({
    "if":{"properties":{"op":{"const":"d"}},"required":["op"]},
    "then":{"properties":{"after":{"type":"null"}}},
    "else":{"required":["after"]}})");
  CHECK(validate(conditional, json::parse(R"({"op":"d","after":null})")).empty());
  CHECK(validate(conditional, json::parse(R"({"op":"d","after":{}})")) ==
        std::vector<std::string>{"/after: expected null, got object"});
  CHECK(validate(conditional, json::parse(R"({"op":"c"})")) ==
        std::vector<std::string>{"(root): missing required property 'after'"});

  const auto with_ref = json::parse(R"({
    "properties":{"lsn":{"$ref":"#/$defs/lsn"}},
    "$defs":{"lsn":{"type":"string","pattern":"^[0-9A-F]+/[0-9A-F]+$"}}})");
  CHECK(validate(with_ref, json::parse(R"({"lsn":"0/1"})")).empty());
  CHECK_FALSE(validate(with_ref, json::parse(R"({"lsn":"zz"})")).empty());
  CHECK_FALSE(validate(json::parse(R"({"$ref":"#/$defs/missing"})"), 1).empty());

  const auto cycle = json::parse(R"({"$defs":{"a":{"$ref":"#/$defs/a"}},"$ref":"#/$defs/a"})");
  CHECK_FALSE(validate(cycle, 1).empty());  // reported, not a stack overflow
}

TEST_CASE("validator: boolean schemas and unsupported keywords", "[unit][schemas]") {
  CHECK(validate(json(true), 1).empty());
  CHECK_FALSE(validate(json(false), 1).empty());
  CHECK(validate(json::parse(R"({"properties":{"x":false}})"), json::parse(R"({"x":1})")) ==
        std::vector<std::string>{"/x: not allowed (schema false)"});
  // A keyword the validator does not implement must not pass silently.
  CHECK(validate(json::parse(R"({"format":"date-time"})"), "x") ==
        std::vector<std::string>{"(root): schema uses unsupported keyword 'format'"});
}
