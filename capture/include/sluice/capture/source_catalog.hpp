#pragma once
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "sluice/capture/type_map.hpp"
#include "sluice/schemas/lsn.hpp"

struct pg_conn;

namespace sluice::capture {

/// A start-up problem with the source that the user must fix (bad table, wal_level, slot...).
/// The message is one line, says what to do, and never contains a password.
class source_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct table_ref {
  std::string schema;
  std::string table;
  [[nodiscard]] std::string qualified() const { return schema + "." + table; }
};

struct slot_state {
  schemas::lsn confirmed_flush_lsn;
  std::optional<int> active_pid;
  std::string plugin;
};

/// Ordinary SQL against the source (libpq): checks, slot and publication management, the
/// catalog lookups the type mapper and key builder need. One connection; not thread-safe.
class source_catalog {
 public:
  /// Connects with the user's DSN (which may be a URI or key=value). Throws source_error.
  explicit source_catalog(const std::string& dsn);
  ~source_catalog();
  source_catalog(const source_catalog&) = delete;
  source_catalog& operator=(const source_catalog&) = delete;

  void require_logical_wal_level();
  [[nodiscard]] std::string database_name();
  /// Key columns (primary key, else replica-identity index) of each table; throws source_error
  /// naming the table (and the ALTER TABLE that fixes it) when one is missing or has no key.
  [[nodiscard]] std::unordered_map<std::string, std::vector<std::string>> key_columns(
      const std::vector<table_ref>& tables);
  /// Creates the publication for exactly these tables, or checks an existing one.
  void ensure_publication(const std::string& name, const std::vector<table_ref>& tables,
                          bool alter_if_different);
  [[nodiscard]] std::optional<slot_state> slot(const std::string& name);
  [[nodiscard]] std::optional<type_info> type(std::uint32_t oid);
  /// Runs a statement that returns nothing useful; throws source_error on failure.
  void execute(const std::string& sql);

 private:
  pg_conn* conn_ = nullptr;
  std::unordered_map<std::uint32_t, std::optional<type_info>> types_;
};

/// Quotes an identifier for SQL ("my table" → "\"my table\"").
[[nodiscard]] std::string quote_ident(const std::string& name);

}  // namespace sluice::capture
