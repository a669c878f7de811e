#pragma once
// Redis commands written straight into one RESP buffer, ready to be sent as a pipeline.
// Pure (no sockets): the cache's planning step builds these, the connection sends them.
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>
#include <string_view>

namespace sluice::sinks::redis {

class request {
 public:
  /// A whole command at once: request.command({"HGET", key, field}).
  void command(std::initializer_list<std::string_view> args) {
    begin(args.size());
    for (auto a : args) arg(a);
  }
  /// A command of `argc` arguments, each added with arg() (the count comes first in RESP).
  void begin(std::size_t argc) {
    number('*', argc);
    ++commands_;
  }
  void arg(std::string_view a) {
    // One write per argument: a batch has tens of thousands, and appending the length, the
    // bytes and the CRLF separately showed up as a tenth of the worker's time.
    const std::size_t at = bytes_.size();
    bytes_.resize_and_overwrite(at + a.size() + 26, [&](char* p, std::size_t) {
      char* w = p + at;
      *w++ = '$';
      w = std::to_chars(w, w + 20, a.size()).ptr;
      *w++ = '\r';
      *w++ = '\n';
      std::memcpy(w, a.data(), a.size());
      w += a.size();
      *w++ = '\r';
      *w++ = '\n';
      return static_cast<std::size_t>(w - p);
    });
  }
  void arg(std::int64_t n) {
    char buf[24];
    auto end = std::to_chars(buf, buf + sizeof buf, n).ptr;
    arg(std::string_view(buf, static_cast<std::size_t>(end - buf)));
  }

  void reserve(std::size_t bytes) { bytes_.reserve(bytes); }
  [[nodiscard]] std::size_t commands() const { return commands_; }
  [[nodiscard]] const std::string& bytes() const { return bytes_; }
  [[nodiscard]] bool empty() const { return commands_ == 0; }
  void clear() {
    bytes_.clear();
    commands_ = 0;
  }

 private:
  void number(char prefix, std::size_t n) {
    char buf[24];
    buf[0] = prefix;
    char* end = std::to_chars(buf + 1, buf + sizeof buf - 2, n).ptr;
    *end++ = '\r';
    *end++ = '\n';
    bytes_.append(buf, static_cast<std::size_t>(end - buf));
  }

  std::string bytes_;
  std::size_t commands_ = 0;
};

}  // namespace sluice::sinks::redis
