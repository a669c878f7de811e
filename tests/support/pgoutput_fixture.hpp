#pragma once
// Recorded pgoutput fixtures (tests/fixtures/pgoutput/, written by
// scripts/record-pgoutput-fixtures.sh): the messages of each scenario, and the catalog facts the
// capture shell would ask Postgres for (user types, key columns). Capture-free on purpose, so the
// support library needs no capture headers; the tests turn these rows into capture's types.
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "sluice/schemas/lsn.hpp"

namespace sluice::test {

/// One recorded message: the LSN pg_logical_slot_get_binary_changes reported and its raw bytes.
struct pgoutput_line {
  schemas::lsn lsn;
  std::string bytes;
};

/// tests/fixtures/pgoutput/.
[[nodiscard]] std::filesystem::path pgoutput_fixture_dir();

/// Scenario names (file stems) in the fixture folder, sorted; types.txt and keys.txt excluded.
[[nodiscard]] std::vector<std::string> pgoutput_scenarios();

/// The messages of `<scenario>.txt`, in order. Throws std::runtime_error naming the file and line
/// when the file is missing or a line is not "<lsn> <hex>".
[[nodiscard]] std::vector<pgoutput_line> load_pgoutput_scenario(const std::string& scenario);

/// A row of types.txt (pg_type of a user type) with its attributes when it is a composite.
struct fixture_type {
  std::uint32_t oid = 0;
  std::string name;
  char typtype = 'b';
  char category = 'U';
  std::uint32_t element_oid = 0;  // typelem as recorded (set for arrays, category 'A')
  std::uint32_t base_oid = 0;     // typbasetype
  char delimiter = ',';
  std::vector<std::pair<std::string, std::uint32_t>> attributes;  // name, type oid, in order
};

/// types.txt, by oid.
[[nodiscard]] std::map<std::uint32_t, fixture_type> load_pgoutput_types();

/// keys.txt: "<schema>.<table>" → key columns in index order.
[[nodiscard]] std::map<std::string, std::vector<std::string>> load_pgoutput_keys();

}  // namespace sluice::test
