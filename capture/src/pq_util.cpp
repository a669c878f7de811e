#include "pq_util.hpp"

#include <vector>

#include "sluice/capture/source_catalog.hpp"

namespace sluice::capture::detail {

PGconn* connect(const std::string& dsn, bool replication, const char* application_name) {
  // The type mapper depends on these output formats (docs/events.md); the walsender runs the
  // output functions with the replication session's settings.
  static const char* const session_options =
      "-c datestyle=ISO -c intervalstyle=iso_8601 -c timezone=UTC -c extra_float_digits=3 "
      "-c bytea_output=hex";
  std::vector<const char*> keys{"dbname", "options", "application_name"};
  std::vector<const char*> values{dsn.c_str(), session_options, application_name};
  if (replication) {
    keys.push_back("replication");
    values.push_back("database");
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  PGconn* conn = PQconnectdbParams(keys.data(), values.data(), /*expand_dbname=*/1);
  // NOTICEs ("relation already exists, skipping") are not for the user's terminal.
  PQsetNoticeProcessor(
      conn, [](void*, const char*) {}, nullptr);
  return conn;
}

result_ptr exec(PGconn* conn, const std::string& sql, const std::vector<std::string>& params) {
  std::vector<const char*> values;
  for (const auto& p : params) values.push_back(p.c_str());
  result_ptr r(PQexecParams(conn, sql.c_str(), static_cast<int>(values.size()), nullptr,
                            values.data(), nullptr, nullptr, 0));
  const auto status = PQresultStatus(r.get());
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
    throw source_error("Postgres: " + one_line(PQresultErrorMessage(r.get())));
  }
  return r;
}

}  // namespace sluice::capture::detail
