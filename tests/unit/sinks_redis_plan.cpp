// The Redis cache's pure steps: key templates, field encoding, events → operations → what to
// read → the transaction that writes what is newer.

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

batch_plan plan(const std::vector<sink_event>& events, const cache_options& o) {
  auto key = key_template::parse(o.key_template);
  REQUIRE(key);
  auto p = plan_batch(events, o, *key, ids);
  REQUIRE(p);
  return *p;
}

using command = std::vector<std::string>;
using commands = std::vector<command>;

// A request's RESP bytes back into commands, to compare with what a test expects.
commands parse(const request& r) {
  commands out;
  const std::string& b = r.bytes();
  std::size_t i = 0;
  auto number = [&](char prefix) {
    REQUIRE(b.at(i) == prefix);
    const auto end = b.find("\r\n", i);
    const auto n = std::stoul(b.substr(i + 1, end - i - 1));
    i = end + 2;
    return n;
  };
  while (i < b.size()) {
    command c;
    for (auto argc = number('*'); argc > 0; --argc) {
      const auto len = number('$');
      c.push_back(b.substr(i, len));
      i += len + 2;
    }
    out.push_back(std::move(c));
  }
  CHECK(out.size() == r.commands());
  return out;
}

std::string name_of(const std::string& id) {
  return id == "1" ? "public.orders" : "public.other";
}

// decide() on a plan, with Redis holding `entries` (by key) and `floors` (by table id), and
// for updates that keep columns, the stored json `rows` or hash `fields` (by key).
batch_writes run(const std::vector<sink_event>& events, const cache_options& o,
                 const std::map<std::string, std::string>& entries = {},
                 const std::map<std::string, std::string>& floors = {},
                 const std::map<std::string, std::string>& rows = {},
                 const std::map<std::string, std::vector<std::string>>& fields = {}) {
  const batch_plan p = plan(events, o);
  stored_state stored;
  stored.floors = floors;
  for (const auto& op : p.ops) {
    auto e = entries.find(op.key);
    stored.entries.push_back(e == entries.end() ? std::nullopt
                                                : std::optional<std::string>(e->second));
    auto r = rows.find(op.key);
    stored.rows.push_back(needs_stored_row(op) && r != rows.end()
                              ? std::optional<std::string>(r->second)
                              : std::nullopt);
    auto f = fields.find(op.key);
    stored.fields.push_back(needs_stored_row(op) && f != fields.end() ? f->second
                                                                      : std::vector<std::string>{});
  }
  auto w = decide(events, p, stored, o, {{{"shop.public.orders", 0}, 10}}, name_of);
  REQUIRE(w);
  return std::move(*w);
}

const std::string pos10 = "000000000000001000000000";
const std::string pos20 = "000000000000002000000000";

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

TEST_CASE("a batch becomes operations, reads under WATCH, then one transaction", "[unit][sinks]") {
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
  const batch_plan p = plan(events, o);
  REQUIRE(p.ops.size() == 4);
  CHECK(p.ops[0].what == cache_op::kind::upsert);
  CHECK(p.ops[1].what == cache_op::kind::remove);
  CHECK(p.ops[2].what == cache_op::kind::tombstone);
  CHECK(p.ops[2].position == pos20);  // a tombstone right after its delete has its position
  CHECK(p.ops[3].position.empty());   // one met alone has none
  CHECK(p.partitions == std::vector<std::string>{"shop.public.orders/0"});
  CHECK(p.table_ids == std::vector<std::string>{"1"});

  CHECK(parse(read_request(p, o)) ==
        commands{
            {"WATCH", "__sluice:pause", "__sluice:floors", "__sluice:fence:shop.public.orders/0"},
            {"GET", "__sluice:pause"},
            {"HMGET", "__sluice:rows", "order:7", "order:7", "order:7", "order:8"},
            {"HMGET", "__sluice:floors", "1"}});

  auto w = run(events, o);
  CHECK(w.written == 3);
  CHECK(w.skipped == 1);  // the tombstone: its delete is already applied
  CHECK(parse(w.transaction) ==
        commands{{"MULTI"},
                 // the null note is left out of the hash
                 {"HSET", "order:7", "id", "7", "status", "new", "paid", "false"},
                 {"DEL", "order:7"},
                 {"DEL", "order:8"},
                 {"HSET", "__sluice:rows", "order:7", pos20 + "d1"},
                 {"HDEL", "__sluice:rows", "order:8"},
                 {"INCR", "__sluice:fence:shop.public.orders/0"},
                 {"HSET", "__sluice:offsets", "shop.public.orders/0", "10"},
                 {"EXEC"}});
}

