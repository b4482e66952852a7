#include "fusion/latency.h"

#include <algorithm>
#include <cmath>

#include "base/error.h"

namespace vigil::fusion {

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const double rank = std::ceil(p / 100.0 * static_cast<double>(values.size()));
  const size_t index =
      static_cast<size_t>(std::clamp(rank, 1.0, static_cast<double>(values.size()))) - 1;
  return values[index];
}

std::vector<StageLatency> summarize_latency(const std::vector<LatencyRecord>& records) {
  std::vector<StageLatency> out;
  const std::pair<const char*, double LatencyRecord::*> stages[] = {
      {"first_token", &LatencyRecord::first_token_unix},
      {"report_done", &LatencyRecord::report_done_unix},
      {"first_audio", &LatencyRecord::first_audio_unix}};
  for (const auto& [name, field] : stages) {
    std::vector<double> ms;
    for (const auto& r : records) {
      if (r.*field > 0 && r.detected_unix > 0) ms.push_back((r.*field - r.detected_unix) * 1000.0);
    }
    StageLatency s;
    s.stage = name;
    s.count = ms.size();
    s.p50_ms = percentile(ms, 50);
    s.p95_ms = percentile(ms, 95);
    s.max_ms = ms.empty() ? 0 : *std::max_element(ms.begin(), ms.end());
    out.push_back(s);
  }
  return out;
}

nlohmann::json latency_json(const std::vector<StageLatency>& stages) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& s : stages) {
    j["event_to_" + s.stage] = {
        {"count", s.count}, {"p50_ms", s.p50_ms}, {"p95_ms", s.p95_ms}, {"max_ms", s.max_ms}};
  }
  return j;
}

std::string latency_table(const std::vector<StageLatency>& stages) {
  std::string out = fmt::format("{:<28} {:>6} {:>9} {:>9} {:>9}\n", "latency", "events", "p50 ms",
                                "p95 ms", "max ms");
  for (const auto& s : stages) {
    out += fmt::format("{:<28} {:>6} {:>9.1f} {:>9.1f} {:>9.1f}\n",
                       "event -> " + std::string(s.stage == "first_token"   ? "report first token"
                                                 : s.stage == "report_done" ? "report done"
                                                                            : "first audio sample"),
                       s.count, s.p50_ms, s.p95_ms, s.max_ms);
  }
  return out;
}

}  // namespace vigil::fusion
