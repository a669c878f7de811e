#include "support/sink_harness.hpp"

#include <hiredis/hiredis.h>

#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <thread>

#include "support/services.hpp"

namespace sluice::test {
namespace {

struct context_deleter {
  void operator()(redisContext* c) const { redisFree(c); }
};
using context_ptr = std::unique_ptr<redisContext, context_deleter>;
struct reply_deleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using reply_ptr = std::unique_ptr<redisReply, reply_deleter>;

/// host and port from REDIS_URL (redis://host:port/db).
std::pair<std::string, int> redis_address() {
  std::string url = redis_url();
  std::string rest = url.substr(url.find("://") + 3);
  rest = rest.substr(0, rest.find('/'));
  const auto colon = rest.rfind(':');
  return {rest.substr(0, colon), std::stoi(rest.substr(colon + 1))};
}

context_ptr connect(int database) {
  auto [host, port] = redis_address();
  context_ptr c(redisConnect(host.c_str(), port));
  if (!c || c->err != 0) {
    throw std::runtime_error("cannot connect to Redis at " + host + ":" + std::to_string(port) +
                             (c ? std::string(": ") + c->errstr : std::string()));
  }
  reply_ptr r(static_cast<redisReply*>(redisCommand(c.get(), "SELECT %d", database)));
  if (!r || r->type == REDIS_REPLY_ERROR) throw std::runtime_error("Redis SELECT failed");
  return c;
}

reply_ptr run(redisContext* c, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  reply_ptr r(static_cast<redisReply*>(
      redisCommandArgv(c, static_cast<int>(args.size()), argv.data(), lens.data())));
  if (!r) throw std::runtime_error(std::string("Redis: ") + c->errstr);
  if (r->type == REDIS_REPLY_ERROR) throw std::runtime_error(std::string("Redis: ") + r->str);
  return r;
}

const std::string claim_key = "__sluice_test:claimed_by";

// Databases handed out in this process and not yet given back: a sink claims its database only
// when it starts, so an empty database is not enough to tell.
std::set<int>& taken() {
  static std::set<int> numbers;
  return numbers;
}

}  // namespace

redis_database::redis_database(const std::string& test_name) {
  auto c = connect(0);
  auto count = run(c.get(), {"CONFIG", "GET", "databases"});
  const int databases = count->elements == 2 ? std::stoi(count->element[1]->str) : 16;
  // Database 0 is the demo's; tests take the others from the top.
  for (int db = databases - 1; db >= 1; --db) {
    if (taken().count(db) > 0) continue;
    run(c.get(), {"SELECT", std::to_string(db)});
    if (run(c.get(), {"DBSIZE"})->integer != 0) continue;
    if (run(c.get(), {"SET", claim_key, test_name, "NX"})->type == REDIS_REPLY_NIL) continue;
    if (run(c.get(), {"DBSIZE"})->integer != 1) continue;
    // The sink wants an empty database: the claim was only to win against a parallel test.
    run(c.get(), {"DEL", claim_key});
    number_ = db;
    taken().insert(db);
    return;
  }
  throw std::runtime_error("no empty Redis database left for test " + test_name);
}

redis_database::~redis_database() {
  try {
    auto c = connect(number_);
    run(c.get(), {"FLUSHDB"});
  } catch (...) {
  }
  taken().erase(number_);
}

std::string redis_database::url() const {
  auto [host, port] = redis_address();
  return "redis://" + host + ":" + std::to_string(port) + "/" + std::to_string(number_);
}

std::map<std::string, redis_row> read_redis_rows(int database) {
  auto c = connect(database);
  std::vector<std::string> keys;
  std::string cursor = "0";
  do {
    auto r = run(c.get(), {"SCAN", cursor, "COUNT", "1000"});
    cursor = r->element[0]->str;
    for (std::size_t i = 0; i < r->element[1]->elements; ++i) {
      std::string k(r->element[1]->element[i]->str, r->element[1]->element[i]->len);
      if (!k.starts_with("__sluice")) keys.push_back(std::move(k));
    }
  } while (cursor != "0");

  std::map<std::string, redis_row> rows;
  constexpr std::size_t chunk = 500;
  for (std::size_t start = 0; start < keys.size(); start += chunk) {
    const std::size_t end = std::min(keys.size(), start + chunk);
    for (std::size_t i = start; i < end; ++i) {
      redisAppendCommand(c.get(), "TYPE %b", keys[i].data(), keys[i].size());
    }
    std::vector<std::string> types;
    for (std::size_t i = start; i < end; ++i) {
      void* raw = nullptr;
      if (redisGetReply(c.get(), &raw) != REDIS_OK) throw std::runtime_error("Redis TYPE failed");
      reply_ptr r(static_cast<redisReply*>(raw));
      types.emplace_back(r->str);
    }
    for (std::size_t i = start; i < end; ++i) {
      const char* cmd = types[i - start] == "hash" ? "HGETALL %b" : "GET %b";
      redisAppendCommand(c.get(), cmd, keys[i].data(), keys[i].size());
    }
    for (std::size_t i = start; i < end; ++i) {
      void* raw = nullptr;
      if (redisGetReply(c.get(), &raw) != REDIS_OK) throw std::runtime_error("Redis read failed");
      reply_ptr r(static_cast<redisReply*>(raw));
      redis_row row;
      if (r->type == REDIS_REPLY_ARRAY) {
        for (std::size_t f = 0; f + 1 < r->elements; f += 2) {
          row[std::string(r->element[f]->str, r->element[f]->len)] =
              std::string(r->element[f + 1]->str, r->element[f + 1]->len);
        }
      } else if (r->type == REDIS_REPLY_STRING) {
        auto doc = nlohmann::json::parse(std::string(r->str, r->len), nullptr, false);
        if (doc.is_object()) {
          for (const auto& [name, value] : doc.items()) row[name] = value.dump();
        } else {
          row["<not a JSON object>"] = std::string(r->str, r->len);
        }
      } else {
        continue;  // expired or deleted since SCAN
      }
      rows[keys[i]] = std::move(row);
    }
  }
  return rows;
}

long long redis_key_count(int database) {
  auto c = connect(database);
  return run(c.get(), {"DBSIZE"})->integer;
}

std::string redis_command(int database, const std::vector<std::string>& args) {
  auto c = connect(database);
  auto r = run(c.get(), args);
  if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) {
    return std::string(r->str, r->len);
  }
  if (r->type == REDIS_REPLY_INTEGER) return std::to_string(r->integer);
  return "";
}

