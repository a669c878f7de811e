#include "sluice/config/pipeline.hpp"

#include <cctype>
#include <type_traits>

#include "sluice/config/redact.hpp"

namespace sluice::config {
namespace {

// Postgres NAMEDATALEN - 1: longer identifiers are silently truncated by the server, which
// would make the configured name differ from the captured one.
constexpr std::size_t max_identifier_length = 63;

std::expected<std::string, std::string> parse_identifier(std::string_view text,
                                                         std::string_view part) {
  if (text.empty()) return std::unexpected(std::string(part) + " name is empty");
  if (text.size() > max_identifier_length) {
    return std::unexpected(std::string(part) + " name is longer than 63 characters");
  }
  auto is_start = [](char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; };
  auto is_rest = [&](char c) {
    return is_start(c) || std::isdigit(static_cast<unsigned char>(c)) || c == '$';
  };
  if (!is_start(text[0])) {
    return std::unexpected(std::string(part) + " name must start with a letter or _");
  }
  for (char c : text) {
    if (!is_rest(c)) {
      return std::unexpected(std::string(part) + " name may only contain letters, digits, _ and $" +
                             " (quoted identifiers are not supported)");
    }
  }
  std::string folded(text);
  for (char& c : folded) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return folded;
}

std::string join(const std::vector<table_name>& tables) {
  std::string out;
  for (const auto& t : tables) out += (out.empty() ? "" : ", ") + t.to_string();
  return out;
}

std::string_view to_string(snapshot_mode mode) {
  return mode == snapshot_mode::initial ? "initial" : "never";
}

std::string describe_target(const redis_sink& s) {
  return redact(s.url) + " key " + s.key + (s.format == redis_format::json ? " (json)" : " (hash)");
}

std::string describe_target(const search_sink& s) {
  if (s.engine == search_engine::sqlite) return "sqlite " + s.path + " index " + s.index;
  return "opensearch " + redact(s.url) + " index " + s.index;
}

std::string describe_target(const view_sink& s) {
  return "postgres " + redact(s.dsn);
}

}  // namespace

std::string table_name::to_string() const {
  return schema + "." + table;
}

std::expected<table_name, std::string> table_name::parse(std::string_view text) {
  auto dot = text.find('.');
  if (dot == std::string_view::npos) {
    return std::unexpected("expected schema.table, e.g. public.orders");
  }
  auto schema = parse_identifier(text.substr(0, dot), "schema");
  if (!schema) return std::unexpected(schema.error());
  auto table = parse_identifier(text.substr(dot + 1), "table");
  if (!table) return std::unexpected(table.error());
  return table_name{std::move(*schema), std::move(*table)};
}

std::string topic_for(const kafka_transport& transport, const table_name& table) {
  return transport.topic_prefix + "." + table.schema + "." + table.table;
}

std::string_view kind_name(const sink& s) {
  constexpr std::string_view names[] = {"redis", "search", "view"};
  return names[s.kind.index()];
}

std::vector<table_name> tables_of(const sink& s) {
  return std::visit(
      [](const auto& kind) -> std::vector<table_name> {
        if constexpr (std::is_same_v<std::decay_t<decltype(kind)>, view_sink>) {
          return {kind.from};
        } else {
          return kind.tables;
        }
      },
      s.kind);
}

std::string summary(const pipeline& p) {
  std::string out = "pipeline " + p.name + " (" + p.file + ")\n";
  const auto& source = p.source;
  out += "  source: postgres " + redact(source.dsn) + "\n";
  out += "    slot " + source.slot + ", publication " + source.publication + ", snapshot " +
         std::string(to_string(source.snapshot)) + "\n";
  out += "    tables " + join(source.tables) + "\n";
  out += "  transport: kafka " + redact(p.transport.brokers) + ", topics " +
         p.transport.topic_prefix + ".<schema>.<table>\n";
  for (const auto& s : p.sinks) {
    std::string target = std::visit([](const auto& kind) { return describe_target(kind); }, s.kind);
    out += "  sink " + s.name + ": " + std::string(kind_name(s)) + " -> " + target + "\n";
    out += "    tables " + join(tables_of(s)) +
           (s.on_error == error_policy::dead_letter ? ", on_error dead_letter" : "") +
           (s.workers > 1 ? ", " + std::to_string(s.workers) + " workers" : "") + "\n";
  }
  return out;
}

}  // namespace sluice::config
