// The Redis cache's pure step: events → batch script arguments, key templates, field encoding.

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "sluice/schemas/codec.hpp"
#include "sluice/sinks/redis/plan.hpp"

using namespace sluice;
using namespace sluice::sinks;
using namespace sluice::sinks::redis;

namespace {

sink_event event_from(const std::string& key, const std::string& value, std::int64_t offset = 0) {
  sink_event e;
  e.record = {"shop.public.orders", 0, offset, key, value};
  e.key = *schemas::decode_key(key);
  auto change = schemas::decode_event(value);
  REQUIRE(change);
  e.change = *change;
  e.table = "public.orders";
  return e;
}

sink_event tombstone(const std::string& key, std::optional<schemas::position> of = std::nullopt) {
  sink_event e;
  e.record = {"shop.public.orders", 0, 9, key, std::nullopt};
  e.key = *schemas::decode_key(key);
  e.table = "public.orders";
  e.tombstone_of = of;
  return e;
}

std::string event_json(const std::string& op, const std::string& after,
                       const std::string& commit_lsn, int seq, const std::string& unchanged = "[]",
                       const std::string& before = "null") {
  return R"({"op":")" + op + R"(","before":)" + before + R"(,"after":)" + after +
         R"(,"unchanged":)" + unchanged +
         R"(,"source":{"connector":"sluice","version":"0.1.0","db":"shop","schema":"public","table":"orders","lsn":"0/1","commit_lsn":")" +
         commit_lsn + R"(","seq":)" + std::to_string(seq) +
         R"(,"txId":7,"ts_ms":1,"snapshot":false},"ts_ms":2})";
}

std::optional<std::string> ids(const table_ref& t) {
  if (t == "public.orders") return std::string("1");
  return std::nullopt;
}

batch_plan plan(const std::vector<sink_event>& events, const cache_options& o,
                std::vector<partition_offset> offsets = {}) {
  auto key = key_template::parse(o.key_template);
  REQUIRE(key);
  auto p = plan_batch(events, o, *key, ids, offsets);
  REQUIRE(p);
  return *p;
}

using args = std::vector<std::string>;

}  // namespace

TEST_CASE("key templates render from the record key", "[unit][sinks]") {
  auto t = key_template::parse("line:{order_id}:{n}");
  REQUIRE(t);
  CHECK(t->columns() == std::vector<std::string>{"order_id", "n"});
  CHECK(t->render(*schemas::decode_key(R"({"order_id":7,"n":"a b"})")) == "line:7:a b");
  auto missing = t->render(*schemas::decode_key(R"({"order_id":7})"));
  REQUIRE_FALSE(missing);
  CHECK(missing.error() ==
        "key template 'line:{order_id}:{n}' needs column 'n', which the record key does not have "
        "(key columns: order_id)");
  CHECK(key_template::parse("{id}")->render(*schemas::decode_key(R"({"id":null})")).error() ==
        "key column 'id' is null");
  CHECK(key_template::parse("order:{id").error() == "has a '{' without a matching '}'");
  CHECK(key_template::parse("order:id}").error() == "has a '}' without a matching '{'");
  CHECK(key_template::parse("order").error() == "must reference at least one column");
  CHECK(key_template::parse("o:{1x}").error() == "has '{1x}', not a column name");
}

TEST_CASE("hash fields: documented encodings", "[unit][sinks]") {
  CHECK_FALSE(field_text(schemas::null_value{}).has_value());
  CHECK(field_text(true) == "true");
  CHECK(field_text(false) == "false");
  CHECK(field_text(std::int64_t{-42}) == "-42");
  CHECK(field_text(1.0) == "1.0");
  CHECK(field_text(0.1) == "0.1");
  CHECK(field_text(std::string("19.99")) == "19.99");
  CHECK(field_text(std::string("say \"hi\"")) == "say \"hi\"");
  CHECK(field_text(nlohmann::json::parse(R"({"b":[1,2],"a":"x"})")) == R"({"a":"x","b":[1,2]})");
}

TEST_CASE("positions encode in an order that strings compare the same way", "[unit][sinks]") {
  const auto a = encode_position({schemas::lsn{0x16B37A0}, 3});
  const auto b = encode_position({schemas::lsn{0x16B37A0}, 12});
  const auto c = encode_position({schemas::lsn{0x100000000}, 0});
  CHECK(a == "00000000016B37A000000003");
  CHECK(a < b);
  CHECK(b < c);
}