TEST_CASE("only events newer than the key's stored position are written", "[unit][sinks]") {
  cache_options o;
  o.key_template = "order:{id}";
  const std::vector<sink_event> events{
      event_from(R"({"id":7})", event_json("u", R"({"id":7,"status":"paid"})", "0/10", 0))};
  // Redis holds a newer write (a redelivery, a replayed batch): nothing but the bookkeeping.
  auto w = run(events, o, {{"order:7", pos20 + "l1"}});
  CHECK(w.written == 0);
  CHECK(w.skipped == 1);
  CHECK(parse(w.transaction).size() == 4);  // MULTI, INCR fence, HSET offsets, EXEC
  // The same position again is not newer either.
  CHECK(run(events, o, {{"order:7", pos10 + "l1"}}).skipped == 1);
  // An older live row is replaced whole, so fields of columns now NULL do not survive.
  w = run(events, o, {{"order:7", "000000000000000500000000l1"}});
  CHECK(w.written == 1);
  const auto c = parse(w.transaction);
  CHECK(c.at(1) == command{"DEL", "order:7"});
  CHECK(c.at(2) == command{"HSET", "order:7", "id", "7", "status", "paid"});
  CHECK(c.at(3) == command{"HSET", "__sluice:rows", "order:7", pos10 + "l1"});
}

TEST_CASE("unchanged TOAST columns are kept, include/exclude and TTL apply", "[unit][sinks]") {
  cache_options o;
  o.key_template = "order:{id}";
  o.exclude_columns = {"secret", "note"};
  const std::vector<sink_event> events{
      event_from(R"({"id":7})", event_json("u", R"({"id":7,"status":"paid","note":"x","tip":null})",
                                           "0/10", 2, R"(["big","secret"])"))};
  const std::string pos = "000000000000001000000002";
  const std::string older = "000000000000000100000000l1";
  // hash: the kept field is left alone (no DEL); a column now NULL is removed by name.
  auto c = parse(run(events, o, {{"order:7", older}}).transaction);
  CHECK(c.at(1) == command{"HSET", "order:7", "id", "7", "status", "paid"});
  CHECK(c.at(2) == command{"HDEL", "order:7", "tip"});
  CHECK(c.at(3) == command{"HSET", "__sluice:rows", "order:7", pos + "l1"});

  // Redis is asked for the hash's fields: with a TTL the row may have expired.
  o.ttl_seconds = 60;
  const batch_plan p = plan(events, o);
  CHECK(parse(read_request(p, o)).back() == command{"HKEYS", "order:7"});
  c = parse(run(events, o, {{"order:7", older}}, {}, {}, {{"order:7", {"big"}}}).transaction);
  CHECK(c.at(3) == command{"EXPIRE", "order:7", "60"});
  // It expired: no partial row (the next full write brings it back), but the position moves.
  auto w = run(events, o, {{"order:7", older}});
  c = parse(w.transaction);
  CHECK(w.written == 1);
  CHECK(w.left_absent == 1);
  CHECK(c.at(1) == command{"HSET", "__sluice:rows", "order:7", pos + "l1"});

  // json: the kept members come from the stored document.
  o.format = row_format::json;
  o.exclude_columns.clear();
  o.include_columns = {"id", "status", "big"};
  o.ttl_seconds.reset();
  c = parse(run(events, o, {{"order:7", older}}, {},
                {{"order:7", R"({"id":7,"status":"new","big":"xxxx"})"}})
                .transaction);
  CHECK(c.at(1) == command{"SET", "order:7", R"({"id":7,"status":"paid","big":"xxxx"})"});
}