void add_sinks(const std::string& pipeline_file, const std::string& sinks_yaml) {
  std::ofstream out(pipeline_file, std::ios::app);
  out << "sinks:\n" << sinks_yaml;
}

std::vector<std::string> sink_args(const std::string& pipeline_file, const std::string& sink) {
  return {sluice_binary(), "sink", sink, "-c", pipeline_file};
}

std::string wait_until_converged(const std::function<std::string()>& check,
                                 std::chrono::seconds give_up) {
  const auto until = std::chrono::steady_clock::now() + give_up;
  std::string last = check();
  while (!last.empty() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    last = check();
  }
  return last;
}

std::string diff_rows(const std::map<std::string, redis_row>& expected,
                      const std::map<std::string, redis_row>& actual) {
  std::string out;
  int shown = 0;
  std::size_t differences = 0;
  auto note = [&](const std::string& line) {
    ++differences;
    if (shown++ < 8) out += "  " + line + "\n";
  };
  for (const auto& [key, row] : expected) {
    auto it = actual.find(key);
    if (it == actual.end()) {
      note("missing key " + key);
      continue;
    }
    for (const auto& [field, value] : row) {
      auto f = it->second.find(field);
      if (f == it->second.end()) {
        note(key + ": missing field " + field);
      } else if (f->second != value) {
        note(key + ": field " + field + " is '" + f->second.substr(0, 60) + "', expected '" +
             value.substr(0, 60) + "'");
      }
    }
    for (const auto& [field, value] : it->second) {
      if (row.count(field) == 0) note(key + ": extra field " + field);
    }
  }
  for (const auto& [key, row] : actual) {
    if (expected.count(key) == 0) note("extra key " + key);
  }
  if (differences == 0) return "";
  return std::to_string(differences) + " differences (" + std::to_string(expected.size()) +
         " rows expected, " + std::to_string(actual.size()) + " keys in Redis):\n" + out;
}

}  // namespace sluice::test
