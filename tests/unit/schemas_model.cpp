// lsn, value and row: the small model types every module shares.

#include <catch2/catch.hpp>
#include <cstdint>
#include <limits>
#include <string>

#include "sluice/schemas/event.hpp"
#include "sluice/schemas/lsn.hpp"
#include "sluice/schemas/position.hpp"
#include "sluice/schemas/row.hpp"
#include "sluice/schemas/value.hpp"

using namespace sluice::schemas;

TEST_CASE("lsn prints as Postgres does", "[unit][schemas]") {
  CHECK(lsn{0}.to_string() == "0/0");
  CHECK(lsn{0x16B3748}.to_string() == "0/16B3748");
  CHECK(lsn{0x16B374D848}.to_string() == "16/B374D848");
  CHECK(lsn{0x100000000}.to_string() == "1/0");
  CHECK(lsn{std::numeric_limits<std::uint64_t>::max()}.to_string() == "FFFFFFFF/FFFFFFFF");
}

TEST_CASE("lsn::parse reads what to_string writes", "[unit][schemas]") {
  for (std::uint64_t v :
       {std::uint64_t{0}, std::uint64_t{0x16B3748}, std::uint64_t{0x16B374D848},
        std::uint64_t{0xABCDEF0012345678}, std::numeric_limits<std::uint64_t>::max()}) {
    const auto parsed = lsn::parse(lsn{v}.to_string());
    REQUIRE(parsed.has_value());
    CHECK(parsed->value == v);
  }
}

TEST_CASE("lsn::parse accepts Postgres' own input forms", "[unit][schemas]") {
  CHECK(lsn::parse("16/b374d848") == lsn{0x16B374D848});         // pg_lsn_in accepts lowercase
  CHECK(lsn::parse("00000016/0B374D848").has_value() == false);  // 9 digits
  CHECK(lsn::parse("00000016/B374D848") == lsn{0x16B374D848});
}

TEST_CASE("lsn::parse rejects everything else", "[unit][schemas]") {
  for (const char* bad :
       {"", "/", "1/", "/1", "1//1", "1/1/1", " 1/1", "1/1 ", "+1/1", "1/-1", "0x1/1", "1/0x1",
        "123456789/0", "0/123456789", "G/0", "1-1", "16", "xyz"}) {
    INFO("input: '" << bad << "'");
    CHECK_FALSE(lsn::parse(bad).has_value());
  }
}

TEST_CASE("positions order by commit_lsn, then seq", "[unit][schemas]") {
  const position a{lsn{0x100}, 5};
  const position b{lsn{0x100}, 6};
  const position c{lsn{0x200}, 0};
  CHECK(a < b);
  CHECK(b < c);
  source_info s;
  s.commit_lsn = lsn{0x200};
  s.seq = 0;
  CHECK(s.pos() == c);
}

TEST_CASE("value to_json and from_json are inverse for every alternative", "[unit][schemas]") {
  const value values[] = {
      null_value{},
      true,
      false,
      std::numeric_limits<std::int64_t>::min(),
      std::numeric_limits<std::int64_t>::max(),
      std::int64_t{0},
      0.1,
      -2.5,
      1.0,
      std::string("text \"with\" \n escapes \xE2\x9C\x93"),
      nlohmann::json::parse(R"({"a":[1,{"b":null}],"c":"d"})"),
      nlohmann::json::array({1, "two", nullptr}),
  };
  for (const auto& v : values) {
    const auto j = to_json(v);
    INFO(j.dump());
    CHECK(from_json(j) == v);
  }
}

TEST_CASE("value to_json produces the natural JSON type", "[unit][schemas]") {
  CHECK(to_json(null_value{}).is_null());
  CHECK(to_json(true) == nlohmann::json(true));
  CHECK(to_json(std::int64_t{-3}).is_number_integer());
  CHECK(to_json(1.0).is_number_float());
  CHECK(to_json(std::string("x")) == nlohmann::json("x"));
  CHECK(to_json(nlohmann::json::object({{"k", 1}})) == nlohmann::json::object({{"k", 1}}));
}

TEST_CASE("value from_json keeps integers above int64 lossless", "[unit][schemas]") {
  const auto big = nlohmann::json(std::numeric_limits<std::uint64_t>::max());
  const auto v = from_json(big);
  REQUIRE(std::holds_alternative<nlohmann::json>(v));
  CHECK(std::get<nlohmann::json>(v).get<std::uint64_t>() ==
        std::numeric_limits<std::uint64_t>::max());
  CHECK(from_json(nlohmann::json(std::uint64_t{7})) == value{std::int64_t{7}});
  CHECK(from_json(nlohmann::json(2.0)) == value{2.0});
}

TEST_CASE("row::find finds columns by name", "[unit][schemas]") {
  const row r{{{"id", std::int64_t{7}}, {"status", std::string("paid")}, {"note", null_value{}}}};
  REQUIRE(r.find("status") != nullptr);
  CHECK(*r.find("status") == value{std::string("paid")});
  REQUIRE(r.find("note") != nullptr);
  CHECK(std::holds_alternative<null_value>(*r.find("note")));
  CHECK(r.find("missing") == nullptr);
  CHECK(r.find("ID") == nullptr);  // Postgres folds unquoted names; the row holds the real ones
  CHECK(row{}.find("id") == nullptr);
}
