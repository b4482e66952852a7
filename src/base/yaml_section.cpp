#include "base/yaml_section.h"

#include <fmt/format.h>

namespace vigil {

std::string yaml_where(const std::string& origin, const YAML::Node& node, const std::string& path) {
  const YAML::Mark mark = node.Mark();
  if (mark.line >= 0) return fmt::format("{}:{}: {}", origin, mark.line + 1, path);
  return fmt::format("{}: {}", origin, path);
}

std::string yaml_describe(const YAML::Node& node) {
  if (node.IsScalar()) return fmt::format("\"{}\"", printable(node.Scalar(), 40));
  if (node.IsSequence()) return "a list";
  if (node.IsMap()) return "a map";
  return "nothing";
}

YamlSection::YamlSection(YAML::Node node, std::string path, const std::string& origin)
    : node_(std::move(node)), path_(std::move(path)), origin_(origin) {
  if (node_ && !node_.IsNull() && !node_.IsMap()) {
    fail("{}: expected a map of keys, got {}", yaml_where(origin_, node_, path_),
         yaml_describe(node_));
  }
}

YAML::Node YamlSection::child(const std::string& key) {
  known_.insert(key);
  if (!node_ || node_.IsNull()) return YAML::Node();
  const YAML::Node& map = node_;  // const lookup: never inserts the key
  return map[key];
}

std::string YamlSection::child_path(const std::string& key) const {
  return path_.empty() ? key : path_ + "." + key;
}

void YamlSection::read_strings(const std::string& key, std::vector<std::string>& out) {
  YAML::Node value = child(key);
  if (!value || value.IsNull()) return;
  if (!value.IsSequence()) {
    fail("{}: expected a list of names, got {}", yaml_where(origin_, value, child_path(key)),
         yaml_describe(value));
  }
  out.clear();
  for (size_t i = 0; i < value.size(); ++i) {
    out.push_back(
        convert<std::string>(value[i], fmt::format("{}[{}]", child_path(key), i), "a name"));
  }
}

void YamlSection::finish() const {
  if (!node_ || !node_.IsMap()) return;
  for (const auto& kv : node_) {
    const std::string key = kv.first.as<std::string>();
    if (known_.count(key)) continue;
    std::string expected;
    for (const auto& k : known_) expected += (expected.empty() ? "" : ", ") + k;
    fail("{}: unknown key \"{}\" (expected one of: {})",
         yaml_where(origin_, kv.first, path_.empty() ? "<top>" : path_), printable(key), expected);
  }
}

}  // namespace vigil
