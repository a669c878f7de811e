#include "support/json_schema.hpp"

#include <cmath>
#include <fstream>
#include <map>
#include <mutex>
#include <regex>
#include <sstream>
#include <stdexcept>

namespace sluice::test {

namespace {

using json = nlohmann::json;

// Deep enough for any real schema; stops a $ref cycle from overflowing the stack.
constexpr int max_depth = 64;

std::string display(const std::string& pointer) {
  return pointer.empty() ? "(root)" : pointer;
}

std::string child_pointer(const std::string& parent, std::string_view key) {
  // RFC 6901: "~" and "/" inside a reference token are escaped as "~0" and "~1".
  std::string out = parent + '/';
  for (char c : key) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

std::string instance_type(const json& j) {
  switch (j.type()) {
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return "integer";
    case json::value_t::number_float:
      return "number";
    default:
      return j.type_name();
  }
}

bool has_type(const json& j, const std::string& type) {
  if (type == "null") return j.is_null();
  if (type == "boolean") return j.is_boolean();
  if (type == "object") return j.is_object();
  if (type == "array") return j.is_array();
  if (type == "string") return j.is_string();
  if (type == "number") return j.is_number();
  if (type == "integer") {
    // 2020-12: any number with a zero fractional part is an integer, 1.0 included.
    if (j.is_number_integer()) return true;
    if (!j.is_number_float()) return false;
    const double d = j.get<double>();
    return std::isfinite(d) && std::trunc(d) == d;
  }
  return false;
}

// minLength and maxLength count Unicode code points, not bytes.
std::size_t code_points(const std::string& s) {
  std::size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

int compare_doubles(double a, double b) {
  return (a > b) - (a < b);
}

// Exact comparison of two JSON integers, each stored as int64 or uint64.
int compare_integers(const json& a, const json& b) {
  const bool a_negative = !a.is_number_unsigned() && a.get<std::int64_t>() < 0;
  const bool b_negative = !b.is_number_unsigned() && b.get<std::int64_t>() < 0;
  if (a_negative != b_negative) return a_negative ? -1 : 1;
  if (a_negative) {
    const auto x = a.get<std::int64_t>();
    const auto y = b.get<std::int64_t>();
    return (x > y) - (x < y);
  }
  const auto x = a.get<std::uint64_t>();
  const auto y = b.get<std::uint64_t>();
  return (x > y) - (x < y);
}

const std::regex& compiled(const std::string& pattern) {
  static std::mutex mutex;
  static std::map<std::string, std::regex> cache;  // std::regex is costly to build
  std::lock_guard lock(mutex);
  auto it = cache.find(pattern);
  if (it == cache.end()) {
    it = cache.emplace(pattern, std::regex(pattern, std::regex::ECMAScript)).first;
  }
  return it->second;
}

class validator {
 public:
  explicit validator(const json& root) : root_(root) {}

  void check(const json& schema, const json& instance, const std::string& where,
             std::vector<std::string>& errors, int depth) const {
    if (depth > max_depth) {
      errors.push_back(display(where) + ": schema nesting deeper than " +
                       std::to_string(max_depth) + " (a $ref cycle?)");
      return;
    }
    if (schema.is_boolean()) {
      if (!schema.get<bool>()) errors.push_back(display(where) + ": not allowed (schema false)");
      return;
    }
    if (!schema.is_object()) {
      errors.push_back(display(where) + ": schema is neither an object nor a boolean");
      return;
    }
    for (const auto& [keyword, argument] : schema.items()) {
      check_keyword(schema, keyword, argument, instance, where, errors, depth);
    }
  }

  [[nodiscard]] bool passes(const json& schema, const json& instance, const std::string& where,
                            int depth) const {
    std::vector<std::string> errors;
    check(schema, instance, where, errors, depth);
    return errors.empty();
  }

 private:
  void check_keyword(const json& schema, const std::string& keyword, const json& argument,
                     const json& instance, const std::string& where,
                     std::vector<std::string>& errors, int depth) const {
    const auto fail = [&](const std::string& message) {
      errors.push_back(display(where) + ": " + message);
    };

    if (keyword == "$schema" || keyword == "$id" || keyword == "$comment" || keyword == "$defs" ||
        keyword == "title" || keyword == "description" || keyword == "then" || keyword == "else") {
      return;  // annotations, or applied together with "if"
    }
    if (keyword == "type") {
      const auto types = argument.is_array() ? argument : json::array({argument});
      for (const auto& t : types) {
        if (has_type(instance, t.get<std::string>())) return;
      }
      fail("expected " + (argument.is_array() ? argument.dump() : argument.get<std::string>()) +
           ", got " + instance_type(instance));
    } else if (keyword == "enum") {
      for (const auto& allowed : argument) {
        if (allowed == instance) return;
      }
      fail(instance.dump() + " is not one of " + argument.dump());
    } else if (keyword == "const") {
      if (argument != instance) fail(instance.dump() + " is not " + argument.dump());
    } else if (keyword == "properties") {
      if (!instance.is_object()) return;
      for (const auto& [name, sub] : argument.items()) {
        const auto it = instance.find(name);
        if (it != instance.end()) check(sub, *it, child_pointer(where, name), errors, depth + 1);
      }
    } else if (keyword == "required") {
      if (!instance.is_object()) return;
      for (const auto& name : argument) {
        if (!instance.contains(name.get<std::string>())) {
          fail("missing required property '" + name.get<std::string>() + "'");
        }
      }
    } else if (keyword == "additionalProperties") {
      if (!instance.is_object()) return;
      const auto properties = schema.find("properties");
      for (const auto& [name, sub] : instance.items()) {
        if (properties != schema.end() && properties->contains(name)) continue;
        if (argument.is_boolean() && !argument.get<bool>()) {
          errors.push_back(display(child_pointer(where, name)) + ": property not allowed");
        } else {
          check(argument, sub, child_pointer(where, name), errors, depth + 1);
        }
      }
    } else if (keyword == "minProperties") {
      if (instance.is_object() && instance.size() < argument.get<std::size_t>()) {
        fail("expected at least " + argument.dump() + " properties, got " +
             std::to_string(instance.size()));
      }
    } else if (keyword == "pattern") {
      if (!instance.is_string()) return;
      if (!std::regex_search(instance.get<std::string>(), compiled(argument.get<std::string>()))) {
        fail(instance.dump() + " does not match " + argument.dump());
      }
    } else if (keyword == "minLength" || keyword == "maxLength") {
      if (!instance.is_string()) return;
      const auto n = code_points(instance.get<std::string>());
      const auto limit = argument.get<std::size_t>();
      if (keyword == "minLength" ? n < limit : n > limit) {
        fail("length " + std::to_string(n) + " violates " + keyword + " " + argument.dump());
      }
    } else if (keyword == "minimum" || keyword == "maximum") {
      if (!instance.is_number()) return;
      // Integers are compared exactly: as doubles, int64 values above 2^53 would blur.
      const int order = instance.is_number_integer() && argument.is_number_integer()
                            ? compare_integers(instance, argument)
                            : compare_doubles(instance.get<double>(), argument.get<double>());
      const bool ok = keyword == "minimum" ? order >= 0 : order <= 0;
      if (!ok) fail(instance.dump() + " violates " + keyword + " " + argument.dump());
    } else if (keyword == "items") {
      if (!instance.is_array()) return;
      for (std::size_t i = 0; i < instance.size(); ++i) {
        check(argument, instance[i], where + '/' + std::to_string(i), errors, depth + 1);
      }
    } else if (keyword == "minItems" || keyword == "maxItems") {
      if (!instance.is_array()) return;
      const auto limit = argument.get<std::size_t>();
      if (keyword == "minItems" ? instance.size() < limit : instance.size() > limit) {
        fail(std::to_string(instance.size()) + " items violates " + keyword + " " +
             argument.dump());
      }
    } else if (keyword == "$ref") {
      const auto& ref = argument.get_ref<const std::string&>();
      if (ref.empty() || ref[0] != '#') {
        fail("unsupported $ref " + ref + " (only local \"#/...\" references)");
        return;
      }
      const json::json_pointer target(ref.substr(1));
      if (!root_.contains(target)) {
        fail("$ref " + ref + " does not resolve");
        return;
      }
      check(root_.at(target), instance, where, errors, depth + 1);
    } else if (keyword == "allOf") {
      for (const auto& sub : argument) check(sub, instance, where, errors, depth + 1);
    } else if (keyword == "anyOf" || keyword == "oneOf") {
      std::size_t matches = 0;
      std::string reasons;
      for (const auto& sub : argument) {
        std::vector<std::string> sub_errors;
        check(sub, instance, where, sub_errors, depth + 1);
        if (sub_errors.empty()) {
          ++matches;
        } else {
          reasons += (reasons.empty() ? "" : "; ") + sub_errors.front();
        }
      }
      if (matches == 0) fail("matches no " + keyword + " alternative (" + reasons + ")");
      if (keyword == "oneOf" && matches > 1) {
        fail("matches " + std::to_string(matches) + " oneOf alternatives, expected exactly one");
      }
    } else if (keyword == "not") {
      if (passes(argument, instance, where, depth + 1)) fail("matches a \"not\" schema");
    } else if (keyword == "if") {
      const bool condition = passes(argument, instance, where, depth + 1);
      const auto branch = schema.find(condition ? "then" : "else");
      if (branch != schema.end()) check(*branch, instance, where, errors, depth + 1);
    } else {
      fail("schema uses unsupported keyword '" + keyword + "'");
    }
  }

  const json& root_;
};

}  // namespace

std::vector<std::string> validate(const nlohmann::json& schema, const nlohmann::json& instance) {
  std::vector<std::string> errors;
  validator(schema).check(schema, instance, "", errors, 0);
  return errors;
}

nlohmann::json load_json_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  std::ostringstream text;
  text << in.rdbuf();
  try {
    return nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::exception& ex) {
    throw std::runtime_error(path.string() + ": " + ex.what());
  }
}

std::filesystem::path source_dir() {
#ifdef SLUICE_SOURCE_DIR
  return SLUICE_SOURCE_DIR;
#else
  // tests/CMakeLists.txt defines SLUICE_SOURCE_DIR for the test executables, not for this
  // library; this file is <source>/tests/support/json_schema.cpp, and CMake compiles it by its
  // absolute path.
  return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path();
#endif
}

nlohmann::json load_event_schema() {
  return load_json_file(source_dir() / "schemas" / "change-event.schema.json");
}

nlohmann::json load_key_schema() {
  return load_json_file(source_dir() / "schemas" / "key.schema.json");
}

std::vector<std::string> validate_event(const nlohmann::json& event) {
  static const nlohmann::json schema = load_event_schema();
  return validate(schema, event);
}

std::vector<std::string> validate_key(const nlohmann::json& key) {
  static const nlohmann::json schema = load_key_schema();
  return validate(schema, key);
}

}  // namespace sluice::test
