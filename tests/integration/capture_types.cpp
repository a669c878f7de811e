// Every built-in type family through capture, each JSON value compared with what Postgres
// itself says the value is (to_jsonb, or the text form where we choose a string).
#include <catch2/catch.hpp>
#include <csignal>

#include "sluice/schemas/codec.hpp"
#include "support/harness.hpp"
#include "support/services.hpp"

using namespace sluice;
using test::sql;

namespace {

/// How a column's JSON value relates to Postgres' own view of it.
enum class expect { to_jsonb, text_form, bytea_base64, timestamptz_utc };

struct column_case {
  const char* name;
  const char* type;
  const char* value;  // SQL literal for the first row; the second row is all NULL
  expect how = expect::to_jsonb;
};

}  // namespace

TEST_CASE("every type family maps to the JSON value Postgres gives it", "[integration][capture]") {
  const std::string name = test::unique_name("cap_types");
  const std::string mood = name + "_mood", pos = name + "_positive", pair = name + "_pair";
  const std::vector<column_case> columns{
      {"c_bool", "bool", "true"},
      {"c_int2", "int2", "-32768"},
      {"c_int4", "int4", "2147483647"},
      {"c_int8", "int8", "-9223372036854775808"},
      {"c_float4", "float4", "0.1"},
      {"c_float8", "float8", "1.0000000000000002"},
      {"c_float_nan", "float8", "'NaN'"},
      {"c_float_inf", "float8", "'Infinity'"},
      {"c_float_ninf", "float4", "'-Infinity'"},
      {"c_numeric", "numeric", "123456789012345678901234567890.123456789012345678901",
       expect::text_form},
      {"c_numeric_nan", "numeric", "'NaN'", expect::text_form},
      {"c_text", "text", "E'quote \" backslash \\\\ tab \\t newline \\n unicode \u00e9 \u2603'"},
      {"c_varchar", "varchar(20)", "'abc'"},
      {"c_char", "char(5)", "'ab'"},
      {"c_bytea", "bytea", "'\\x00ff10deadbeef'", expect::bytea_base64},
      {"c_json", "json", "'{\"a\": [1, 2.5, \"x\"], \"b\": null}'"},
      {"c_jsonb", "jsonb", "'{\"nested\": {\"k\": true}, \"n\": 12}'"},
      {"c_uuid", "uuid", "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'"},
      {"c_date", "date", "'2024-02-29'"},
      {"c_date_bc", "date", "'0044-03-15 BC'"},
      {"c_time", "time", "'13:14:15.123456'"},
      {"c_timetz", "timetz", "'13:14:15+02'"},
      {"c_timestamp", "timestamp", "'2024-01-02 03:04:05.678'"},
      {"c_timestamp_inf", "timestamp", "'infinity'"},
      {"c_timestamptz", "timestamptz", "'2024-01-02 03:04:05.5+05:30'", expect::timestamptz_utc},
      {"c_timestamptz_ninf", "timestamptz", "'-infinity'"},
      {"c_interval", "interval", "'1 year 2 months 3 days 04:05:06.5'", expect::text_form},
      {"c_int_array", "int[]", "'{1,NULL,3}'"},
      {"c_text_2d", "text[]", "'{{\"a b\",\"c\\\"d\"},{NULL,\"NULL\"}}'"},
      {"c_enum", "", "'happy'"},
      {"c_domain", "", "42"},
      {"c_composite", "", "ROW(7, 'seven')"},
      {"c_inet", "inet", "'192.168.0.1/24'"},
      {"c_cidr", "cidr", "'10.0.0.0/8'"},
      {"c_macaddr", "macaddr", "'08:00:2b:01:02:03'"},
      {"c_money", "money", "'12.34'"},
      {"c_bit", "bit(4)", "B'1010'"},
      {"c_varbit", "varbit", "B'101'"},
      {"c_tsvector", "tsvector", "'a fat cat'"},
      {"c_int4range", "int4range", "'[1,10)'"},
      {"c_tstzrange", "tstzrange", "'[2024-01-01,2024-02-01)'"},
      {"c_point", "point", "'(1.5,2)'"},
      {"c_box", "box", "'((0,0),(1,1))'"},
      {"c_circle", "circle", "'<(0,0),2>'"},
      {"c_xml", "xml", "'<a>1</a>'", expect::text_form},
      {"c_pg_lsn", "pg_lsn", "'16/B374D848'"},
  };
  std::string ddl = "CREATE TYPE " + mood +
                    " AS ENUM ('sad', 'happy');"
                    "CREATE DOMAIN " +
                    pos +
                    " AS int CHECK (VALUE > 0);"
                    "CREATE TYPE " +
                    pair +
                    " AS (n int, label text);"
                    "CREATE TABLE public." +
                    name + " (id int PRIMARY KEY";
  std::string values = "1";
  for (const auto& c : columns) {
    std::string type = c.type;
    if (std::string(c.name) == "c_enum") type = mood;
    if (std::string(c.name) == "c_domain") type = pos;
    if (std::string(c.name) == "c_composite") type = pair;
    ddl += std::string(", ") + c.name + " " + type;
    values += std::string(", ") + c.value;
  }
  sql(ddl + ")");

  test::pipeline_spec spec(name, {"public." + name});
  const std::string file = test::write_pipeline(spec);
  test::child_process capture(test::capture_args(file, test::scratch_dir() + "/" + name),
                              test::scratch_dir() + "/" + name + ".log");
  REQUIRE(capture.wait_for_log("streaming"));
  sql("INSERT INTO " + name + " VALUES (" + values + ")");
  sql("INSERT INTO " + name + " (id) VALUES (2)");

  auto records = test::read_topics({spec.topic("public." + name)},
                                   [](const auto& r) { return r.size() >= 2; });
  capture.signal(SIGTERM);
  CHECK(capture.wait() == 0);
  REQUIRE(records.size() == 2);
  const auto full = nlohmann::json::parse(*records[0].value)["after"];
  const auto nulls = nlohmann::json::parse(*records[1].value)["after"];

  for (const auto& c : columns) {
    INFO("column " << c.name << " " << c.type << " = " << c.value);
    REQUIRE(full.contains(c.name));
    const nlohmann::json ours = full[c.name];
    const std::string where = " FROM " + name + " WHERE id = 1";
    switch (c.how) {
      case expect::to_jsonb: {
        const auto theirs = nlohmann::json::parse(
            test::sql_value("SELECT to_jsonb(" + std::string(c.name) + ")" + where));
        CHECK(ours == theirs);
        break;
      }
      case expect::text_form:
        // numeric at any precision, NaN, intervals (ISO 8601), xml: the text form, losslessly.
        CHECK(ours == test::sql_value("SET intervalstyle = iso_8601; SELECT " +
                                      std::string(c.name) + "::text" + where));
        break;
      case expect::bytea_base64:
        CHECK(ours == test::sql_value("SELECT translate(encode(" + std::string(c.name) +
                                      ", 'base64'), E'\\n', '')" + where));
        break;
      case expect::timestamptz_utc: {
        // ISO 8601 in UTC; Postgres writes the zone as +00:00 where we write Z.
        std::string theirs = nlohmann::json::parse(test::sql_value(
            "SET timezone = 'UTC'; SELECT to_jsonb(" + std::string(c.name) + ")" + where));
        REQUIRE(theirs.size() > 6);
        CHECK(theirs.substr(theirs.size() - 6) == "+00:00");
        CHECK(ours == theirs.substr(0, theirs.size() - 6) + "Z");
        CHECK(ours == "2024-01-01T21:34:05.5Z");
        break;
      }
    }
    CHECK(nulls.at(c.name).is_null());
  }
  test::drop_slot(spec.slot());
}
