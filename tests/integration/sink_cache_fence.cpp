// The Redis cache's check-and-write is atomic against a real Redis: a worker that read the
// positions of its batch, then lost the partition to another worker that wrote a newer change,
// cannot overwrite that change. Its transaction is refused, and decided again it skips.
// (The worker's steps are the public plan/read/decide functions, sent on a raw connection so
// that the other worker's write can land between the read and the write.)

#include <hiredis/hiredis.h>

#include <catch2/catch.hpp>
#include <memory>

#include "sluice/schemas/codec.hpp"
#include "sluice/sinks/redis/plan.hpp"
#include "sluice/sinks/redis/redis_cache.hpp"
#include "support/services.hpp"
#include "support/sink_harness.hpp"

using namespace sluice;
using namespace sluice::sinks;
using namespace sluice::sinks::redis;

namespace {

const std::string topic = "fence.public.orders";

sink_event order_event(std::int64_t offset, const std::string& commit_lsn,
                       const std::string& status) {
  const std::string value =
      R"({"op":"u","before":null,"after":{"id":7,"status":")" + status +
      R"("},"unchanged":[],"source":{"connector":"sluice","version":"0.1.0","db":"shop","schema":"public","table":"orders","lsn":")" +
      commit_lsn + R"(","commit_lsn":")" + commit_lsn +
      R"(","seq":0,"txId":7,"ts_ms":1,"snapshot":false},"ts_ms":2})";
  sink_event e;
  e.record = {topic, 0, offset, R"({"id":7})", value};
  e.key = *schemas::decode_key(e.record.key);
  auto change = schemas::decode_event(value);
  REQUIRE(change);
  e.change = *change;
  e.table = "public.orders";
  return e;
}

struct raw_connection {
  std::unique_ptr<redisContext, void (*)(redisContext*)> ctx{nullptr, redisFree};

  explicit raw_connection(int database) {
    const std::string url = test::redis_url();
    std::string rest = url.substr(url.find("://") + 3);
    rest = rest.substr(0, rest.find('/'));
    const auto colon = rest.rfind(':');
    ctx.reset(redisConnect(rest.substr(0, colon).c_str(), std::stoi(rest.substr(colon + 1))));
    REQUIRE(ctx);
    REQUIRE(ctx->err == 0);
    request select;
    select.command({"SELECT", std::to_string(database)});
    send(select);
  }

  // Sends the request and returns its last reply (the caller frees nothing: it is copied).
  struct last_reply {
    int type = 0;
    std::vector<std::optional<std::string>> elements;
  };
  last_reply send(const request& r) {
    REQUIRE(redisAppendFormattedCommand(ctx.get(), r.bytes().data(), r.bytes().size()) == REDIS_OK);
    last_reply out;
    for (std::size_t i = 0; i < r.commands(); ++i) {
      void* raw = nullptr;
      REQUIRE(redisGetReply(ctx.get(), &raw) == REDIS_OK);
      auto* reply = static_cast<redisReply*>(raw);
      out = {};
      out.type = reply->type;
      for (std::size_t j = 0; j < reply->elements; ++j) {
        const auto* e = reply->element[j];
        out.elements.push_back(e->type == REDIS_REPLY_STRING
                                   ? std::optional<std::string>(std::string(e->str, e->len))
                                   : std::nullopt);
      }
      freeReplyObject(reply);
    }
    return out;
  }
};

}  // namespace

TEST_CASE("a worker that lost its partition cannot overwrite the new owner's newer write",
          "[integration][sink]") {
  test::redis_database db(test::unique_name("fence"));
  cache_options options;
  options.key_template = "order:{id}";
  const cache_target target{db.url(), std::nullopt, "fence/cache", {"public.orders"}};
  redis_cache new_owner(target, options);
  new_owner.open();

  const std::vector<sink_event> stale{order_event(3, "0/10", "old")};
  const std::vector<sink_event> newer{order_event(4, "0/20", "new")};
  auto key = key_template::parse(options.key_template);
  REQUIRE(key);
  auto plan = plan_batch(stale, options, *key,
                         [](const table_ref&) { return std::optional<std::string>("1"); });
  REQUIRE(plan);
  const std::vector<partition_offset> offsets{{{topic, 0}, 4}};
  auto table_name = [](const std::string&) { return std::string("public.orders"); };

  // The old owner reads its batch's positions (nothing stored yet) under WATCH...
  raw_connection old_owner(db.number());
  const request reads = read_request(*plan, options);
  auto first_read = old_owner.send(reads);
  REQUIRE(first_read.elements.size() == 1);  // the floors, the last read: none yet
  stored_state nothing;
  nothing.entries = {std::nullopt};
  nothing.rows = {std::nullopt};
  auto writes = decide(stale, *plan, nothing, options, offsets, table_name);
  REQUIRE(writes);
  CHECK(writes->written == 1);

  // ...the new owner of the partition applies a newer change of the same key...
  auto applied = new_owner.apply(newer, {{{topic, 0}, 5}});
  REQUIRE(applied);
  CHECK(applied->written == 1);

  // ...and the old owner's transaction does nothing (EXEC answers nil).
  auto outcome = old_owner.send(writes->transaction);
  CHECK(outcome.type == REDIS_REPLY_NIL);
  CHECK(test::redis_command(db.number(), {"HGET", "order:7", "status"}) == "new");

  // Read again, the old owner finds the newer position and skips its change.
  old_owner.send(reads);
  stored_state stored;
  stored.entries = {test::redis_command(db.number(), {"HGET", "__sluice:rows", "order:7"})};
  stored.rows = {std::nullopt};
  auto second = decide(stale, *plan, stored, options, offsets, table_name);
  REQUIRE(second);
  CHECK(second->written == 0);
  CHECK(second->skipped == 1);
  CHECK(old_owner.send(second->transaction).type == REDIS_REPLY_ARRAY);
  CHECK(test::redis_command(db.number(), {"HGET", "order:7", "status"}) == "new");

  // Without a write in between, the same steps go through.
  redis_cache quiet(target, options);
  quiet.open();
  const std::vector<sink_event> latest{order_event(5, "0/30", "later")};
  auto later = quiet.apply(latest, {{{topic, 0}, 6}});
  REQUIRE(later);
  CHECK(later->written == 1);
  CHECK(test::redis_command(db.number(), {"HGET", "order:7", "status"}) == "later");
}
