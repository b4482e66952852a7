#include "report_test_util.h"

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>

namespace vigil::fusion::testing {

std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot open");
  std::vector<nlohmann::json> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) lines.push_back(nlohmann::json::parse(line));
  }
  return lines;
}

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot open");
  std::stringstream text;
  text << in.rdbuf();
  return nlohmann::json::parse(text.str());
}

namespace {

bool type_ok(const nlohmann::json& v, const std::string& type) {
  if (type == "object") return v.is_object();
  if (type == "array") return v.is_array();
  if (type == "string") return v.is_string();
  if (type == "integer") return v.is_number_integer();  // signed or unsigned, not float
  if (type == "number") return v.is_number();
  if (type == "boolean") return v.is_boolean();
  if (type == "null") return v.is_null();
  throw std::runtime_error("schema: unsupported type " + type);
}

const std::set<std::string>& known_keywords() {
  static const std::set<std::string> keywords = {"$schema",
                                                 "$id",
                                                 "title",
                                                 "description",
                                                 "$defs",
                                                 "type",
                                                 "enum",
                                                 "const",
                                                 "properties",
                                                 "required",
                                                 "additionalProperties",
                                                 "items",
                                                 "minItems",
                                                 "maxItems",
                                                 "minimum",
                                                 "maximum",
                                                 "pattern",
                                                 "$ref",
                                                 "oneOf"};
  return keywords;
}

}  // namespace

std::vector<std::string> schema_errors(const nlohmann::json& value, const nlohmann::json& schema,
                                       const nlohmann::json& root, const std::string& path) {
  std::vector<std::string> errors;
  for (const auto& [key, unused] : schema.items()) {
    if (!known_keywords().count(key))
      throw std::runtime_error("schema: unsupported keyword " + key);
  }
  if (schema.contains("$ref")) {
    const std::string ref = schema["$ref"];
    const std::string prefix = "#/$defs/";
    if (ref.rfind(prefix, 0) != 0) throw std::runtime_error("schema: unsupported $ref " + ref);
    return schema_errors(value, root.at("$defs").at(ref.substr(prefix.size())), root, path);
  }
  if (schema.contains("oneOf")) {
    int matches = 0;
    for (const auto& alternative : schema["oneOf"]) {
      if (schema_errors(value, alternative, root, path).empty()) ++matches;
    }
    if (matches != 1) {
      errors.push_back(path + ": matches " + std::to_string(matches) +
                       " of the oneOf alternatives (expected 1)");
    }
    return errors;
  }
  if (schema.contains("type")) {
    std::vector<std::string> types;
    if (schema["type"].is_array()) {
      for (const auto& t : schema["type"]) types.push_back(t);
    } else {
      types.push_back(schema["type"]);
    }
    bool ok = false;
    for (const auto& t : types) ok = ok || type_ok(value, t);
    if (!ok) return {path + ": expected " + schema["type"].dump() + ", got " + value.type_name()};
  }
  if (schema.contains("const") && value != schema["const"]) {
    errors.push_back(path + ": expected " + schema["const"].dump());
  }
  if (schema.contains("enum")) {
    bool found = false;
    for (const auto& option : schema["enum"]) found = found || option == value;
    if (!found) errors.push_back(path + ": " + value.dump() + " is not in the enum");
  }
  if (value.is_number()) {
    if (schema.contains("minimum") && value.get<double>() < schema["minimum"].get<double>()) {
      errors.push_back(path + ": below the minimum");
    }
    if (schema.contains("maximum") && value.get<double>() > schema["maximum"].get<double>()) {
      errors.push_back(path + ": above the maximum");
    }
  }
  if (value.is_string() && schema.contains("pattern")) {
    if (!std::regex_search(value.get<std::string>(),
                           std::regex(schema["pattern"].get<std::string>()))) {
      errors.push_back(path + ": " + value.dump() + " does not match the pattern");
    }
  }
  if (value.is_array()) {
    if (schema.contains("minItems") && value.size() < schema["minItems"].get<size_t>()) {
      errors.push_back(path + ": too few items");
    }
    if (schema.contains("maxItems") && value.size() > schema["maxItems"].get<size_t>()) {
      errors.push_back(path + ": too many items");
    }
    if (schema.contains("items")) {
      for (size_t i = 0; i < value.size(); ++i) {
        auto more =
            schema_errors(value[i], schema["items"], root, path + "[" + std::to_string(i) + "]");
        errors.insert(errors.end(), more.begin(), more.end());
      }
    }
  }
  if (value.is_object()) {
    const nlohmann::json props = schema.value("properties", nlohmann::json::object());
    for (const auto& key : schema.value("required", nlohmann::json::array())) {
      if (!value.contains(key.get<std::string>())) {
        errors.push_back(path + ": missing key " + key.get<std::string>());
      }
    }
    const bool closed =
        schema.contains("additionalProperties") && schema["additionalProperties"] == false;
    for (const auto& [key, item] : value.items()) {
      if (props.contains(key)) {
        auto more = schema_errors(item, props[key], root, path + "." + key);
        errors.insert(errors.end(), more.begin(), more.end());
      } else if (closed) {
        errors.push_back(path + ": unexpected key " + key);
      }
    }
  }
  return errors;
}

}  // namespace vigil::fusion::testing
