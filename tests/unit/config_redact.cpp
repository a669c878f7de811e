#include <catch2/catch.hpp>
#include <sluice/config/redact.hpp>

using sluice::config::redact;

TEST_CASE("redact masks the password of postgres URIs", "[unit][config]") {
  CHECK(redact("postgresql://user:pass@host/db") == "postgresql://user:***@host/db");
  CHECK(redact("postgres://sluice:s3cret@127.0.0.1:55432/sluice?sslmode=disable") ==
        "postgres://sluice:***@127.0.0.1:55432/sluice?sslmode=disable");
  CHECK(redact("postgresql://user:p@ss/w#rd@host/db") == "postgresql://user:***@host/db");
  CHECK(redact("postgresql://host/db?user=u&password=pw&sslmode=require") ==
        "postgresql://host/db?user=u&password=***&sslmode=require");
  CHECK(redact("postgresql://u:pw@host/db?application_name=a@b&password=pw2") ==
        "postgresql://u:***@b&password=***");
}

TEST_CASE("redact leaves URIs without a password alone", "[unit][config]") {
  CHECK(redact("postgresql://sluice@127.0.0.1:55432/sluice") ==
        "postgresql://sluice@127.0.0.1:55432/sluice");
  CHECK(redact("postgresql:///sluice?host=/run/postgresql") ==
        "postgresql:///sluice?host=/run/postgresql");
  CHECK(redact("http://127.0.0.1:9200") == "http://127.0.0.1:9200");
  CHECK(redact("127.0.0.1:9092,127.0.0.2:9092") == "127.0.0.1:9092,127.0.0.2:9092");
  CHECK(redact("").empty());
}

TEST_CASE("redact masks key=value conninfo passwords", "[unit][config]") {
  CHECK(redact("host=h user=u password=xxx dbname=d") == "host=h user=u password=*** dbname=d");
  CHECK(redact("password=xxx") == "password=***");
  CHECK(redact("host=h password = 'a b\\' c' dbname=d") == "host=h password = *** dbname=d");
  CHECK(redact("host=h PASSWORD=xxx") == "host=h PASSWORD=***");
  CHECK(redact("host=h passfile=/x/.pgpass") == "host=h passfile=/x/.pgpass");
  CHECK(redact("host=h application_name=a://b password=xxx") ==
        "host=h application_name=a://b password=***");
  CHECK(redact("opensearch.local?user=admin&password=xxx") ==
        "opensearch.local?user=admin&password=***");
}

TEST_CASE("redact masks redis passwords in every form", "[unit][config]") {
  CHECK(redact("redis://:pass@host:6379/0") == "redis://:***@host:6379/0");
  CHECK(redact("redis://user:pass@host:6379/0") == "redis://user:***@host:6379/0");
  CHECK(redact("rediss://pass@host") == "rediss://***@host");
  CHECK(redact("redis://127.0.0.1:56379/0") == "redis://127.0.0.1:56379/0");
  CHECK(redact("redis://host/0?password=pass") == "redis://host/0?password=***");
}

TEST_CASE("redact masks passwords in other URL schemes", "[unit][config]") {
  CHECK(redact("https://admin:admin-pw@search:9200/") == "https://admin:***@search:9200/");
}
