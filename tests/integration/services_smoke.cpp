// The real services the project starts (scripts/services.sh) answer through the client
// libraries sluice uses: librdkafka (via transport), libpqxx and hiredis.
#include <hiredis/hiredis.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <pqxx/pqxx>

#include "sluice/transport/kafka_consumer.hpp"
#include "sluice/transport/kafka_producer.hpp"
#include "sluice/transport/topic_admin.hpp"
#include "support/services.hpp"

using namespace sluice;

TEST_CASE("Postgres runs with wal_level=logical", "[integration][services]") {
  pqxx::connection conn(test::pg_dsn());
  pqxx::work tx(conn);
  CHECK(tx.exec1("SHOW wal_level")[0].as<std::string>() == "logical");
  CHECK(tx.exec1("SELECT current_setting('max_replication_slots')::int")[0].as<int>() >= 10);
}

TEST_CASE("Kafka accepts a record and gives it back", "[integration][services]") {
  const std::string topic = test::unique_name("smoke");
  REQUIRE(transport::ensure_topics(test::kafka_brokers(), {{topic, 1, 1, {}}}, 30'000));

  int delivered = 0;
  std::string delivery_error;
  transport::kafka_producer producer({test::kafka_brokers(), {}},
                                     [&](std::uint64_t token, auto err) {
                                       CHECK(token == 42);
                                       if (err)
                                         delivery_error = err->message;
                                       else
                                         ++delivered;
                                     });
  REQUIRE(producer.produce(topic, -1, "{\"id\":1}", std::string_view("hello"), 42));
  REQUIRE(producer.flush(30'000));
  REQUIRE(delivery_error.empty());
  REQUIRE(delivered == 1);

  transport::kafka_consumer consumer(
      {test::kafka_brokers(), test::unique_name("smoke_group"), "earliest", {}});
  REQUIRE(consumer.subscribe({topic}));
  std::optional<transport::kafka_record> got;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!got && std::chrono::steady_clock::now() < give_up) {
    auto r = consumer.poll(500);
    REQUIRE(r);
    if (*r) got = **r;
  }
  REQUIRE(got);
  CHECK(got->key == "{\"id\":1}");
  REQUIRE(got->value);
  CHECK(*got->value == "hello");
  CHECK(consumer.commit({{topic, got->partition, got->offset + 1}}));
}

TEST_CASE("Redis stores and returns a hash", "[integration][services]") {
  const std::string url = test::redis_url();  // redis://127.0.0.1:56379/0
  const auto host_start = url.find("//") + 2;
  const auto colon = url.find(':', host_start);
  const auto slash = url.find('/', colon);
  const std::string host = url.substr(host_start, colon - host_start);
  const int port = std::stoi(url.substr(colon + 1, slash - colon - 1));

  std::unique_ptr<redisContext, decltype(&redisFree)> ctx(redisConnect(host.c_str(), port),
                                                          redisFree);
  REQUIRE(ctx);
  REQUIRE(ctx->err == 0);
  const std::string key = test::unique_name("smoke:order");
  auto* set = static_cast<redisReply*>(
      redisCommand(ctx.get(), "HSET %s status %s amount %s", key.c_str(), "paid", "12.50"));
  REQUIRE(set != nullptr);
  CHECK(set->type == REDIS_REPLY_INTEGER);
  CHECK(set->integer == 2);
  freeReplyObject(set);
  auto* get = static_cast<redisReply*>(redisCommand(ctx.get(), "HGET %s status", key.c_str()));
  REQUIRE(get != nullptr);
  REQUIRE(get->type == REDIS_REPLY_STRING);
  CHECK(std::string(get->str, get->len) == "paid");
  freeReplyObject(get);
  freeReplyObject(redisCommand(ctx.get(), "DEL %s", key.c_str()));
}
