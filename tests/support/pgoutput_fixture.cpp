#include "support/pgoutput_fixture.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "support/json_schema.hpp"

namespace sluice::test {
namespace {

[[noreturn]] void bad_line(const std::filesystem::path& file, int line, const std::string& why) {
  throw std::runtime_error(file.string() + ":" + std::to_string(line) + ": " + why);
}

std::ifstream open(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    throw std::runtime_error("cannot read " + file.string() +
                             " (record it with scripts/record-pgoutput-fixtures.sh)");
  }
  return in;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::uint32_t to_u32(const std::string& text, const std::filesystem::path& file, int line) {
  try {
    std::size_t used = 0;
    const unsigned long v = std::stoul(text, &used);
    if (used == text.size()) return static_cast<std::uint32_t>(v);
  } catch (const std::exception&) {
  }
  bad_line(file, line, "not a number: " + text);
}

}  // namespace

std::filesystem::path pgoutput_fixture_dir() {
  return source_dir() / "tests" / "fixtures" / "pgoutput";
}

std::vector<std::string> pgoutput_scenarios() {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(pgoutput_fixture_dir())) {
    if (entry.path().extension() != ".txt") continue;
    const std::string stem = entry.path().stem().string();
    if (stem == "types" || stem == "keys") continue;
    names.push_back(stem);
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<pgoutput_line> load_pgoutput_scenario(const std::string& scenario) {
  const auto file = pgoutput_fixture_dir() / (scenario + ".txt");
  std::ifstream in = open(file);
  std::vector<pgoutput_line> out;
  std::string text;
  int line = 0;
  while (std::getline(in, text)) {
    ++line;
    if (text.empty() || text[0] == '#') continue;
    const auto space = text.find(' ');
    if (space == std::string::npos) bad_line(file, line, "expected \"<lsn> <hex>\"");
    const auto position = schemas::lsn::parse(std::string_view(text).substr(0, space));
    if (!position) bad_line(file, line, "bad LSN");
    const std::string_view hex = std::string_view(text).substr(space + 1);
    if (hex.empty() || hex.size() % 2 != 0) bad_line(file, line, "odd or empty hex");
    pgoutput_line message{*position, {}};
    message.bytes.reserve(hex.size() / 2);
    for (std::size_t i = 0; i < hex.size(); i += 2) {
      const int hi = hex_digit(hex[i]);
      const int lo = hex_digit(hex[i + 1]);
      if (hi < 0 || lo < 0) bad_line(file, line, "not hex");
      message.bytes += static_cast<char>((hi << 4) | lo);
    }
    out.push_back(std::move(message));
  }
  if (out.empty()) bad_line(file, line, "no messages");
  return out;
}

std::map<std::uint32_t, fixture_type> load_pgoutput_types() {
  const auto file = pgoutput_fixture_dir() / "types.txt";
  std::ifstream in = open(file);
  std::map<std::uint32_t, fixture_type> types;
  std::string text;
  int line = 0;
  while (std::getline(in, text)) {
    ++line;
    if (text.empty() || text[0] == '#') continue;
    std::istringstream fields(text);
    std::string what;
    fields >> what;
    if (what == "type") {
      std::string oid, name, typtype, category, elem, base, delimiter;
      if (!(fields >> oid >> name >> typtype >> category >> elem >> base >> delimiter)) {
        bad_line(file, line, "expected 7 fields after \"type\"");
      }
      fixture_type t;
      t.oid = to_u32(oid, file, line);
      t.name = name;
      t.typtype = typtype[0];
      t.category = category[0];
      t.element_oid = to_u32(elem, file, line);
      t.base_oid = to_u32(base, file, line);
      t.delimiter = delimiter[0];
      types[t.oid] = std::move(t);
    } else if (what == "attr") {
      std::string oid, attnum, name, type_oid;
      if (!(fields >> oid >> attnum >> name >> type_oid)) {
        bad_line(file, line, "expected 4 fields after \"attr\"");
      }
      auto it = types.find(to_u32(oid, file, line));
      if (it == types.end()) bad_line(file, line, "attribute of an unlisted type");
      it->second.attributes.emplace_back(name, to_u32(type_oid, file, line));
    } else {
      bad_line(file, line, "unknown row kind " + what);
    }
  }
  return types;
}

std::map<std::string, std::vector<std::string>> load_pgoutput_keys() {
  const auto file = pgoutput_fixture_dir() / "keys.txt";
  std::ifstream in = open(file);
  std::map<std::string, std::vector<std::string>> keys;
  std::string text;
  int line = 0;
  while (std::getline(in, text)) {
    ++line;
    if (text.empty() || text[0] == '#') continue;
    std::istringstream fields(text);
    std::string table, columns;
    if (!(fields >> table >> columns)) bad_line(file, line, "expected \"<table> <columns>\"");
    std::vector<std::string>& names = keys[table];
    std::istringstream list(columns);
    for (std::string column; std::getline(list, column, ',');) names.push_back(column);
  }
  return keys;
}

}  // namespace sluice::test