TEST_CASE("a batch becomes one script run: upserts, deletes, tombstones", "[unit][sinks]") {
  cache_options o;
  o.key_template = "order:{id}";
  const std::vector<sink_event> events{
      event_from(R"({"id":7})",
                 event_json("c", R"({"id":7,"status":"new","paid":false,"note":null})", "0/10", 0),
                 0),
      event_from(R"({"id":7})", event_json("d", "null", "0/20", 0, "[]", R"({"id":7})"), 1),
      tombstone(R"({"id":7})", schemas::position{schemas::lsn{0x20}, 0}),
      tombstone(R"({"id":8})"),
  };
  auto p = plan(events, o, {{{"shop.public.orders", 0}, 10}});
  CHECK(p.operations == 4);
  CHECK(p.event_of_operation == std::vector<std::size_t>{0, 1, 2, 3});
  CHECK(p.args == args{"h", "0", "0", "4",
                       // the null note is left out of the hash
                       "U", "order:7", "000000000000001000000000", "1", "3", "id", "7", "status",
                       "new", "paid", "false", "0", "D", "order:7", "000000000000002000000000", "1",
                       // a tombstone right after its delete carries the delete's position
                       "X", "order:7", "1", "000000000000002000000000",
                       // one met alone carries none
                       "X", "order:8", "1", "", "1", "shop.public.orders/0", "10"});
}

TEST_CASE("unchanged TOAST columns are kept, include/exclude and TTL apply", "[unit][sinks]") {
  cache_options o;
  o.key_template = "order:{id}";
  o.exclude_columns = {"secret", "note"};
  o.ttl_seconds = 60;
  const std::vector<sink_event> events{event_from(
      R"({"id":7})",
      event_json("u", R"({"id":7,"status":"paid","note":"x"})", "0/10", 2, R"(["big","secret"])"))};
  auto p = plan(events, o);
  CHECK(p.args == args{"h", "60", "0", "1", "U", "order:7", "000000000000001000000002", "1", "2",
                       "id", "7", "status", "paid", "1", "big", "0"});

  o.format = row_format::json;
  o.exclude_columns.clear();
  o.include_columns = {"id", "status", "big"};
  p = plan(events, o);
  CHECK(p.args == args{"j", "60", "0", "1", "J", "order:7", "000000000000001000000002", "1",
                       R"({"id":7,"status":"paid"})", "1", "big", "0"});
}

TEST_CASE("json rows keep nulls and embedded JSON", "[unit][sinks]") {
  cache_options o;
  o.key_template = "o:{id}";
  o.format = row_format::json;
  const std::vector<sink_event> events{
      event_from(R"({"id":1})",
                 event_json("r", R"({"id":1,"note":null,"tags":{"b":1,"a":[true]}})", "0/5", 0))};
  auto p = plan(events, o);
  CHECK(p.args.at(8) == R"({"id":1,"note":null,"tags":{"a":[true],"b":1}})");
}

TEST_CASE("truncates become floors of their table, wherever they sit", "[unit][sinks]") {
  cache_options o;
  o.key_template = "order:{id}";
  std::vector<sink_event> events{
      event_from("{}", event_json("t", "null", "0/30", 1), 3),
      event_from("{}", event_json("t", "null", "0/20", 0), 2),
      event_from(R"({"id":1})", event_json("c", R"({"id":1})", "0/40", 0), 4),
  };
  auto p = plan(events, o);
  CHECK(p.truncated_table_ids == std::vector<std::string>{"1"});
  CHECK(p.args == args{"h", "0", "1", "1", "000000000000003000000001", "1", "U", "order:1",
                       "000000000000004000000000", "1", "1", "id", "1", "0", "0"});
}

TEST_CASE("events that cannot be cached are bad events with their index", "[unit][sinks]") {
  cache_options o;
  o.key_template = "order:{order_no}";
  auto key = key_template::parse(o.key_template);
  std::vector<sink_event> events{
      event_from(R"({"order_no":1})", event_json("c", R"({"order_no":1})", "0/1", 0)),
      event_from(R"({"id":2})", event_json("c", R"({"id":2})", "0/1", 1)),
  };
  auto p = plan_batch(events, o, *key, ids, {});
  REQUIRE_FALSE(p);
  CHECK(p.error().index == 1);
  CHECK_THAT(p.error().reason, Catch::Contains("needs column 'order_no'"));

  events.resize(1);
  events[0].table = "public.other";
  p = plan_batch(events, o, *key, ids, {});
  REQUIRE_FALSE(p);
  CHECK(p.error().reason == "table public.other is not cached by this sink");
}
