// Latency figures over the per-event stamps of the store (store.h LatencyRecord): for each
// stage (event -> report first token, -> report done, -> first audio sample) the count and the
// 50th / 95th percentile and maximum in milliseconds. Events that never reached a stage (a
// dropped report, a rule not routed to speech) are left out of that stage.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fusion/store.h"

namespace vigil::fusion {

struct StageLatency {
  std::string stage;  // first_token, report_done, first_audio
  size_t count = 0;
  double p50_ms = 0, p95_ms = 0, max_ms = 0;
};

// Nearest-rank percentile (p in 0..100) of unsorted values; 0 when empty.
double percentile(std::vector<double> values, double p);

std::vector<StageLatency> summarize_latency(const std::vector<LatencyRecord>& records);
nlohmann::json latency_json(const std::vector<StageLatency>& stages);
// A small table, one line per stage.
std::string latency_table(const std::vector<StageLatency>& stages);

}  // namespace vigil::fusion
