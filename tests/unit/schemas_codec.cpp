// The envelope codec: string escaping, numbers, keys, and decode errors that name the field.

#include <catch2/catch.hpp>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "sluice/schemas/codec.hpp"
#include "support/json_schema.hpp"

using namespace sluice::schemas;
using namespace std::string_literals;

namespace {

std::string json_string(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

change_event minimal_update() {
  change_event e;
  e.op = op::update;
  e.after = row{{{"id", std::int64_t{1}}}};
  e.source.version = "0.1.0";
  e.source.db = "shop";
  e.source.schema = "public";
  e.source.table = "orders";
  return e;
}

std::string encode_value(const value& v) {
  change_event e = minimal_update();
  e.after->columns.push_back({"v", v});
  const auto json = nlohmann::ordered_json::parse(encode_event(e));
  return json["after"]["v"].dump();
}

// A valid envelope to break one field at a time.
nlohmann::ordered_json valid_envelope() {
  return nlohmann::ordered_json::parse(R"({"op":"u","before":null,"after":{"id":7,"status":"paid"},
    "unchanged":["note"],"source":{"connector":"sluice","version":"0.1.0","db":"shop",
    "schema":"public","table":"orders","lsn":"0/16B3748","commit_lsn":"0/16B37A0","seq":3,
    "txId":771,"ts_ms":1764350000123,"snapshot":false},"ts_ms":1764350000140})");
}

}  // namespace

TEST_CASE("append_json_string escapes quotes, backslashes and control characters",
          "[unit][schemas]") {
  CHECK(json_string("plain") == R"("plain")");
  CHECK(json_string("") == R"("")");
  CHECK(json_string("a\"b\\c/d") == R"("a\"b\\c/d")");
  CHECK(json_string("\n\r\t\b\f") == R"("\n\r\t\b\f")");
  CHECK(json_string("\x00\x01\x1f"s) == R"("\u0000\u0001\u001f")");
  CHECK(json_string("\x7f") == "\"\x7f\"");  // DEL needs no escape in JSON
}

TEST_CASE("append_json_string passes valid UTF-8 through unchanged", "[unit][schemas]") {
  const std::string text =
      "h\xC3\xA9llo \xE2\x9C\x93 \xF0\x9F\x98\x80 \xEF\xBF\xBF \xF4\x8F\xBF\xBF";
  CHECK(json_string(text) == "\"" + text + "\"");
}

TEST_CASE("append_json_string replaces invalid UTF-8 with U+FFFD", "[unit][schemas]") {
  const std::string fffd = "\xEF\xBF\xBD";
  // One U+FFFD per maximal ill-formed subsequence, as Unicode recommends.
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"a\xFF"s + "b", "a" + fffd + "b"},               // never valid
      {"\x80", fffd},                                   // stray continuation
      {"\xC0\xAF", fffd + fffd},                        // overlong '/'
      {"\xE2\x82"s + "A", fffd + "A"},                  // truncated: one U+FFFD
      {"\xED\xA0\x80", fffd + fffd + fffd},             // UTF-16 surrogate
      {"\xF4\x90\x80\x80", fffd + fffd + fffd + fffd},  // above U+10FFFF
      {"end\xF0\x9F\x98", "end" + fffd},                // cut at the end
  };
  for (const auto& [input, expected] : cases) CHECK(json_string(input) == "\"" + expected + "\"");
  CHECK(json_string("\"\xFF\n") == "\"\\\"" + fffd + "\\n\"");
}

TEST_CASE("append_json_string always yields JSON that parses back", "[unit][schemas]") {
  std::mt19937 rng(12345);  // fixed seed: a failure reproduces
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> length(0, 40);
  for (int i = 0; i < 5000; ++i) {
    std::string s(static_cast<std::size_t>(length(rng)), '\0');
    for (auto& c : s) c = static_cast<char>(byte(rng));
    const auto encoded = json_string(s);
    INFO("encoded: " << encoded);
    nlohmann::json parsed;
    REQUIRE_NOTHROW(parsed = nlohmann::json::parse(encoded));
    REQUIRE(parsed.is_string());
    // Valid input must come back exactly; nlohmann's strict dump tells us which inputs are valid.
    bool valid_utf8 = true;
    try {
      (void)nlohmann::json(s).dump();
    } catch (const nlohmann::json::exception&) {
      valid_utf8 = false;
    }
    if (valid_utf8) CHECK(parsed.get<std::string>() == s);
  }
}

