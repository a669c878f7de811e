#pragma once
// Private libpq helpers shared by the catalog and the replication connection.
#include <libpq-fe.h>

#include <memory>
#include <string>
#include <vector>

namespace sluice::capture::detail {

struct result_deleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using result_ptr = std::unique_ptr<PGresult, result_deleter>;

/// libpq's error text on one line (it ends with a newline and may span several).
inline std::string one_line(const char* text) {
  std::string s = text ? text : "";
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

/// Runs one statement with text parameters; throws source_error with Postgres' message.
result_ptr exec(PGconn* conn, const std::string& sql, const std::vector<std::string>& params = {});

/// Connects with the user's DSN plus our own parameters. expand_dbname lets the DSN be a URI or
/// a key=value string; parameters after it override. `application_name` is what
/// pg_stat_activity shows for the connection.
PGconn* connect(const std::string& dsn, bool replication, const char* application_name = "sluice");

}  // namespace sluice::capture::detail
