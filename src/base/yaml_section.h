// Reading YAML configuration files strictly: every error names the file, the line and the key
// path ("site.yaml:12: alerts.console.min_severity: ..."), and a key nobody asked for is an
// error, so a typo never falls back to a default silently. Shared by the vision and fusion
// configurations.
#pragma once

#include <yaml-cpp/yaml.h>

#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include "base/error.h"

namespace vigil {

// Where a node sits, for error messages: "file:line: key.path" (no line when unknown).
std::string yaml_where(const std::string& origin, const YAML::Node& node, const std::string& path);
// What a node holds, for "expected X, got Y": "\"text\"", "a list", "a map" or "nothing".
std::string yaml_describe(const YAML::Node& node);

// One YAML map being read. Hands out keys, remembers which were asked for, and finish() rejects
// the rest. A missing or null key leaves the output at its default. `origin` (the file name)
// must outlive the section.
class YamlSection {
 public:
  YamlSection(YAML::Node node, std::string path, const std::string& origin);

  YAML::Node child(const std::string& key);              // marks `key` as known
  std::string child_path(const std::string& key) const;  // "path.key"

  // Scalar keys. `expected` words the error ("a whole number of tokens"); by default it is "a
  // number", "a whole number", "true or false" or "a string" from T.
  template <typename T>
  void read(const std::string& key, T& out, const char* expected = nullptr) {
    YAML::Node value = child(key);
    if (!value || value.IsNull()) return;
    out = convert<T>(value, child_path(key), expected);
  }
  template <typename T>
  void read_range(const std::string& key, T& out, T lo, T hi, const char* expected = nullptr) {
    read(key, out, expected);
    if (out < lo || out > hi) {
      fail("{}: {} is out of range, expected {} from {} to {}",
           yaml_where(origin_, child(key), child_path(key)), out,
           expected != nullptr ? expected : type_name<T>(), lo, hi);
    }
  }
  // A list of strings (names).
  void read_strings(const std::string& key, std::vector<std::string>& out);

  template <typename T>
  T convert(const YAML::Node& value, const std::string& path,
            const char* expected = nullptr) const {
    const char* what = expected != nullptr ? expected : type_name<T>();
    if (!value.IsScalar()) {
      fail("{}: expected {}, got {}", yaml_where(origin_, value, path), what, yaml_describe(value));
    }
    try {
      return value.as<T>();
    } catch (const YAML::Exception&) {
      fail("{}: expected {}, got {}", yaml_where(origin_, value, path), what, yaml_describe(value));
    }
  }

  // Throws on the first key that was never asked for, listing the known ones.
  void finish() const;

  const YAML::Node& node() const { return node_; }
  const std::string& origin() const { return origin_; }

 private:
  template <typename T>
  static const char* type_name() {
    if constexpr (std::is_same_v<T, bool>) return "true or false";
    if constexpr (std::is_integral_v<T>) return "a whole number";
    if constexpr (std::is_floating_point_v<T>) return "a number";
    return "a string";
  }

  YAML::Node node_;
  std::string path_;
  const std::string& origin_;
  std::set<std::string> known_;
};

}  // namespace vigil