TEST_CASE("append_json_string escapes valid text exactly as nlohmann::json does",
          "[unit][schemas]") {
  // Long strings built from pieces that exercise the word-at-a-time scan, the escapes and the
  // multi-byte sequences at every alignment, and the buffer growth.
  const std::vector<std::string> pieces = {"a",
                                           "plain words ",
                                           "0123456789abcdef",
                                           "\xC3\xA9",
                                           "\xE2\x9C\x93",
                                           "\xF0\x9F\x98\x80",
                                           "\n",
                                           "\"",
                                           "\\",
                                           "\x01",
                                           "\x1f",
                                           "\x7f",
                                           "/",
                                           "\t"};
  std::mt19937 rng(54321);
  std::uniform_int_distribution<std::size_t> pick(0, pieces.size() - 1);
  std::uniform_int_distribution<int> count(0, 3000);
  for (int i = 0; i < 200; ++i) {
    std::string s;
    for (int k = count(rng); k > 0; --k) s += pieces[pick(rng)];
    std::string out = "already here,";
    append_json_string(out, s);
    REQUIRE(out == "already here," + nlohmann::json(s).dump());
  }
}

TEST_CASE("doubles are printed shortest-roundtrip and stay doubles", "[unit][schemas]") {
  CHECK(encode_value(1.0) == "1.0");
  CHECK(encode_value(-0.0) == "-0.0");
  CHECK(encode_value(0.1) == "0.1");
  CHECK(encode_value(1e300) == "1e+300");
  CHECK(encode_value(123456789.0) == "123456789.0");
  const double third = 1.0 / 3.0;
  CHECK(nlohmann::json::parse(encode_value(third)).get<double>() == third);
}

TEST_CASE("NaN and infinities are written as the mapper's strings, never as bare tokens",
          "[unit][schemas]") {
  CHECK(encode_value(std::numeric_limits<double>::quiet_NaN()) == R"("NaN")");
  CHECK(encode_value(std::numeric_limits<double>::infinity()) == R"("Infinity")");
  CHECK(encode_value(-std::numeric_limits<double>::infinity()) == R"("-Infinity")");
}

TEST_CASE("integers are printed exactly", "[unit][schemas]") {
  CHECK(encode_value(std::numeric_limits<std::int64_t>::min()) == "-9223372036854775808");
  CHECK(encode_value(std::numeric_limits<std::int64_t>::max()) == "9223372036854775807");
  CHECK(encode_value(std::int64_t{0}) == "0");
}

TEST_CASE("embedded JSON is written compactly", "[unit][schemas]") {
  CHECK(encode_value(nlohmann::json::parse(R"( { "b" : [ 1 , 2 ] , "a" : { } } )")) ==
        R"({"a":{},"b":[1,2]})");
  CHECK(encode_value(nlohmann::json::array()) == "[]");
}

TEST_CASE("encode_event appends to the buffer", "[unit][schemas]") {
  std::string out = "prefix:";
  encode_event(minimal_update(), out);
  CHECK(out.rfind("prefix:{\"op\":\"u\",\"before\":null,", 0) == 0);
  CHECK(out.back() == '}');
}

TEST_CASE("encode_event always writes unchanged, empty when nothing was left out",
          "[unit][schemas]") {
  const auto json = nlohmann::json::parse(encode_event(minimal_update()));
  REQUIRE(json.contains("unchanged"));
  CHECK(json["unchanged"] == nlohmann::json::array());
}

TEST_CASE("encode_key writes the key columns in order and decode_key reads them back",
          "[unit][schemas]") {
  const row key{{{"tenant", std::string("acme")}, {"id", std::int64_t{7}}}};
  CHECK(encode_key(key) == R"({"tenant":"acme","id":7})");
  std::string out = "k=";
  encode_key(key, out);
  CHECK(out == R"(k={"tenant":"acme","id":7})");

  const auto decoded = decode_key(encode_key(key));
  REQUIRE(decoded.has_value());
  CHECK(*decoded == key);  // column order survives
  CHECK(sluice::test::validate_key(nlohmann::json::parse(encode_key(key))).empty());
}

TEST_CASE("the truncate key {} encodes and decodes as an empty row", "[unit][schemas]") {
  CHECK(encode_key(row{}) == "{}");
  const auto decoded = decode_key("{}");
  REQUIRE(decoded.has_value());
  CHECK(decoded->columns.empty());
  CHECK(sluice::test::validate_key(nlohmann::json::object()).empty());
}

