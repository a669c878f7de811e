#include <catch2/catch.hpp>
#include <map>
#include <sluice/config/interpolate.hpp>

using sluice::config::env_lookup;
using sluice::config::interpolate;

namespace {

env_lookup fake_env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

std::string expand(std::string_view text, const env_lookup& env) {
  auto result = interpolate(text, env);
  REQUIRE(result.has_value());
  return *result;
}

}  // namespace

TEST_CASE("interpolate substitutes set variables", "[unit][config]") {
  auto env = fake_env({{"HOST", "db.local"}, {"PORT", "5432"}});
  CHECK(expand("postgresql://${HOST}:${PORT}/shop", env) == "postgresql://db.local:5432/shop");
  CHECK(expand("no variables here", env) == "no variables here");
  CHECK(expand("", env).empty());
}

TEST_CASE("interpolate uses the default when unset or empty, as a shell does", "[unit][config]") {
  auto env = fake_env({{"EMPTY", ""}, {"SET", "value"}});
  CHECK(expand("${MISSING:-127.0.0.1:9092}", env) == "127.0.0.1:9092");
  CHECK(expand("${EMPTY:-fallback}", env) == "fallback");
  CHECK(expand("${SET:-fallback}", env) == "value");
  CHECK(expand("${MISSING:-}", env).empty());
  CHECK(expand("${EMPTY}", env).empty());
  CHECK(expand("${MISSING:-postgresql://u:p@h:1/db?x=y}", env) == "postgresql://u:p@h:1/db?x=y");
}

TEST_CASE("interpolate keeps literal dollars", "[unit][config]") {
  auto env = fake_env({{"X", "x"}});
  CHECK(expand("$$", env) == "$");
  CHECK(expand("$${X}", env) == "${X}");
  CHECK(expand("$$$${X}", env) == "$${X}");
  CHECK(expand("$$${X}", env) == "$x");
  CHECK(expand("price$ 5 $X $", env) == "price$ 5 $X $");
}

TEST_CASE("interpolate reports every unset variable without its value", "[unit][config]") {
  auto result = interpolate("${A}-${B:-b}-${C}", fake_env({}));
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error() ==
        std::vector<std::string>{
            "environment variable A is not set (use ${A:-default} to give a default)",
            "environment variable C is not set (use ${C:-default} to give a default)"});
}

TEST_CASE("interpolate rejects malformed references", "[unit][config]") {
  auto env = fake_env({});
  auto unterminated = interpolate("postgresql://${PG_HOST", env);
  REQUIRE_FALSE(unterminated.has_value());
  CHECK(unterminated.error().at(0).starts_with("unterminated ${"));

  for (std::string_view bad : {"${}", "${1X}", "${A-B}", "${PW-postgresql://u:hunter2@h}"}) {
    auto result = interpolate(bad, env);
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error().at(0).starts_with("invalid variable name"));
    CHECK(result.error().at(0).find("hunter2") == std::string::npos);
  }
}
