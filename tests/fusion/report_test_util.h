// Helpers shared by the report tests (tests/fusion/report_*): TZ pinning, JSONL reading and a
// checker for the JSON Schema subset used by schema/*.schema.json.
#pragma once

#include <cstdlib>
#include <ctime>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace vigil::fusion::testing {

// Sets TZ for the lifetime of the object and restores the previous value after.
class ScopedTimeZone {
 public:
  explicit ScopedTimeZone(const char* tz) {
    if (const char* old = std::getenv("TZ")) old_ = old;
    ::setenv("TZ", tz, 1);
    ::tzset();
  }
  ~ScopedTimeZone() {
    if (old_) {
      ::setenv("TZ", old_->c_str(), 1);
    } else {
      ::unsetenv("TZ");
    }
    ::tzset();
  }
  ScopedTimeZone(const ScopedTimeZone&) = delete;
  ScopedTimeZone& operator=(const ScopedTimeZone&) = delete;

 private:
  std::optional<std::string> old_;
};

// One JSON value per non-empty line.
std::vector<nlohmann::json> read_jsonl(const std::string& path);
nlohmann::json read_json(const std::string& path);

// Validation against the subset of JSON Schema the project uses: type, enum, const, properties,
// required, additionalProperties (false), items, minItems, maxItems, minimum, maximum, pattern,
// $ref (#/$defs/...), oneOf. Any other keyword makes the check throw, so the schema files can't
// silently use something this checker ignores. Returns "path: problem" strings.
std::vector<std::string> schema_errors(const nlohmann::json& value, const nlohmann::json& schema,
                                       const nlohmann::json& root, const std::string& path = "$");

}  // namespace vigil::fusion::testing
