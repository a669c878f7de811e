// docker-compose.yml is for people with a container engine; none runs here, so this checks that
// the file parses and declares the services and sluice processes the README promises.
#include <yaml-cpp/yaml.h>

#include <catch2/catch.hpp>
#include <string>

TEST_CASE("docker-compose.yml parses and names the services", "[unit][compose]") {
  const YAML::Node compose = YAML::LoadFile(std::string(SLUICE_SOURCE_DIR) + "/docker-compose.yml");
  const YAML::Node services = compose["services"];
  REQUIRE(services.IsMap());
  for (const char* name : {"postgres", "kafka", "redis", "capture", "order-cache"}) {
    INFO(name);
    CHECK(services[name].IsMap());
  }
  // Logical decoding needs wal_level=logical on the Postgres container.
  bool logical = false;
  for (const auto& arg : services["postgres"]["command"]) {
    logical = logical || arg.as<std::string>() == "wal_level=logical";
  }
  CHECK(logical);
  // Kafka in KRaft mode, on the 3.9 line that librdkafka 2.0.2 speaks to.
  CHECK(services["kafka"]["image"].as<std::string>().rfind("apache/kafka:3.9", 0) == 0);
  CHECK(services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"].as<std::string>() ==
        "broker,controller");
  CHECK(services["capture"]["command"][0].as<std::string>() == "capture");
  CHECK(services["order-cache"]["command"][0].as<std::string>() == "sink");
}
