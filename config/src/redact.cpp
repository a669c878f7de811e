#include "sluice/config/redact.hpp"

#include <algorithm>
#include <cctype>

namespace sluice::config {
namespace {

constexpr std::string_view mask = "***";

bool iequals(std::string_view a, std::string_view b) {
  return std::ranges::equal(a, b, [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) ==
           std::tolower(static_cast<unsigned char>(y));
  });
}

bool is_space(char c) {
  return std::isspace(static_cast<unsigned char>(c)) != 0;
}

bool is_keyword_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
}

// libpq's key=value form (libpq "Connection Strings"): spaces may surround '=', a value is
// either a run of non-space characters or single-quoted with backslash escapes.
std::string redact_conninfo(std::string_view text) {
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    if (!is_keyword_char(text[i])) {
      out += text[i++];
      continue;
    }
    std::size_t key_end = i;
    while (key_end < text.size() && is_keyword_char(text[key_end])) ++key_end;
    std::size_t eq = key_end;
    while (eq < text.size() && is_space(text[eq])) ++eq;
    if (eq == text.size() || text[eq] != '=') {
      out.append(text.substr(i, eq - i));
      i = eq;
      continue;
    }
    std::size_t value = eq + 1;
    while (value < text.size() && is_space(text[value])) ++value;
    std::size_t value_end = value;
    if (value_end < text.size() && text[value_end] == '\'') {
      ++value_end;
      while (value_end < text.size() && text[value_end] != '\'') {
        value_end += text[value_end] == '\\' ? 2 : 1;
      }
      value_end = std::min(value_end + 1, text.size());
    } else {
      while (value_end < text.size() && !is_space(text[value_end])) ++value_end;
    }
    out.append(text.substr(i, value - i));
    if (iequals(text.substr(i, key_end - i), "password")) {
      out += mask;
    } else {
      out.append(text.substr(value, value_end - value));
    }
    i = value_end;
  }
  return out;
}

// "password=..." parameters of a URI query (libpq accepts any conninfo keyword there).
// Scans the whole text, not only what follows the first '?', because the user part is found
// with the last '@', which may sit inside the query.
std::string redact_query_passwords(std::string text) {
  constexpr std::string_view key = "password=";
  for (std::size_t i = 1; i + key.size() <= text.size(); ++i) {
    if ((text[i - 1] != '?' && text[i - 1] != '&') ||
        !iequals(std::string_view(text).substr(i, key.size()), key)) {
      continue;
    }
    std::size_t value = i + key.size();
    std::size_t end = std::min(text.find_first_of("&#", value), text.size());
    text.replace(value, end - value, mask);
  }
  return text;
}

std::string redact_uri(std::string_view text, std::size_t scheme_end) {
  std::string_view scheme = text.substr(0, scheme_end);
  std::size_t authority = scheme_end + 3;
  // The last '@' rather than the first '/': passwords often hold unencoded '/', '#' or '?',
  // and masking a host by mistake is harmless while showing a password is not.
  auto at = text.rfind('@');
  std::string out(text.substr(0, authority));
  std::size_t rest = authority;
  if (at != std::string_view::npos && at >= authority) {
    std::string_view userinfo = text.substr(authority, at - authority);
    auto colon = userinfo.find(':');
    bool redis = iequals(scheme, "redis") || iequals(scheme, "rediss");
    if (colon != std::string_view::npos) {
      out.append(userinfo.substr(0, colon + 1));
      out += mask;
    } else if (redis) {
      out += mask;  // redis://secret@host: a lone userinfo is the password (AUTH <password>)
    } else {
      out.append(userinfo);
    }
    out += '@';
    rest = at + 1;
  }
  out.append(text.substr(rest));
  return redact_query_passwords(std::move(out));
}

}  // namespace

std::string redact(std::string_view dsn_or_url) {
  // A URI starts with its scheme; a "://" further in is part of some conninfo value.
  auto scheme_end = dsn_or_url.find("://");
  bool is_uri =
      scheme_end != std::string_view::npos && scheme_end > 0 &&
      std::ranges::all_of(dsn_or_url.substr(0, scheme_end), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '+' || c == '-' || c == '.';
      });
  if (is_uri) return redact_uri(dsn_or_url, scheme_end);
  // Not a URI, but it may still be a URI without its scheme ("host/db?password=..."), so the
  // query form is masked too.
  return redact_query_passwords(redact_conninfo(dsn_or_url));
}

}  // namespace sluice::config
