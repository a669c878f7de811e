#pragma once
// A thin hiredis shell: one blocking connection, argv commands, pipelines and transactions
// written by the caller (resp.hpp), and scripts by SHA with a fallback to EVAL when the server
// does not know the script yet (after a restart).
#include <cstdint>
#include <expected>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/sinks/redis/resp.hpp"

struct redisContext;

namespace sluice::sinks::redis {

/// Where the server is: parsed from redis://[user:password@]host[:port][/db] or
/// unix://path[?db=N].
struct endpoint {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string unix_path;
  std::string user;
  std::string password;
  int database = 0;

  [[nodiscard]] static std::expected<endpoint, std::string> parse(const std::string& url);
};

/// A reply, converted from hiredis' redisReply.
struct reply {
  enum class kind { string, integer, array, nil, status, error };
  kind type = kind::nil;
  std::string str;  // string, status, error
  long long integer = 0;
  std::vector<reply> elements;

  [[nodiscard]] bool is_error() const { return type == kind::error; }
};

/// How a MULTI … EXEC request ended.
struct transaction_outcome {
  bool aborted = false;  // a WATCHed key changed: nothing was applied, read again and retry
  std::string error;     // the first error reply (a command rejected or failed), if any
  /// A command failed while EXEC ran them: Redis does not roll back, the others took effect.
  bool partly_applied = false;
};

struct redis_failure {
  std::string message;
  bool connection_lost = false;  // the connection is gone; the next command reconnects
};

class connection {
 public:
  explicit connection(endpoint where);
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  /// Connects (again) if needed, authenticates and selects `database`.
  [[nodiscard]] std::expected<void, redis_failure> ensure_open();
  /// Runs one command. An error reply is returned as a reply of kind error, not a failure.
  [[nodiscard]] std::expected<reply, redis_failure> command(const std::vector<std::string>& args);
  /// Sends every command of `r` at once and returns their replies, in order.
  [[nodiscard]] std::expected<std::vector<reply>, redis_failure> pipeline(const request& r);
  /// Sends `r`, which must end with EXEC, and reads its replies without converting them (a
  /// batch's transaction has a few replies per event, all of them "QUEUED" or "OK").
  [[nodiscard]] std::expected<transaction_outcome, redis_failure> transaction(const request& r);
  /// EVALSHA of a script loaded on first use; EVAL when the server lost it.
  [[nodiscard]] std::expected<reply, redis_failure> eval(const std::string& script,
                                                         const std::vector<std::string>& keys,
                                                         const std::vector<std::string>& args);
  void select(int database);
  [[nodiscard]] int database() const { return where_.database; }
  [[nodiscard]] const endpoint& where() const { return where_; }

 private:
  void drop();
  std::expected<reply, redis_failure> run(const std::vector<std::string_view>& args);
  /// Sends `r` and hands each raw hiredis reply to `each` (which must not keep it).
  template <class Each>
  std::expected<void, redis_failure> send(const request& r, Each&& each);

  endpoint where_;
  redisContext* ctx_ = nullptr;
  std::vector<std::pair<const std::string*, std::string>> shas_;
};

}  // namespace sluice::sinks::redis
