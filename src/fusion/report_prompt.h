// The report contract (docs/REPORT_FORMAT.md): the exact text the event-report model is given.
// training/contract.py is the Python twin; tests/fusion/report_prompt_test.cpp checks that both
// build byte-identical prompts (training/testdata/prompts.jsonl).
//
//   std::string prompt = report_prompt(events, "Harbor Depot");
//   // "<|facts|>{"events":[{"class":"person","count":1,...}],"site":"Harbor Depot"}<|report|>"
//
// JSON is canonical: keys sorted by bytes, no whitespace, UTF-8 as is (invalid bytes become
// U+FFFD), integers only. Times are local (localtime_r, so the TZ environment applies).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "vision/event.h"

namespace vigil::fusion {

// Special tokens (added tokens of the bundled model's tokenizer).
inline constexpr std::string_view kFactsToken = "<|facts|>";    // starts the facts JSON
inline constexpr std::string_view kReportToken = "<|report|>";  // the model writes a report
inline constexpr std::string_view kAnswerToken = "<|answer|>";  // the model phrases an answer
inline constexpr std::string_view kEndToken = "<|end|>";        // end of generation (EOS)
inline constexpr std::string_view kPadToken = "<|pad|>";        // padding (training only)

// Durations are clamped to [0, kMaxDurationS] seconds; start_unix must lie in [0, 2^40).
inline constexpr int64_t kMaxDurationS = 1'000'000'000;

// EVENT_FACTS of one event: type, rule, zone, class ("object" when empty), count (event.count
// when > 0, else the number of tracks, at least 1), time ("HH:MM:SS", local), duration_s
// (rounded half away from zero, null while ongoing), direction (line crossings only).
// Throws vigil::Error when start_unix is out of range or not finite.
nlohmann::json event_facts(const vision::Event& event);

// {"events":[EVENT_FACTS...],"site":...} serialized canonically.
std::string report_request_json(const std::vector<vision::Event>& events, std::string_view site);

// kFactsToken + report_request_json + kReportToken.
std::string report_prompt(const std::vector<vision::Event>& events, std::string_view site);

// kFactsToken + {"intent":...,"question":...,"result":...} + kAnswerToken. `intent` must be
// count, what_happened or last_event; `result` must hold no floating-point numbers (the contract
// allows integers only). Throws vigil::Error otherwise.
std::string answer_prompt(std::string_view question, std::string_view intent,
                          const nlohmann::json& result);

// Canonical serialization used above (sorted keys, compact, UTF-8 kept, invalid UTF-8 replaced).
std::string canonical_json(const nlohmann::json& value);

}  // namespace vigil::fusion
