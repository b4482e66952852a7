#include "fusion/report_prompt.h"

#include <cmath>
#include <ctime>

#include "base/error.h"
#include "base/units.h"

namespace vigil::fusion {
namespace {

constexpr double kMaxUnix = 1099511627776.0;  // 2^40 s: far beyond any real clock

std::string local_hms(double start_unix) {
  if (!std::isfinite(start_unix) || start_unix < 0 || start_unix >= kMaxUnix) {
    fail("event start_unix {}: expected 0 <= start_unix < 2^40", start_unix);
  }
  return format_local_time(std::floor(start_unix), "%H:%M:%S");
}

// C's llround on a clamped value: halves go away from zero.
int64_t duration_seconds(double seconds) {
  if (std::isnan(seconds)) return 0;
  const double clamped = std::fmin(std::fmax(seconds, 0.0), static_cast<double>(kMaxDurationS));
  return static_cast<int64_t>(std::llround(clamped));
}

void require_integers(const nlohmann::json& value, const std::string& path) {
  if (value.is_number_float()) {
    fail("answer result: {} is a floating-point number; the report contract allows integers only",
         path);
  }
  if (value.is_object()) {
    for (const auto& [key, item] : value.items()) require_integers(item, path + "." + key);
  } else if (value.is_array()) {
    for (size_t i = 0; i < value.size(); ++i) {
      require_integers(value[i], path + "[" + std::to_string(i) + "]");
    }
  }
}

}  // namespace

std::string canonical_json(const nlohmann::json& value) {
  return value.dump(-1, ' ', /*ensure_ascii=*/false, nlohmann::json::error_handler_t::replace);
}

nlohmann::json event_facts(const vision::Event& e) {
  int64_t count = e.count;
  if (count <= 0) count = std::max<int64_t>(1, static_cast<int64_t>(e.track_ids.size()));
  nlohmann::json facts = nlohmann::json::object();
  facts["type"] = std::string(vision::event_type_name(e.type));
  facts["rule"] = e.rule;
  facts["zone"] = e.zone;
  facts["class"] = e.object_class.empty() ? std::string("object") : e.object_class;
  facts["count"] = count;
  facts["time"] = local_hms(e.start_unix);
  facts["duration_s"] =
      e.end_s ? nlohmann::json(duration_seconds(*e.end_s - e.start_s)) : nlohmann::json(nullptr);
  facts["direction"] = e.type == vision::EventType::kLineCrossing ? e.direction : std::string();
  return facts;
}

std::string report_request_json(const std::vector<vision::Event>& events, std::string_view site) {
  nlohmann::json list = nlohmann::json::array();
  for (const vision::Event& e : events) list.push_back(event_facts(e));
  nlohmann::json request = nlohmann::json::object();
  request["events"] = std::move(list);
  request["site"] = std::string(site);
  return canonical_json(request);
}

std::string report_prompt(const std::vector<vision::Event>& events, std::string_view site) {
  std::string prompt(kFactsToken);
  prompt += report_request_json(events, site);
  prompt += kReportToken;
  return prompt;
}

std::string answer_prompt(std::string_view question, std::string_view intent,
                          const nlohmann::json& result) {
  if (intent != "count" && intent != "what_happened" && intent != "last_event") {
    fail("answer intent \"{}\": expected count, what_happened or last_event", printable(intent));
  }
  require_integers(result, "result");
  nlohmann::json request = nlohmann::json::object();
  request["intent"] = std::string(intent);
  request["question"] = std::string(question);
  request["result"] = result;
  std::string prompt(kFactsToken);
  prompt += canonical_json(request);
  prompt += kAnswerToken;
  return prompt;
}

}  // namespace vigil::fusion
