#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <sluice/config/loader.hpp>
#include <sluice/config/pipeline.hpp>
#include <sstream>

namespace cfg = sluice::config;
namespace fs = std::filesystem;

namespace {

cfg::env_lookup no_env() {
  return [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
}

cfg::env_lookup fake_env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Diagnostics name files as they were passed; running from the source root makes the
// relative paths in the .expected files true.
class in_source_dir {
 public:
  in_source_dir() : previous_(fs::current_path()) { fs::current_path(SLUICE_SOURCE_DIR); }
  ~in_source_dir() { fs::current_path(previous_); }
  in_source_dir(const in_source_dir&) = delete;
  in_source_dir& operator=(const in_source_dir&) = delete;

 private:
  fs::path previous_;
};

std::string errors_of(const std::string& path, const cfg::env_lookup& env) {
  try {
    (void)cfg::load_pipeline(path, env);
  } catch (const cfg::config_error& e) {
    return e.what();
  }
  return "";
}

std::string errors_of_text(std::string_view yaml, const cfg::env_lookup& env) {
  try {
    (void)cfg::parse_pipeline(yaml, "test.yaml", env);
  } catch (const cfg::config_error& e) {
    return e.what();
  }
  return "";
}

constexpr std::string_view minimal = R"(pipeline: shop
source:
  postgres:
    dsn: postgresql://sluice@127.0.0.1/sluice
    slot: sluice_shop
    publication: sluice_shop
    tables: [public.orders]
transport:
  kafka:
    brokers: 127.0.0.1:9092
    topic_prefix: shop
)";

}  // namespace

TEST_CASE("every bad pipeline file gives exactly its expected diagnostics", "[unit][config]") {
  in_source_dir cwd;
  std::vector<fs::path> fixtures;
  for (const auto& entry : fs::directory_iterator("tests/config/bad")) {
    if (entry.path().extension() == ".yaml") fixtures.push_back(entry.path());
  }
  std::ranges::sort(fixtures);
  REQUIRE(fixtures.size() >= 10);
  for (const auto& yaml : fixtures) {
    auto expected_path = fs::path(yaml).replace_extension(".expected");
    INFO("fixture " << yaml.string());
    REQUIRE(fs::exists(expected_path));
    std::string expected = read_text(expected_path);
    while (expected.ends_with('\n')) expected.pop_back();
    CHECK(errors_of(yaml.string(), no_env()) == expected);
  }
}

TEST_CASE("config_error holds one diagnostic per problem, in file order", "[unit][config]") {
  in_source_dir cwd;
  try {
    (void)cfg::load_pipeline("tests/config/bad/several_errors.yaml", no_env());
    FAIL("several_errors.yaml loaded");
  } catch (const cfg::config_error& e) {
    const auto& diagnostics = e.diagnostics();
    REQUIRE(diagnostics.size() >= 10);
    CHECK(std::ranges::is_sorted(
        diagnostics, {}, [](const cfg::diagnostic& d) { return std::pair(d.line, d.column); }));
    const auto& first = diagnostics.front();
    CHECK(first.file == "tests/config/bad/several_errors.yaml");
    CHECK(first.line == 4);
    CHECK(first.column == 10);
    CHECK(first.to_string() == "tests/config/bad/several_errors.yaml:4:10: " + first.message);
  }
}

TEST_CASE("an unreadable file is a config_error naming it", "[unit][config]") {
  auto what = errors_of("/nonexistent/pipeline.yaml", no_env());
  CHECK(what.starts_with("/nonexistent/pipeline.yaml: cannot read the pipeline file: "));
}

