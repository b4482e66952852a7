// The C++ prompt builder against the Python corpus generator: training/testdata/prompts.jsonl
// holds events (or answer results) and the prompt training/contract.py built from them; the C++
// side must produce the same bytes. Both sides render times in UTC here.
#include "fusion/report_prompt.h"

#include <gtest/gtest.h>

#include "base/error.h"
#include "report_test_util.h"

namespace vigil::fusion {
namespace {

using testing::ScopedTimeZone;

const std::string kPromptsFile = std::string(VIGIL_SOURCE_DIR) + "/training/testdata/prompts.jsonl";

TEST(ReportPrompt, ByteIdenticalToThePythonCorpus) {
  ScopedTimeZone utc("UTC");
  const auto lines = testing::read_jsonl(kPromptsFile);
  ASSERT_GE(lines.size(), 40u);
  size_t reports = 0;
  size_t answers = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    const nlohmann::json& line = lines[i];
    std::string built;
    if (line.contains("events")) {
      std::vector<vision::Event> events;
      for (const auto& e : line["events"]) events.push_back(e.get<vision::Event>());
      built = report_prompt(events, line["site"].get<std::string>());
      ++reports;
    } else {
      built = answer_prompt(line["question"].get<std::string>(), line["intent"].get<std::string>(),
                            line["result"]);
      ++answers;
    }
    EXPECT_EQ(built, line["prompt"].get<std::string>())
        << "line " << i + 1 << " of " << kPromptsFile;
  }
  EXPECT_GE(reports, 30u);
  EXPECT_GE(answers, 5u);
}

vision::Event base_event() {
  vision::Event e;
  e.rule = "door";
  e.zone = "Dock 3";
  e.object_class = "person";
  e.track_ids = {7};
  e.start_s = 10;
  e.start_unix = 1700000000.75;  // 2023-11-14 22:13:20 UTC
  return e;
}

TEST(ReportPrompt, FactsRules) {
  ScopedTimeZone utc("UTC");
  vision::Event e = base_event();
  EXPECT_EQ(report_prompt({e}, "Harbor"),
            "<|facts|>{\"events\":[{\"class\":\"person\",\"count\":1,\"direction\":\"\","
            "\"duration_s\":null,\"rule\":\"door\",\"time\":\"22:13:20\",\"type\":\"intrusion\","
            "\"zone\":\"Dock 3\"}],\"site\":\"Harbor\"}<|report|>");
  e.end_s = 12.5;  // 2.5 s: halves round away from zero
  EXPECT_EQ(event_facts(e)["duration_s"], 3);
  e.end_s = 14.5;
  EXPECT_EQ(event_facts(e)["duration_s"], 5);
  e.end_s = 5;  // ended before it started: clamped
  EXPECT_EQ(event_facts(e)["duration_s"], 0);
  e.object_class.clear();
  e.track_ids.clear();
  EXPECT_EQ(event_facts(e)["class"], "object");
  EXPECT_EQ(event_facts(e)["count"], 1);
  e.track_ids = {1, 2, 3};
  EXPECT_EQ(event_facts(e)["count"], 3);
  e.count = 9;
  EXPECT_EQ(event_facts(e)["count"], 9);
  e.direction = "left_to_right";
  EXPECT_EQ(event_facts(e)["direction"], "");
  e.type = vision::EventType::kLineCrossing;
  EXPECT_EQ(event_facts(e)["direction"], "left_to_right");
  EXPECT_EQ(event_facts(e)["type"], "line_crossing");
}

TEST(ReportPrompt, LocalTimeFollowsTz) {
  vision::Event e = base_event();
  {
    ScopedTimeZone tz("UTC");
    EXPECT_EQ(event_facts(e)["time"], "22:13:20");
  }
  {
    ScopedTimeZone tz("EST5");  // POSIX TZ rule: UTC-5 without a tz database
    EXPECT_EQ(event_facts(e)["time"], "17:13:20");
  }
}

TEST(ReportPrompt, RejectsBadInput) {
  ScopedTimeZone utc("UTC");
  vision::Event e = base_event();
  e.start_unix = -1;
  EXPECT_THROW(event_facts(e), Error);
  e.start_unix = 1e300;
  EXPECT_THROW(event_facts(e), Error);
  EXPECT_THROW(answer_prompt("q", "weather", nlohmann::json::object()), Error);
  EXPECT_THROW(answer_prompt("q", "count", nlohmann::json{{"count", 1.5}}), Error);
  EXPECT_THROW(answer_prompt("q", "what_happened", nlohmann::json{{"events", {{{"x", 0.1}}}}}),
               Error);
}

TEST(ReportPrompt, CanonicalJson) {
  // Sorted by bytes, compact, UTF-8 as is, invalid UTF-8 replaced instead of throwing.
  nlohmann::json j = {{"b", 1}, {"a", "Café"}, {"Z", {1, 2}}, {"é", nullptr}};
  EXPECT_EQ(canonical_json(j), "{\"Z\":[1,2],\"a\":\"Café\",\"b\":1,\"é\":null}");
  EXPECT_EQ(canonical_json(nlohmann::json("bad\xff")), "\"bad\xEF\xBF\xBD\"");
  EXPECT_EQ(canonical_json(nlohmann::json("tab\t\x01")), "\"tab\\t\\u0001\"");
}

}  // namespace
}  // namespace vigil::fusion