TEST_CASE("decode_key rejects what is not a key", "[unit][schemas]") {
  CHECK(decode_key("[1]").error().message == "key: expected an object, got array");
  CHECK(decode_key("null").error().message == "key: expected an object, got null");
  CHECK(decode_key("\"id\"").error().message == "key: expected an object, got string");
  CHECK(decode_key("{\"id\":").error().message.rfind("invalid JSON: ", 0) == 0);
}

TEST_CASE("decode_event turns every malformed envelope into a decode_error naming the field",
          "[unit][schemas]") {
  struct bad_case {
    std::string json;
    std::string message;
  };
  const auto with = [](auto change) {
    auto j = valid_envelope();
    change(j);
    return j.dump();
  };
  using doc = nlohmann::ordered_json;
  const std::vector<bad_case> cases = {
      {"[]", "event: expected an object, got array"},
      {with([](doc& j) { j["op"] = "x"; }), "op: unknown op 'x' (expected one of c, u, d, r, t)"},
      {with([](doc& j) { j["op"] = "cu"; }), "op: unknown op 'cu' (expected one of c, u, d, r, t)"},
      {with([](doc& j) { j["op"] = 5; }), "op: expected a string, got number"},
      {with([](doc& j) { j.erase("op"); }), "op: missing"},
      {with([](doc& j) { j.erase("ts_ms"); }), "ts_ms: missing"},
      {with([](doc& j) { j["ts_ms"] = "now"; }), "ts_ms: expected an integer, got string"},
      {with([](doc& j) { j["extra"] = 1; }), "extra: unknown field"},
      {with([](doc& j) { j["before"] = "x"; }), "before: expected an object or null, got string"},
      {with([](doc& j) { j["after"] = doc::array(); }),
       "after: expected an object or null, got array"},
      {with([](doc& j) { j["unchanged"] = "note"; }), "unchanged: expected an array, got string"},
      {with([](doc& j) {
         j["unchanged"] = {"a", 1};
       }),
       "unchanged[1]: expected a string, got number"},
      {with([](doc& j) { j["source"] = nullptr; }), "source: expected an object, got null"},
      {with([](doc& j) { j["source"].erase("seq"); }), "source.seq: missing"},
      {with([](doc& j) { j["source"]["seq"] = "3"; }),
       "source.seq: expected an integer, got string"},
      {with([](doc& j) { j["source"]["seq"] = 1.5; }), "source.seq: expected an integer, got 1.5"},
      {with([](doc& j) { j["source"]["seq"] = -1; }), "source.seq: -1 is outside [0, 4294967295]"},
      {with([](doc& j) { j["source"]["seq"] = 4294967296; }),
       "source.seq: 4294967296 is outside [0, 4294967295]"},
      {with([](doc& j) { j["source"]["txId"] = -5; }),
       "source.txId: -5 is outside [0, 9223372036854775807]"},
      {with([](doc& j) { j["source"]["ts_ms"] = 18446744073709551615u; }),
       "source.ts_ms: 18446744073709551615 is outside "
       "[-9223372036854775808, 9223372036854775807]"},
      {with([](doc& j) { j["source"]["commit_lsn"] = "xyz"; }),
       "source.commit_lsn: not an LSN: 'xyz'"},
      {with([](doc& j) { j["source"]["lsn"] = "0/16B3748 "; }),
       "source.lsn: not an LSN: '0/16B3748 '"},
      {with([](doc& j) { j["source"]["lsn"] = 23541576; }),
       "source.lsn: expected an LSN string, got number"},
      {with([](doc& j) { j["source"]["db"] = true; }), "source.db: expected a string, got boolean"},
      {with([](doc& j) { j["source"]["snapshot"] = "false"; }),
       "source.snapshot: expected a boolean, got string"},
      {with([](doc& j) { j["source"]["origin"] = "x"; }), "source.origin: unknown field"},
      {with([](doc& j) {
         j["op"] = "c";
         j["before"] = doc::object({{"id", 7}});
       }),
       "before: must be null for op 'c'"},
      {with([](doc& j) {
         j["op"] = "r";
         j["unchanged"] = doc::array();
         j["after"] = nullptr;
       }),
       "after: must be an object for op 'r'"},
      {with([](doc& j) { j["after"] = nullptr; }), "after: must be an object for op 'u'"},
      {with([](doc& j) {
         j["op"] = "d";
         j["unchanged"] = doc::array();
       }),
       "before: must be an object for op 'd'"},
      {with([](doc& j) {
         j["op"] = "d";
         j["unchanged"] = doc::array();
         j["before"] = doc::object({{"id", 7}});
       }),
       "after: must be null for op 'd'"},
      {with([](doc& j) {
         j["op"] = "t";
         j["after"] = nullptr;
       }),
       "unchanged: must be empty for op 't'"},
      {with([](doc& j) {
         j["op"] = "t";
         j["unchanged"] = doc::array();
       }),
       "after: must be null for op 't'"},
      {with([](doc& j) { j["op"] = "r"; }), "unchanged: must be empty for op 'r'"},
  };
  for (const auto& c : cases) {
    INFO("input: " << c.json);
    const auto decoded = decode_event(c.json);
    REQUIRE_FALSE(decoded.has_value());
    CHECK(decoded.error().message == c.message);
    // The JSON Schema must refuse the same envelope: sinks and tests agree on what is valid.
    CHECK_FALSE(sluice::test::validate_event(nlohmann::json::parse(c.json)).empty());
  }
}