TEST_CASE("the shop example loads into the typed options", "[unit][config]") {
  in_source_dir cwd;
  auto p = cfg::load_pipeline("config/examples/shop.yaml", no_env());
  CHECK(p.name == "shop");
  CHECK(p.file == "config/examples/shop.yaml");

  const auto& source = p.source;
  CHECK(source.dsn == "postgresql://sluice:sluice@127.0.0.1:55432/sluice");
  CHECK(source.slot == "sluice_shop");
  CHECK(source.publication == "sluice_shop");
  CHECK(source.tables ==
        std::vector<cfg::table_name>{{"public", "orders"}, {"public", "customers"}});
  CHECK(source.snapshot == cfg::snapshot_mode::initial);
  CHECK(source.snapshot_parallelism == 4);
  CHECK(source.heartbeat_seconds == 0);
  CHECK_FALSE(source.alter_publication);

  CHECK(p.transport.brokers == "127.0.0.1:59092");
  CHECK(p.transport.topic_prefix == "shop");
  CHECK(p.transport.partitions == 1);
  CHECK(p.transport.replication_factor == 1);
  CHECK(p.transport.producer.empty());
  CHECK(cfg::topic_for(p.transport, source.tables[0]) == "shop.public.orders");

  REQUIRE(p.sinks.size() == 3);
  CHECK(p.sinks[0].name == "order_cache");
  CHECK(p.sinks[0].on_error == cfg::error_policy::stop);
  const auto& redis = std::get<cfg::redis_sink>(p.sinks[0].kind);
  CHECK(redis.url == "redis://127.0.0.1:56379/0");
  CHECK(redis.tables == std::vector<cfg::table_name>{{"public", "orders"}});
  CHECK(redis.key == "order:{id}");
  CHECK(redis.format == cfg::redis_format::hash);
  CHECK(redis.include_columns.empty());
  CHECK(redis.exclude_columns.empty());
  CHECK_FALSE(redis.ttl_seconds.has_value());

  CHECK(p.sinks[1].name == "order_search");
  const auto& search = std::get<cfg::search_sink>(p.sinks[1].kind);
  CHECK(search.engine == cfg::search_engine::opensearch);
  CHECK(search.url == "http://127.0.0.1:59200");
  CHECK(search.path.empty());
  CHECK(search.index == "orders");
  CHECK(search.tables == std::vector<cfg::table_name>{{"public", "orders"}});

  CHECK(p.sinks[2].name == "revenue_by_customer");
  CHECK(p.sinks[2].on_error == cfg::error_policy::dead_letter);
  CHECK(cfg::kind_name(p.sinks[2]) == "view");
  const auto& view = std::get<cfg::view_sink>(p.sinks[2].kind);
  CHECK(view.dsn == "postgresql://sluice:sluice@127.0.0.1:55432/sluice");
  CHECK(view.from == cfg::table_name{"public", "orders"});
  CHECK(view.where == "status = 'paid'");
  CHECK(view.group_by == std::vector<std::string>{"customer_id"});
  REQUIRE(view.columns.size() == 2);
  CHECK(view.columns[0].name == "orders");
  CHECK(view.columns[0].expression == "count(*)");
  CHECK(view.columns[1].name == "revenue");
  CHECK(view.columns[1].expression == "sum(amount)");
  CHECK(cfg::tables_of(p.sinks[2]) == std::vector<cfg::table_name>{{"public", "orders"}});
}

TEST_CASE("the shop example takes its connections from the environment", "[unit][config]") {
  in_source_dir cwd;
  auto p = cfg::load_pipeline("config/examples/shop.yaml",
                              fake_env({{"SLUICE_PG_DSN", "host=db password=pw"},
                                        {"KAFKA_BROKERS", "k1:9092,k2:9092"},
                                        {"REDIS_URL", "redis://:pw@cache:6379/1"}}));
  CHECK(p.source.dsn == "host=db password=pw");
  CHECK(p.transport.brokers == "k1:9092,k2:9092");
  CHECK(std::get<cfg::redis_sink>(p.sinks[0].kind).url == "redis://:pw@cache:6379/1");
}

