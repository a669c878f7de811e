#include "support/harness.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <pqxx/pqxx>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "support/services.hpp"

namespace sluice::test {

std::string scratch_dir() {
  static const std::string dir = [] {
    std::string d = std::string(SLUICE_BINARY_DIR) + "/test-scratch/" + std::to_string(::getpid());
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

std::string sluice_binary() {
  return std::string(SLUICE_BINARY_DIR) + "/bin/sluice";
}

std::string write_pipeline(const pipeline_spec& spec) {
  const std::string path = scratch_dir() + "/" + spec.name + ".yaml";
  std::ofstream out(path);
  out << "pipeline: " << spec.name << "\n"
      << "source:\n  postgres:\n"
      << "    dsn: \"" << (spec.dsn.empty() ? pg_dsn() : spec.dsn) << "\"\n"
      << "    slot: " << spec.slot() << "\n"
      << "    publication: " << spec.publication() << "\n"
      << "    snapshot: " << spec.snapshot << "\n"
      << "    tables: [";
  for (std::size_t i = 0; i < spec.tables.size(); ++i) out << (i ? ", " : "") << spec.tables[i];
  out << "]\n"
      << spec.extra_source_yaml << "transport:\n  kafka:\n"
      << "    brokers: " << (spec.brokers.empty() ? kafka_brokers() : spec.brokers) << "\n"
      << "    topic_prefix: " << spec.prefix() << "\n"
      << "    partitions: " << spec.partitions << "\n";
  return path;
}

child_process::child_process(const std::vector<std::string>& argv, const std::string& log_path)
    : log_path_(log_path) {
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    const int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
}

child_process::~child_process() {
  if (running()) {
    ::kill(pid_, SIGKILL);
    wait();
  }
}

void child_process::signal(int sig) {
  ::kill(pid_, sig);
}

int child_process::wait() {
  if (!status_) {
    int status = 0;
    ::waitpid(pid_, &status, 0);
    status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  return *status_;
}

bool child_process::running() {
  if (status_) return false;
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == 0) return true;
  status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return false;
}

std::string child_process::log() const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool child_process::wait_for_log(const std::string& text, std::chrono::seconds give_up) {
  const auto until = std::chrono::steady_clock::now() + give_up;
  while (std::chrono::steady_clock::now() < until) {
    if (log().find(text) != std::string::npos) return true;
    if (!running()) return log().find(text) != std::string::npos;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

run_result run_sluice(const std::vector<std::string>& args) {
  static int counter = 0;
  const std::string log_path = scratch_dir() + "/run_" + std::to_string(counter++) + ".log";
  std::vector<std::string> argv{sluice_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  child_process p(argv, log_path);
  const int code = p.wait();
  return {code, p.log()};
}

std::vector<std::string> capture_args(const std::string& pipeline_file,
                                      const std::string& state_dir) {
  return {sluice_binary(), "capture", "-c", pipeline_file, "--state-dir", state_dir};
}

void sql(const std::string& statements, const std::string& dsn) {
  pqxx::connection conn(dsn.empty() ? pg_dsn() : dsn);
  pqxx::work tx(conn);
  tx.exec(statements);
  tx.commit();
}

std::string sql_value(const std::string& query, const std::string& dsn) {
  pqxx::connection conn(dsn.empty() ? pg_dsn() : dsn);
  pqxx::nontransaction tx(conn);
  auto r = tx.exec(query);
  if (r.empty() || r[0][0].is_null()) return "";
  return r[0][0].c_str();
}

std::vector<std::vector<std::optional<std::string>>> sql_rows(const std::string& query,
                                                              const std::string& dsn) {
  pqxx::connection conn(dsn.empty() ? pg_dsn() : dsn);
  pqxx::nontransaction tx(conn);
  std::vector<std::vector<std::optional<std::string>>> rows;
  for (const auto& row : tx.exec(query)) {
    std::vector<std::optional<std::string>> out;
    for (const auto& f : row) {
      out.push_back(f.is_null() ? std::nullopt : std::optional<std::string>(f.c_str()));
    }
    rows.push_back(std::move(out));
  }
  return rows;
}

std::vector<transport::kafka_record> read_topics(
    const std::vector<std::string>& topics,
    const std::function<bool(const std::vector<transport::kafka_record>&)>& done,
    std::chrono::milliseconds settle, std::chrono::seconds give_up) {
  transport::kafka_consumer consumer({kafka_brokers(), unique_name("test_reader"), "earliest", {}});
  if (auto ok = consumer.subscribe(topics); !ok) throw std::runtime_error(ok.error().message);
  std::vector<transport::kafka_record> records;
  const auto until = std::chrono::steady_clock::now() + give_up;
  auto last = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() < until) {
    auto r = consumer.poll(200);
    if (r && *r) {
      records.push_back(std::move(**r));
      last = std::chrono::steady_clock::now();
      continue;
    }
    if (done(records) && std::chrono::steady_clock::now() - last >= settle) break;
  }
  consumer.close();
  return records;
}

void drop_slot(const std::string& slot) {
  sql_value(
      "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
      "WHERE slot_name = '" +
      slot + "' AND NOT active");
}

std::map<std::string, nlohmann::json> latest_per_key(
    const std::vector<transport::kafka_record>& records) {
  std::map<std::string, nlohmann::json> state;
  for (const auto& r : records) {
    if (!r.value) {
      state.erase(r.key);
      continue;
    }
    const auto event = nlohmann::json::parse(*r.value);
    const std::string op = event["op"];
    if (op == "t") {
      state.clear();
    } else if (op == "d") {
      state.erase(r.key);
    } else {
      state[r.key] = event["after"];
    }
  }
  return state;
}

std::map<std::string, nlohmann::json> table_rows(const std::string& table,
                                                 const std::vector<std::string>& key_columns) {
  std::map<std::string, nlohmann::json> rows;
  for (const auto& row : sql_rows("SELECT to_jsonb(t) FROM " + table + " t")) {
    const auto j = nlohmann::json::parse(*row[0]);
    nlohmann::json key = nlohmann::json::object();
    for (const auto& k : key_columns) key[k] = j[k];
    rows[key.dump()] = j;
  }
  return rows;
}

}  // namespace sluice::test
