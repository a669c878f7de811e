#include "pq_util.hpp"

#include <vector>

namespace sluice::capture::detail {

PGconn* connect(const std::string& dsn, bool replication) {
  // The type mapper depends on these output formats (docs/events.md); the walsender runs the
  // output functions with the replication session's settings.
  static const char* const session_options =
      "-c datestyle=ISO -c intervalstyle=iso_8601 -c timezone=UTC -c extra_float_digits=3";
  std::vector<const char*> keys{"dbname", "options", "application_name"};
  std::vector<const char*> values{dsn.c_str(), session_options, "sluice"};
  if (replication) {
    keys.push_back("replication");
    values.push_back("database");
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  return PQconnectdbParams(keys.data(), values.data(), /*expand_dbname=*/1);
}

}  // namespace sluice::capture::detail