TEST_CASE("an update that keeps columns removes the fields of columns the row no longer has",
          "[unit][sinks]") {
  cache_options o;
  o.key_template = "order:{id}";
  const std::string older = "000000000000000100000000l1";
  const std::vector<sink_event> events{event_from(
      R"({"id":7})", event_json("u", R"({"id":7,"v":2,"tip":null})", "0/10", 0, R"(["big"])"))};
  // old_col was dropped from the table; tip is NULL now; big is kept as it is.
  auto c = parse(run(events, o, {{"order:7", older}}, {}, {},
                     {{"order:7", {"id", "v", "old_col", "big", "tip"}}})
                     .transaction);
  CHECK(c.at(1) == command{"HSET", "order:7", "id", "7", "v", "2"});
  CHECK(c.at(2) == command{"HDEL", "order:7", "tip", "old_col"});
  // A column excluded since the row was written goes too.
  o.exclude_columns = {"v"};
  c = parse(
      run(events, o, {{"order:7", older}}, {}, {}, {{"order:7", {"id", "v", "big"}}}).transaction);
  CHECK(c.at(1) == command{"HSET", "order:7", "id", "7"});
  CHECK(c.at(2) == command{"HDEL", "order:7", "tip", "v"});
  // Nothing to remove: no HDEL.
  o.exclude_columns.clear();
  const std::vector<sink_event> plain{
      event_from(R"({"id":7})", event_json("u", R"({"id":7,"v":3})", "0/10", 0, R"(["big"])"))};
  c = parse(
      run(plain, o, {{"order:7", older}}, {}, {}, {{"order:7", {"id", "v", "big"}}}).transaction);
  CHECK(c.at(2).at(0) == "HSET");
  CHECK(c.at(2).at(1) == "__sluice:rows");
}

TEST_CASE("a partly applied batch's bookkeeping is put back as it was read", "[unit][sinks]") {
  cache_options o;
  o.key_template = "order:{id}";
  const std::string older = "000000000000000100000000l1";
  const std::vector<sink_event> events{
      event_from(R"({"id":7})", event_json("u", R"({"id":7,"v":1})", "0/10", 0), 5),
      event_from(R"({"id":8})", event_json("c", R"({"id":8,"v":1})", "0/10", 1), 6),
      event_from(R"({"id":7})", event_json("u", R"({"id":7,"v":2})", "0/11", 0), 7)};
  const batch_plan p = plan(events, o);
  stored_state stored;
  stored.entries = {older, std::nullopt, older};
  stored.floors = {{"1", pos10}};
  batch_writes writes;
  writes.raised_floors = {"1"};
  const auto c = parse(undo_request(events, p, stored, writes));
  const commands expected{{"MULTI"},
                          {"HSET", "__sluice:rows", "order:7", older},
                          {"HDEL", "__sluice:rows", "order:8"},
                          {"HSET", "__sluice:floors", "1", pos10},
                          {"HDEL", "__sluice:sweeps", "1"},
                          {"HSET", "__sluice:offsets", "shop.public.orders/0", "5"},
                          {"INCR", "__sluice:fence:shop.public.orders/0"},
                          {"EXEC"}};
  CHECK(c == expected);
}

TEST_CASE("kept columns follow earlier writes of the same batch", "[unit][sinks]") {
  cache_options o;
  o.key_template = "order:{id}";
  o.format = row_format::json;
  const std::vector<sink_event> events{
      event_from(R"({"id":7})", event_json("c", R"({"id":7,"big":"v1","n":1})", "0/10", 0), 0),
      event_from(R"({"id":7})", event_json("u", R"({"id":7,"n":2})", "0/11", 0, R"(["big"])"), 1),
      event_from(R"({"id":7})", event_json("u", R"({"id":7,"n":3})", "0/12", 0, R"(["big"])"), 2)};
  // Redis holds nothing yet: the first event of the batch wrote the row the others keep from.
  auto c = parse(run(events, o).transaction);
  CHECK(c.at(1) == command{"SET", "order:7", R"({"id":7,"big":"v1","n":1})"});
  CHECK(c.at(2) == command{"SET", "order:7", R"({"id":7,"n":2,"big":"v1"})"});
  CHECK(c.at(3) == command{"SET", "order:7", R"({"id":7,"n":3,"big":"v1"})"});
}