TEST_CASE("decode_event rejects an unchanged column that after also carries", "[unit][schemas]") {
  // A rule the JSON Schema cannot state; only the decoder enforces it.
  auto j = valid_envelope();
  j["unchanged"] = {"status"};
  const auto decoded = decode_event(j.dump());
  REQUIRE_FALSE(decoded.has_value());
  CHECK(decoded.error().message == "unchanged[0]: column 'status' is also present in after");
}

TEST_CASE("decode_event accepts unchanged columns in the create of a moved row",
          "[unit][schemas]") {
  // An update that changes the key becomes delete + tombstone + create; Postgres still leaves
  // out unmodified TOASTed columns, and the create says so rather than inventing values.
  auto j = valid_envelope();
  j["op"] = "c";
  const auto decoded = decode_event(j.dump());
  INFO((decoded ? "" : decoded.error().message));
  REQUIRE(decoded.has_value());
  CHECK(decoded->unchanged == std::vector<std::string>{"note"});
  CHECK(sluice::test::validate_event(nlohmann::json::parse(j.dump())).empty());
}

TEST_CASE("decode_event reports text that is not JSON without throwing", "[unit][schemas]") {
  for (const std::string& bad :
       {""s, "{"s, "{\"op\":}"s, "nul"s, "{} trailing"s, "{\"op\":\"\xFF\"}"s}) {
    INFO("input: " << bad);
    std::expected<change_event, decode_error> decoded = change_event{};
    REQUIRE_NOTHROW(decoded = decode_event(bad));
    REQUIRE_FALSE(decoded.has_value());
    CHECK(decoded.error().message.rfind("invalid JSON: ", 0) == 0);
  }
}

TEST_CASE("decode_event accepts the valid base envelope of the negative tests", "[unit][schemas]") {
  const auto decoded = decode_event(valid_envelope().dump());
  INFO((decoded ? "" : decoded.error().message));
  REQUIRE(decoded.has_value());
  CHECK(decoded->op == op::update);
  CHECK_FALSE(decoded->before.has_value());
  CHECK(decoded->unchanged == std::vector<std::string>{"note"});
  CHECK(decoded->source.commit_lsn == lsn{0x16B37A0});
  CHECK(decoded->source.seq == 3);
  CHECK(sluice::test::validate_event(nlohmann::json::parse(valid_envelope().dump())).empty());
}

TEST_CASE("decode_event keeps columns in document order", "[unit][schemas]") {
  auto j = valid_envelope();
  j["unchanged"] = nlohmann::ordered_json::array();
  j["after"] = nlohmann::ordered_json::parse(R"({"zeta":1,"alpha":{"y":1,"x":2},"mid":null})");
  const auto decoded = decode_event(j.dump());
  REQUIRE(decoded.has_value());
  REQUIRE(decoded->after->columns.size() == 3);
  CHECK(decoded->after->columns[0].name == "zeta");
  CHECK(decoded->after->columns[1].name == "alpha");
  CHECK(decoded->after->columns[2].name == "mid");
  CHECK(decoded->after->columns[1].v == value{nlohmann::json{{"x", 2}, {"y", 1}}});
}