TEST_CASE("every option is read, with non-default values", "[unit][config]") {
  in_source_dir cwd;
  auto p = cfg::load_pipeline("tests/config/good/every_option.yaml",
                              fake_env({{"KAFKA_BROKERS", "127.0.0.1:59092"}}));
  CHECK(p.name == "shop-eu.v2");
  CHECK(p.source.dsn ==
        "host=127.0.0.1 port=55432 dbname=sluice user=sluice password='s3cret pass'");
  CHECK(p.source.tables == std::vector<cfg::table_name>{{"public", "orders"},
                                                        {"public", "customers"},
                                                        {"billing", "invoice_lines"}});
  CHECK(p.source.snapshot == cfg::snapshot_mode::never);
  CHECK(p.source.snapshot_parallelism == 8);
  CHECK(p.source.heartbeat_seconds == 30);
  CHECK(p.source.alter_publication);

  CHECK(p.transport.partitions == 6);
  CHECK(p.transport.replication_factor == 3);
  CHECK(p.transport.producer ==
        std::map<std::string, std::string>{{"compression.type", "zstd"}, {"linger.ms", "20"}});
  CHECK(cfg::topic_for(p.transport, p.source.tables[2]) == "shop-eu.billing.invoice_lines");

  REQUIRE(p.sinks.size() == 3);
  const auto& redis = std::get<cfg::redis_sink>(p.sinks[0].kind);
  CHECK(p.sinks[0].on_error == cfg::error_policy::dead_letter);
  CHECK(p.sinks[0].workers == 3);
  CHECK(p.sinks[1].workers == 1);
  CHECK(redis.key == "shop:{id}:v$1");
  CHECK(redis.format == cfg::redis_format::json);
  CHECK(redis.exclude_columns == std::vector<std::string>{"note", "internal_flags"});
  CHECK(redis.ttl_seconds == 3600);

  const auto& search = std::get<cfg::search_sink>(p.sinks[1].kind);
  CHECK(search.engine == cfg::search_engine::sqlite);
  CHECK(search.path == "/var/lib/sluice/invoices.db");
  CHECK(search.url.empty());

  const auto& view = std::get<cfg::view_sink>(p.sinks[2].kind);
  CHECK_FALSE(view.where.has_value());
  CHECK(view.group_by == std::vector<std::string>{"customer_id", "currency"});
  REQUIRE(view.columns.size() == 3);
  CHECK(view.columns[2].name == "last_order_at");
}

TEST_CASE("table names are schema-qualified identifiers", "[unit][config]") {
  auto parsed = cfg::table_name::parse("Sales.Order_Lines$2");
  REQUIRE(parsed.has_value());
  CHECK(*parsed == cfg::table_name{"sales", "order_lines$2"});
  CHECK(parsed->to_string() == "sales.order_lines$2");
  for (std::string_view bad :
       {"orders", "", ".orders", "public.", "public.orders.x", "public.\"Orders\"", "public.9x",
        "my schema.orders", "public.order-items"}) {
    INFO(bad);
    CHECK_FALSE(cfg::table_name::parse(bad).has_value());
  }
  CHECK_FALSE(cfg::table_name::parse("public." + std::string(64, 'a')).has_value());
  CHECK(cfg::table_name::parse("public." + std::string(63, 'a')).has_value());
}

TEST_CASE("unknown keys suggest the closest allowed key", "[unit][config]") {
  auto with = [](std::string_view from, std::string_view to) {
    std::string yaml(minimal);
    yaml.replace(yaml.find(from), from.size(), to);
    return errors_of_text(yaml, no_env());
  };
  CHECK(with("tables:", "tabels:") ==
        "test.yaml:7:5: unknown key 'tabels' in source.postgres; did you mean 'tables'?");
  CHECK(with("    topic_prefix: shop\n", "    topic_prefix: shop\n    partition: 3\n") ==
        "test.yaml:12:5: unknown key 'partition' in transport.kafka; did you mean 'partitions'?");
  CHECK(with("    slot:", "    heartbeat: 5\n    slot:") ==
        "test.yaml:5:5: unknown key 'heartbeat' in source.postgres; did you mean "
        "'heartbeat_seconds'?");
  CHECK(with("transport:", "sink: {}\ntransport:") ==
        "test.yaml:8:1: unknown key 'sink' at the top level; did you mean 'sinks'?");
}

TEST_CASE("a capture-only pipeline needs no sinks", "[unit][config]") {
  auto p = cfg::parse_pipeline(minimal, "test.yaml", no_env());
  CHECK(p.sinks.empty());
  auto with_empty_sinks = cfg::parse_pipeline(std::string(minimal) + "sinks:\n", "t", no_env());
  CHECK(with_empty_sinks.sinks.empty());
}

