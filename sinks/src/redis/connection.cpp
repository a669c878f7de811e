#include "connection.hpp"

#include <hiredis/hiredis.h>

#include <charconv>
#include <cstring>

namespace sluice::sinks::redis {
namespace {

reply convert(const redisReply* r) {
  reply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = reply::kind::string;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = reply::kind::status;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = reply::kind::error;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = reply::kind::integer;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = reply::kind::array;
      out.elements.reserve(r->elements);
      for (std::size_t i = 0; i < r->elements; ++i) out.elements.push_back(convert(r->element[i]));
      break;
    default:
      out.type = reply::kind::nil;
      break;
  }
  return out;
}

std::string percent_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int v = 0;
      auto [p, ec] = std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
      if (ec == std::errc() && p == s.data() + i + 3) {
        out += static_cast<char>(v);
        i += 2;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

std::optional<int> parse_int(std::string_view s) {
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

std::expected<endpoint, std::string> endpoint::parse(const std::string& url) {
  endpoint e;
  std::string_view rest(url);
  if (rest.starts_with("rediss://")) {
    return std::unexpected(
        "rediss:// (TLS) needs a hiredis built with TLS, which this build lacks");
  }
  if (rest.starts_with("unix://")) {
    rest.remove_prefix(7);
    auto q = rest.find('?');
    e.unix_path = std::string(rest.substr(0, q));
    if (q != std::string_view::npos) {
      auto query = rest.substr(q + 1);
      if (query.starts_with("db=")) {
        auto db = parse_int(query.substr(3));
        if (!db) return std::unexpected("unix:// URL: db= must be a number");
        e.database = *db;
      }
    }
    return e;
  }
  if (!rest.starts_with("redis://")) return std::unexpected("expected a redis:// or unix:// URL");
  rest.remove_prefix(8);
  auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    auto db_text = rest.substr(slash + 1);
    if (!db_text.empty()) {
      auto db = parse_int(db_text);
      if (!db || *db < 0) return std::unexpected("the database after '/' must be a number");
      e.database = *db;
    }
  }
  if (auto at = authority.rfind('@'); at != std::string_view::npos) {
    auto userinfo = authority.substr(0, at);
    authority.remove_prefix(at + 1);
    auto colon = userinfo.find(':');
    if (colon == std::string_view::npos) {
      e.user = percent_decode(userinfo);
    } else {
      e.user = percent_decode(userinfo.substr(0, colon));
      e.password = percent_decode(userinfo.substr(colon + 1));
    }
  }
  auto colon = authority.rfind(':');
  if (colon != std::string_view::npos && authority.find(']') == std::string_view::npos) {
    auto port = parse_int(authority.substr(colon + 1));
    if (!port) return std::unexpected("the port must be a number");
    e.port = *port;
    authority = authority.substr(0, colon);
  }
  if (!authority.empty()) e.host = std::string(authority);
  return e;
}

connection::connection(endpoint where) : where_(std::move(where)) {}

connection::~connection() {
  drop();
}

void connection::drop() {
  if (ctx_ != nullptr) redisFree(ctx_);
  ctx_ = nullptr;
}

void connection::select(int database) {
  where_.database = database;
  drop();
}

std::expected<void, redis_failure> connection::ensure_open() {
  if (ctx_ != nullptr) return {};
  timeval timeout{5, 0};
  ctx_ = where_.unix_path.empty()
             ? redisConnectWithTimeout(where_.host.c_str(), where_.port, timeout)
             : redisConnectUnixWithTimeout(where_.unix_path.c_str(), timeout);
  const std::string target =
      where_.unix_path.empty() ? where_.host + ":" + std::to_string(where_.port) : where_.unix_path;
  if (ctx_ == nullptr || ctx_->err != 0) {
    std::string why = ctx_ != nullptr ? ctx_->errstr : "out of memory";
    drop();
    return std::unexpected(
        redis_failure{"cannot connect to Redis at " + target + ": " + why, true});
  }
  // Commands that wait on a dead server must not hang the worker forever.
  timeval io{30, 0};
  redisSetTimeout(ctx_, io);
  std::vector<std::vector<std::string>> setup;
  if (!where_.password.empty()) {
    if (where_.user.empty()) {
      setup.push_back({"AUTH", where_.password});
    } else {
      setup.push_back({"AUTH", where_.user, where_.password});
    }
  }
  if (where_.database != 0) setup.push_back({"SELECT", std::to_string(where_.database)});
  for (const auto& args : setup) {
    auto r = command(args);
    if (!r) return std::unexpected(r.error());
    if (r->is_error()) {
      drop();
      return std::unexpected(
          redis_failure{"Redis at " + target + " refused " + args[0] + ": " + r->str, false});
    }
  }
  return {};
}

std::expected<reply, redis_failure> connection::command(const std::vector<std::string>& args) {
  std::vector<std::string_view> views(args.begin(), args.end());
  return run(views);
}

std::expected<reply, redis_failure> connection::run(const std::vector<std::string_view>& args) {
  request r;
  r.begin(args.size());
  for (auto a : args) r.arg(a);
  reply out;
  auto sent = send(r, [&out](const redisReply* raw) { out = convert(raw); });
  if (!sent) return std::unexpected(sent.error());
  return out;
}

template <class Each>
std::expected<void, redis_failure> connection::send(const request& r, Each&& each) {
  if (ctx_ == nullptr) {
    if (auto ok = ensure_open(); !ok) return std::unexpected(ok.error());
  }
  // One preformatted buffer for the whole pipeline (hiredis' own formatting appends each
  // argument with sdscatfmt, which showed up as a fifth of the worker's CPU time).
  if (redisAppendFormattedCommand(ctx_, r.bytes().data(), r.bytes().size()) == REDIS_OK) {
    std::size_t read = 0;
    for (; read < r.commands(); ++read) {
      void* raw = nullptr;
      if (redisGetReply(ctx_, &raw) != REDIS_OK || raw == nullptr) break;
      each(static_cast<const redisReply*>(raw));
      freeReplyObject(raw);
    }
    if (read == r.commands()) return {};
  }
  std::string why = ctx_->errstr;
  drop();
  return std::unexpected(redis_failure{"Redis connection lost: " + why, true});
}

std::expected<std::vector<reply>, redis_failure> connection::pipeline(const request& r) {
  std::vector<reply> out;
  out.reserve(r.commands());
  auto sent = send(r, [&out](const redisReply* raw) { out.push_back(convert(raw)); });
  if (!sent) return std::unexpected(sent.error());
  return out;
}

std::expected<transaction_outcome, redis_failure> connection::transaction(const request& r) {
  transaction_outcome outcome;
  std::size_t seen = 0;
  auto note_error = [&outcome](const redisReply* x) {
    if (x->type == REDIS_REPLY_ERROR && outcome.error.empty()) outcome.error.assign(x->str, x->len);
  };
  auto sent = send(r, [&](const redisReply* raw) {
    if (++seen < r.commands()) return note_error(raw);  // MULTI's OK, then QUEUED or an error
    if (raw->type == REDIS_REPLY_NIL) outcome.aborted = true;
    note_error(raw);  // EXECABORT: a queued command was rejected, nothing ran
    if (raw->type == REDIS_REPLY_ARRAY) {
      for (std::size_t i = 0; i < raw->elements; ++i) {
        note_error(raw->element[i]);
        if (raw->element[i]->type == REDIS_REPLY_ERROR) outcome.partly_applied = true;
      }
    }
  });
  if (!sent) return std::unexpected(sent.error());
  return outcome;
}

std::expected<reply, redis_failure> connection::eval(const std::string& script,
                                                     const std::vector<std::string>& keys,
                                                     const std::vector<std::string>& args) {
  const std::string* sha = nullptr;
  for (const auto& [s, h] : shas_) {
    if (s == &script) sha = &h;
  }
  if (sha == nullptr) {
    auto loaded = command({"SCRIPT", "LOAD", script});
    if (!loaded) return std::unexpected(loaded.error());
    if (loaded->is_error()) return *loaded;
    shas_.emplace_back(&script, loaded->str);
    sha = &shas_.back().second;
  }
  const std::string key_count = std::to_string(keys.size());
  std::vector<std::string_view> argv;
  argv.reserve(3 + keys.size() + args.size());
  argv.emplace_back("EVALSHA");
  argv.emplace_back(*sha);
  argv.emplace_back(key_count);
  argv.insert(argv.end(), keys.begin(), keys.end());
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = run(argv);
  if (r && r->is_error() && r->str.starts_with("NOSCRIPT")) {
    argv[0] = "EVAL";
    argv[1] = script;
    r = run(argv);
  }
  return r;
}

}  // namespace sluice::sinks::redis