TEST_CASE("json rows keep nulls and embedded JSON", "[unit][sinks]") {
  cache_options o;
  o.key_template = "o:{id}";
  o.format = row_format::json;
  const std::vector<sink_event> events{
      event_from(R"({"id":1})",
                 event_json("r", R"({"id":1,"note":null,"tags":{"b":1,"a":[true]}})", "0/5", 0))};
  CHECK(parse(run(events, o).transaction).at(1) ==
        command{"SET", "o:1", R"({"id":1,"note":null,"tags":{"a":[true],"b":1}})"});
}

TEST_CASE("truncates raise their table's floor, wherever they sit in the batch", "[unit][sinks]") {
  cache_options o;
  o.key_template = "order:{id}";
  std::vector<sink_event> events{
      event_from(R"({"id":2})", event_json("c", R"({"id":2})", "0/25", 0), 1),
      event_from("{}", event_json("t", "null", "0/30", 1), 3),
      event_from("{}", event_json("t", "null", "0/20", 0), 2),
      event_from(R"({"id":1})", event_json("c", R"({"id":1})", "0/40", 0), 4),
  };
  const std::string floor = "000000000000003000000001";
  CHECK(plan(events, o).truncates == std::map<std::string, std::string>{{"1", floor}});
  auto w = run(events, o);
  CHECK(w.raised_floors == std::vector<std::string>{"1"});
  CHECK(w.written == 1);
  CHECK(w.skipped == 1);  // id 2 came before the truncate
  const auto c = parse(w.transaction);
  CHECK(c.at(1) == command{"HSET", "order:1", "id", "1"});
  CHECK(c.at(3) == command{"HSET", "__sluice:floors", "1", floor});
  CHECK(c.at(4) == command{"HSET", "__sluice:sweeps", "1", "0"});
  // A floor Redis already holds is not raised again (another worker's copy of the truncate).
  CHECK(run(events, o, {}, {{"1", floor}}).raised_floors.empty());
}

TEST_CASE("a key that holds another table's row is refused before anything is written",
          "[unit][sinks]") {
  cache_options o;
  o.key_template = "order:{id}";
  const std::vector<sink_event> events{
      event_from(R"({"id":7})", event_json("c", R"({"id":7})", "0/10", 0))};
  const batch_plan p = plan(events, o);
  stored_state stored;
  stored.entries = {pos10 + "l2"};
  stored.rows.resize(1);
  auto w = decide(events, p, stored, o, {}, name_of);
  REQUIRE_FALSE(w);
  CHECK(w.error().index == 0);
  CHECK_THAT(w.error().reason, Catch::Contains("already holds a row of public.other"));
}

TEST_CASE("json_members finds each top-level member's raw text", "[unit][sinks]") {
  const auto m = json_members(R"({"a":1,"b\"q":"x,}y","c":{"d":[1,{"e":2}]},"f":null})");
  REQUIRE(m.size() == 4);
  CHECK(m[0] == std::pair<std::string_view, std::string_view>{"a", "1"});
  CHECK(m[1] == std::pair<std::string_view, std::string_view>{R"(b\"q)", R"("x,}y")"});
  CHECK(m[2].second == R"({"d":[1,{"e":2}]})");
  CHECK(m[3].second == "null");
  CHECK(json_members("{}").empty());
  CHECK(json_members("not json").empty());
}

TEST_CASE("events that cannot be cached are bad events with their index", "[unit][sinks]") {
  cache_options o;
  o.key_template = "order:{order_no}";
  auto key = key_template::parse(o.key_template);
  std::vector<sink_event> events{
      event_from(R"({"order_no":1})", event_json("c", R"({"order_no":1})", "0/1", 0)),
      event_from(R"({"id":2})", event_json("c", R"({"id":2})", "0/1", 1)),
  };
  auto p = plan_batch(events, o, *key, ids);
  REQUIRE_FALSE(p);
  CHECK(p.error().index == 1);
  CHECK_THAT(p.error().reason, Catch::Contains("needs column 'order_no'"));

  events.resize(1);
  events[0].table = "public.other";
  p = plan_batch(events, o, *key, ids);
  REQUIRE_FALSE(p);
  CHECK(p.error().reason == "table public.other is not cached by this sink");
}