TEST_CASE("sink kinds are exclusive and view columns distinct", "[unit][config]") {
  std::string yaml(minimal);
  yaml += R"yaml(sinks:
  both:
    redis: {url: "redis://h", tables: [public.orders], key: "o:{id}"}
    search: {engine: sqlite, path: /tmp/x.db, index: o, tables: [public.orders]}
  revenue:
    view:
      dsn: postgresql://h/db
      from: public.orders
      group_by: [customer_id]
      columns: {customer_id: "max(customer_id)", total: ""}
  ungrouped:
    view: {dsn: "postgresql://h/db", from: public.orders, group_by: [], columns: {n: "count(*)"}}
)yaml";
  CHECK(errors_of_text(yaml, no_env()) ==
        "test.yaml:15:5: sink 'both' already is a redis sink; a sink has exactly one of: "
        "redis, search, view\n"
        "test.yaml:21:17: column 'customer_id' is already a group_by column\n"
        "test.yaml:21:57: total must not be empty\n"
        "test.yaml:23:69: group_by must not be empty");
}

TEST_CASE("no secret appears in the summary", "[unit][config]") {
  in_source_dir cwd;
  auto p = cfg::load_pipeline("config/examples/shop.yaml",
                              fake_env({{"SLUICE_PG_DSN", "postgresql://sluice:hunter2@db/shop"},
                                        {"ANALYTICS_PG_DSN", "host=a password=hunter2"},
                                        {"REDIS_URL", "redis://:hunter2@cache:6379/0"},
                                        {"OPENSEARCH_URL", "https://admin:hunter2@search:9200"}}));
  std::string text = cfg::summary(p);
  CHECK(text.find("hunter2") == std::string::npos);
  CHECK(text.find("postgresql://sluice:***@db/shop") != std::string::npos);
  CHECK(text.find("host=a password=***") != std::string::npos);
  CHECK(text.find("redis://:***@cache:6379/0") != std::string::npos);
  CHECK(text.find("https://admin:***@search:9200") != std::string::npos);
  CHECK(text.find("sluice_shop") != std::string::npos);
  CHECK(text.find("public.orders, public.customers") != std::string::npos);
  CHECK(text.find("revenue_by_customer") != std::string::npos);
}

TEST_CASE("no secret appears in any error", "[unit][config]") {
  in_source_dir cwd;
  auto secret_env = fake_env({{"PG", "postgresql://u:hunter2@h/db"}});
  auto what = errors_of("tests/config/bad/secrets_redacted.yaml", secret_env);
  CHECK_FALSE(what.empty());
  CHECK(what.find("hunter2") == std::string::npos);

  // Values from the environment are quoted redacted too, whatever key they land in.
  std::string yaml(minimal);
  yaml.replace(yaml.find("sluice_shop"), 11, "${PG}");
  yaml += "    partitions: ${PG}\n";
  what = errors_of_text(yaml, secret_env);
  CHECK(what.find("got 'postgresql://u:***@h/db'") != std::string::npos);
  CHECK(what.find("hunter2") == std::string::npos);
}

TEST_CASE("integers and booleans are checked strictly", "[unit][config]") {
  auto with = [](std::string_view extra) {
    return errors_of_text(std::string(minimal) + std::string(extra), no_env());
  };
  CHECK(with("    partitions: 99999999999\n") ==
        "test.yaml:12:17: partitions is too large, got 99999999999");
  CHECK(with("    partitions: 0\n") == "test.yaml:12:17: partitions must be at least 1, got 0");
  CHECK(with("    partitions: 2.5\n") ==
        "test.yaml:12:17: partitions must be an integer, got '2.5'");
  CHECK(with("    partitions: \"${P:-12}\"\n").empty());
  const std::string sink =
      "sinks:\n  c:\n    redis: {url: \"redis://r\", tables: [public.orders], key: \"o:{id}\"}\n";
  CHECK(with(sink + "    workers: 0\n") == "test.yaml:15:14: workers must be at least 1, got 0");
  CHECK(with(sink + "    workers: 65\n") == "test.yaml:15:14: workers must be at most 64, got 65");
  CHECK(with(sink + "    workers: 4\n").empty());
  auto p = cfg::parse_pipeline(std::string(minimal) + "    partitions: ${P:-12}\n", "t", no_env());
  CHECK(p.transport.partitions == 12);
}
