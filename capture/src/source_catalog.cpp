#include "sluice/capture/source_catalog.hpp"

#include <algorithm>
#include <set>

#include "pq_util.hpp"

namespace sluice::capture {

using detail::one_line;
using detail::result_ptr;

std::string quote_ident(const std::string& name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

namespace {

/// Parses a Postgres text array of names ("{a,b}") as returned by array_agg(attname).
std::vector<std::string> parse_name_array(const char* text) {
  std::vector<std::string> out;
  std::string s = text ? text : "";
  if (s.size() < 2) return out;
  std::string current;
  bool quoted = false;
  for (std::size_t i = 1; i + 1 < s.size(); ++i) {
    const char c = s[i];
    if (quoted) {
      if (c == '\\' && i + 2 < s.size())
        current += s[++i];
      else if (c == '"')
        quoted = false;
      else
        current += c;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  out.push_back(current);
  return out;
}

}  // namespace

source_catalog::source_catalog(const std::string& dsn) {
  conn_ = detail::connect(dsn, false);
  if (PQstatus(conn_) != CONNECTION_OK) {
    std::string why = one_line(PQerrorMessage(conn_));
    PQfinish(conn_);
    conn_ = nullptr;
    throw source_error("cannot connect to Postgres: " + why);
  }
}

source_catalog::~source_catalog() {
  if (conn_ != nullptr) PQfinish(conn_);
}

void source_catalog::execute(const std::string& sql) {
  detail::exec(conn_, sql);
}

void source_catalog::require_logical_wal_level() {
  auto r = detail::exec(conn_, "SHOW wal_level");
  const std::string level = PQgetvalue(r.get(), 0, 0);
  if (level != "logical") {
    throw source_error("Postgres has wal_level=" + level +
                       "; logical decoding needs wal_level=logical (ALTER SYSTEM SET wal_level = "
                       "logical, then restart Postgres)");
  }
}

std::string source_catalog::database_name() {
  auto r = detail::exec(conn_, "SELECT current_database()");
  return PQgetvalue(r.get(), 0, 0);
}

std::unordered_map<std::string, std::vector<std::string>> source_catalog::key_columns(
    const std::vector<table_ref>& tables) {
  // The primary key, else the replica-identity index; columns in index order.
  static const std::string sql = R"(
    SELECT c.relkind,
      (SELECT array_agg(a.attname ORDER BY k.ord) FROM pg_index i
         CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
        WHERE i.indrelid = c.oid AND i.indisprimary),
      (SELECT array_agg(a.attname ORDER BY k.ord) FROM pg_index i
         CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
        WHERE i.indrelid = c.oid AND i.indisreplident)
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = $1 AND c.relname = $2)";
  std::unordered_map<std::string, std::vector<std::string>> keys;
  for (const auto& t : tables) {
    auto r = detail::exec(conn_, sql, {t.schema, t.table});
    if (PQntuples(r.get()) == 0) {
      throw source_error("table " + t.qualified() + " does not exist in the source database");
    }
    const std::string kind = PQgetvalue(r.get(), 0, 0);
    if (kind != "r" && kind != "p") {
      throw source_error(t.qualified() + " is not a table (relkind " + kind +
                         "); only tables can be captured");
    }
    std::vector<std::string> cols;
    if (!PQgetisnull(r.get(), 0, 1))
      cols = parse_name_array(PQgetvalue(r.get(), 0, 1));
    else if (!PQgetisnull(r.get(), 0, 2))
      cols = parse_name_array(PQgetvalue(r.get(), 0, 2));
    if (cols.empty()) {
      throw source_error("table " + t.qualified() +
                         " has neither a primary key nor a replica-identity index, so its rows "
                         "have no key; add a primary key, or create a unique index on NOT NULL "
                         "columns and run: ALTER TABLE " +
                         quote_ident(t.schema) + "." + quote_ident(t.table) +
                         " REPLICA IDENTITY USING INDEX <index_name>");
    }
    keys[t.qualified()] = std::move(cols);
  }
  return keys;
}

void source_catalog::ensure_publication(const std::string& name,
                                        const std::vector<table_ref>& tables,
                                        bool alter_if_different) {
  std::string table_list;
  std::set<std::string> wanted;
  for (const auto& t : tables) {
    if (!table_list.empty()) table_list += ", ";
    table_list += quote_ident(t.schema) + "." + quote_ident(t.table);
    wanted.insert(t.qualified());
  }
  auto exists =
      detail::exec(conn_, "SELECT puballtables FROM pg_publication WHERE pubname = $1", {name});
  if (PQntuples(exists.get()) == 0) {
    detail::exec(conn_, "CREATE PUBLICATION " + quote_ident(name) + " FOR TABLE " + table_list);
    return;
  }
  auto r = detail::exec(conn_,
                        "SELECT schemaname || '.' || tablename FROM pg_publication_tables "
                        "WHERE pubname = $1",
                        {name});
  std::set<std::string> have;
  for (int i = 0; i < PQntuples(r.get()); ++i) have.insert(PQgetvalue(r.get(), i, 0));
  if (have == wanted) return;
  if (!alter_if_different) {
    std::string listed;
    for (const auto& h : have) listed += (listed.empty() ? "" : ", ") + h;
    throw source_error("publication " + name + " exists with tables [" + listed +
                       "], not the configured ones; set alter_publication: true to change it, "
                       "or name another publication");
  }
  detail::exec(conn_, "ALTER PUBLICATION " + quote_ident(name) + " SET TABLE " + table_list);
}

std::optional<slot_state> source_catalog::slot(const std::string& name) {
  auto r = detail::exec(conn_,
                        "SELECT confirmed_flush_lsn, active_pid, plugin FROM pg_replication_slots "
                        "WHERE slot_name = $1",
                        {name});
  if (PQntuples(r.get()) == 0) return std::nullopt;
  slot_state s;
  if (!PQgetisnull(r.get(), 0, 0)) {
    s.confirmed_flush_lsn = schemas::lsn::parse(PQgetvalue(r.get(), 0, 0)).value_or(schemas::lsn{});
  }
  if (!PQgetisnull(r.get(), 0, 1)) s.active_pid = std::stoi(PQgetvalue(r.get(), 0, 1));
  s.plugin = PQgetvalue(r.get(), 0, 2);
  return s;
}

std::optional<type_info> source_catalog::type(std::uint32_t oid) {
  if (auto it = types_.find(oid); it != types_.end()) return it->second;
  auto r = detail::exec(conn_,
                        "SELECT t.typtype, t.typelem, t.typbasetype, e.typdelim, t.typrelid, "
                        "t.typcategory FROM pg_type t LEFT JOIN pg_type e ON e.oid = t.typelem "
                        "WHERE t.oid = $1",
                        {std::to_string(oid)});
  std::optional<type_info> info;
  if (PQntuples(r.get()) == 1) {
    type_info ti;
    ti.oid = oid;
    ti.k = static_cast<type_info::kind>(PQgetvalue(r.get(), 0, 0)[0]);
    // typelem is also set for fixed-length types like point (subscriptable); only category 'A'
    // marks a real array.
    const bool is_array = PQgetvalue(r.get(), 0, 5)[0] == 'A';
    ti.element_oid =
        is_array ? static_cast<std::uint32_t>(std::stoul(PQgetvalue(r.get(), 0, 1))) : 0;
    ti.base_oid = static_cast<std::uint32_t>(std::stoul(PQgetvalue(r.get(), 0, 2)));
    if (!PQgetisnull(r.get(), 0, 3)) ti.delimiter = PQgetvalue(r.get(), 0, 3)[0];
    const std::string relid = PQgetvalue(r.get(), 0, 4);
    if (ti.k == type_info::kind::composite && relid != "0") {
      auto attrs = detail::exec(conn_,
                                "SELECT attname, atttypid FROM pg_attribute WHERE attrelid = $1 "
                                "AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
                                {relid});
      for (int i = 0; i < PQntuples(attrs.get()); ++i) {
        ti.attributes.push_back(
            {PQgetvalue(attrs.get(), i, 0),
             static_cast<std::uint32_t>(std::stoul(PQgetvalue(attrs.get(), i, 1)))});
      }
    }
    info = std::move(ti);
  }
  types_[oid] = info;
  return info;
}

}  // namespace sluice::capture
