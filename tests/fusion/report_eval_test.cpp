// The report fact checker (src/fusion/report_eval) on hand-written good and bad reports, and the
// aggregation behind `vigil eval-reports`.
#include "fusion/report_eval.h"

#include <gtest/gtest.h>

#include <fstream>

#include "base/error.h"

namespace vigil::fusion {
namespace {

ReportVocabulary vocabulary() {
  ReportVocabulary v;
  v.zones = {"Dock", "Dock 3", "Dock 4", "dock_3", "Loading Bay 2", "Main Gate", "Yard", "Lobby"};
  v.classes = {"person", "car", "truck", "dog", "bag", "box", "forklift"};
  return v;
}

nlohmann::json facts(const std::string& type, const std::string& zone, const std::string& cls,
                     int64_t count, const std::string& time, nlohmann::json duration = nullptr,
                     const std::string& rule = "r1") {
  return {{"class", cls}, {"count", count}, {"direction", ""}, {"duration_s", duration},
          {"rule", rule}, {"time", time},   {"type", type},    {"zone", zone}};
}

nlohmann::json request(std::vector<nlohmann::json> events, const std::string& site = "Harbor") {
  return {{"events", events}, {"site", site}};
}

bool all_found(const ReportCheck& c) {
  for (const auto& e : c.events) {
    for (const auto& f : e.facts) {
      if (f.has_value() && !*f) return false;
    }
  }
  return true;
}

TEST(ReportEval, GoodReportsPass) {
  const ReportChecker checker(vocabulary());
  const auto intrusion = request({facts("intrusion", "Dock 3", "person", 1, "14:03:22", 42)});
  for (const char* report : {
           "1 person entered Dock 3 at 14:03:22. It stayed 42 s.",
           "Intrusion in dock 3 at 14:03: 1 person.",  // case and HH:MM are fine
           "At 14:03:22, 1 person entered Dock 3.",
       }) {
    const ReportCheck c = checker.check(report, intrusion);
    EXPECT_TRUE(all_found(c)) << report;
    EXPECT_EQ(c.hallucinations, std::vector<std::string>{}) << report;
    EXPECT_EQ(c.facts_checked(), 5);
    EXPECT_EQ(c.facts_found(), 5);
  }
  // Crowding with the plural, a line crossing, a left object with no zone.
  EXPECT_TRUE(
      all_found(checker.check("12 people gathered in Lobby at 09:00:01.",
                              request({facts("crowding", "Lobby", "person", 12, "09:00:01")}))));
  const auto left = request({facts("object_left", "", "bag", 1, "23:59:59", nullptr, "left")});
  const ReportCheck c =
      checker.check("1 bag left unattended in the camera view at 23:59:59.", left);
  EXPECT_TRUE(all_found(c));
  EXPECT_FALSE(c.events[0][Fact::kZone].has_value());  // no zone: not a fact
  EXPECT_EQ(c.facts_checked(), 4);
}

TEST(ReportEval, MissingFactsAreCounted) {
  const ReportChecker checker(vocabulary());
  const auto req = request({facts("loitering", "Loading Bay 2", "truck", 1, "07:15:00")});
  const ReportCheck c = checker.check("Something happened somewhere.", req);
  for (Fact f : kAllFacts) EXPECT_EQ(c.events[0][f], std::optional<bool>(false)) << fact_name(f);
  EXPECT_EQ(c.facts_found(), 0);
  // The count must not be taken from the zone's digits, nor from the time.
  const auto dock = request({facts("intrusion", "Dock 3", "person", 3, "03:03:03")});
  const ReportCheck d = checker.check("A person entered Dock 3 at 03:03:03.", dock);
  EXPECT_EQ(d.events[0][Fact::kCount], std::optional<bool>(false));
  EXPECT_EQ(d.events[0][Fact::kZone], std::optional<bool>(true));
  // The class must not be taken from the zone ("Car Park") nor the type from the rule name.
  const auto park =
      request({facts("intrusion", "Car Park", "car", 1, "10:00:00", nullptr, "intrusion")});
  const ReportCheck p = checker.check("1 truck in Car Park at 10:00 (rule intrusion).", park);
  EXPECT_EQ(p.events[0][Fact::kClass], std::optional<bool>(false));
  EXPECT_EQ(p.events[0][Fact::kType], std::optional<bool>(true));  // rule masked after type
  // Zone must match whole words: "Dock 33" is not "Dock 3".
  const ReportCheck w = checker.check("1 person entered Dock 33 at 03:03.", dock);
  EXPECT_EQ(w.events[0][Fact::kZone], std::optional<bool>(false));
}

TEST(ReportEval, HallucinationsAreFound) {
  const ReportChecker checker(vocabulary());
  const auto req = request({facts("intrusion", "Dock 3", "person", 1, "14:03:22", 42)});
  const ReportCheck zone = checker.check("1 person entered Dock 4 at 14:03:22.", req);
  EXPECT_EQ(zone.hallucinations,
            (std::vector<std::string>{"zone:Dock", "zone:Dock 4", "number:4"}));
  const ReportCheck cls = checker.check("1 person entered Dock 3 at 14:03:22 with 1 dog.", req);
  EXPECT_EQ(cls.hallucinations, std::vector<std::string>{"class:dog"});
  const ReportCheck plural = checker.check("1 person and trucks entered Dock 3 at 14:03:22.", req);
  EXPECT_EQ(plural.hallucinations, std::vector<std::string>{"class:truck"});
  const ReportCheck number = checker.check("1 person entered Dock 3 at 14:03:22 for 43 s.", req);
  EXPECT_EQ(number.hallucinations, std::vector<std::string>{"number:43"});
  const ReportCheck wrong_time = checker.check("1 person entered Dock 3 at 14:05.", req);
  EXPECT_EQ(wrong_time.hallucinations, (std::vector<std::string>{"number:14", "number:05"}));
  // Names of the input (site, rule, zone digits) are not hallucinations.
  const auto named = request(
      {facts("intrusion", "dock_3", "person", 1, "14:03:22", nullptr, "no_entry_7")}, "Plant 9");
  const ReportCheck ok =
      checker.check("Plant 9: 1 person entered dock_3 at 14:03:22 (no_entry_7).", named);
  EXPECT_EQ(ok.hallucinations, std::vector<std::string>{});
  EXPECT_TRUE(all_found(ok));
}

TEST(ReportEval, BurstsCheckEveryEvent) {
  const ReportChecker checker(vocabulary());
  const auto req = request({facts("intrusion", "Yard", "person", 1, "01:00:00", 5),
                            facts("loitering", "Yard", "person", 1, "01:02:00"),
                            facts("crowding", "Yard", "person", 6, "01:04:30", 120)});
  const ReportCheck good = checker.check(
      "Several events in Yard: 01:00:00 1 person entered (5 s); 1 person loitering since "
      "01:02:00; crowd of 6 people at 01:04:30 for 120 s.",
      req);
  EXPECT_TRUE(all_found(good));
  EXPECT_EQ(good.hallucinations, std::vector<std::string>{});
  EXPECT_EQ(good.facts_checked(), 15);
  const ReportCheck partial =
      checker.check("Several events in Yard: 01:00:00 1 person entered; 1 person loitering.", req);
  EXPECT_EQ(partial.events[2][Fact::kType], std::optional<bool>(false));
  EXPECT_EQ(partial.events[2][Fact::kCount], std::optional<bool>(false));
  EXPECT_EQ(partial.events[1][Fact::kTime], std::optional<bool>(false));
}

TEST(ReportEval, Plurals) {
  EXPECT_EQ(class_plural("person"), "people");
  EXPECT_EQ(class_plural("bus"), "buses");
  EXPECT_EQ(class_plural("box"), "boxes");
  EXPECT_EQ(class_plural("battery"), "batteries");
  EXPECT_EQ(class_plural("trolley"), "trolleys");
  EXPECT_EQ(class_plural("pallet jack"), "pallet jacks");
  EXPECT_EQ(class_plural("delivery person"), "delivery people");
}

TEST(ReportEval, Aggregation) {
  const ReportChecker checker(vocabulary());
  EvalResult result;
  const auto req = request({facts("intrusion", "Dock 3", "person", 1, "14:03:22")});
  add_result(result, {"intrusion", "r", checker.check("1 person entered Dock 3 at 14:03:22.", req),
                      9, "eos"});
  add_result(result, {"intrusion", "r", checker.check("1 dog entered Dock 3.", req), 5, "eos"});
  EXPECT_EQ(result.total.items, 2);
  EXPECT_EQ(result.total.facts_checked, 10);
  EXPECT_EQ(result.total.facts_found, 8);  // the second misses class and time
  EXPECT_EQ(result.total.hallucinated_reports, 1);
  EXPECT_DOUBLE_EQ(result.total.recall(), 0.8);
  EXPECT_DOUBLE_EQ(result.total.hallucination_rate(), 0.5);
  const nlohmann::json j = result.to_json(true);
  EXPECT_EQ(j["groups"]["intrusion"]["by_fact"]["class"]["found"], 1);
  EXPECT_EQ(j["items"], 2);
  EXPECT_EQ(j["reports"][1]["missed"], (nlohmann::json{"0:class", "0:time"}));
  EXPECT_EQ(j["reports"][1]["hallucinations"], (nlohmann::json{"class:dog"}));
  EXPECT_NE(result.to_text().find("fact recall 80.00%"), std::string::npos);
}

TEST(ReportEval, BadRequestsThrow) {
  const ReportChecker checker(vocabulary());
  EXPECT_THROW(checker.check("x", nlohmann::json::object()), Error);
  EXPECT_THROW(checker.check("x", request({{{"type", "intrusion"}}})), Error);
  EXPECT_THROW(ReportVocabulary::load("/nonexistent/vocab.json"), Error);
}

}  // namespace
}  // namespace vigil::fusion

namespace vigil::fusion {
namespace {

// training/testdata/checks.jsonl: reports (references and damaged copies) with the verdict of the
// Python checker (training/factcheck.py). Both checkers must agree on every fact and every
// hallucination, so the metrics of `vigil eval-reports` and of training/eval_quick.py match.
TEST(ReportEval, AgreesWithThePythonChecker) {
  const std::string dir = std::string(VIGIL_SOURCE_DIR) + "/training/testdata/";
  const ReportChecker checker(ReportVocabulary::load(dir + "checks_vocab.json"));
  std::ifstream in(dir + "checks.jsonl");
  ASSERT_TRUE(in) << dir << "checks.jsonl";
  std::string line;
  int n = 0;
  int caught = 0;
  while (std::getline(in, line)) {
    const nlohmann::json j = nlohmann::json::parse(line);
    const ReportCheck c = checker.check(j["report"].get<std::string>(), j["request"]);
    ASSERT_EQ(c.events.size(), j["facts"].size());
    for (size_t e = 0; e < c.events.size(); ++e) {
      for (Fact f : kAllFacts) {
        const nlohmann::json& want = j["facts"][e][std::string(fact_name(f))];
        const std::optional<bool> got = c.events[e][f];
        if (want.is_null()) {
          EXPECT_FALSE(got.has_value()) << line;
        } else {
          EXPECT_EQ(got, std::optional<bool>(want.get<bool>())) << fact_name(f) << ": " << line;
        }
      }
    }
    EXPECT_EQ(c.hallucinations, j["hallucinations"].get<std::vector<std::string>>()) << line;
    if (!c.hallucinations.empty() || c.facts_found() < c.facts_checked()) ++caught;
    ++n;
  }
  EXPECT_GE(n, 100);
  EXPECT_GT(caught, n / 2);
}

}  // namespace
}  // namespace vigil::fusion

#include "llm/engine.h"
#include "report_test_util.h"

namespace vigil::fusion {
namespace {

// The evaluation loop end to end on the shared tiny random-weight model: its reports are noise,
// so this checks the plumbing (prompts rebuilt identically, greedy generation bounded by
// max_tokens, every item checked and counted), not quality.
TEST(ReportEval, EvaluateReportsRunsTheEngine) {
  testing::ScopedTimeZone utc("UTC");
  const std::string model =
      std::string(VIGIL_SHARED_DIR) + "/testdata/models/qwen2/model-q8_0.gguf";
  const auto lines =
      testing::read_jsonl(std::string(VIGIL_SOURCE_DIR) + "/training/testdata/prompts.jsonl");
  std::vector<HeldoutItem> items;
  for (const auto& line : lines) {
    if (!line.contains("events") || items.size() == 3) continue;
    items.push_back({line["events"], line["site"], "UTC", line["prompt"], ""});
  }
  ASSERT_EQ(items.size(), 3u);
  items[2].prompt += "x";  // a stored prompt that differs: counted as contract drift
  EngineOptions options;
  options.model_path = model;
  options.n_threads = 1;
  options.n_ctx = 512;
  Engine engine(options);
  const ReportChecker checker(vocabulary());
  size_t calls = 0;
  const EvalResult r =
      evaluate_reports(engine, items, checker, 6, [&](size_t, const EvalItemResult&) { ++calls; });
  EXPECT_EQ(calls, 3u);
  EXPECT_EQ(r.total.items, 3);
  EXPECT_EQ(r.items.size(), 3u);
  EXPECT_EQ(r.prompt_mismatches, 1);
  EXPECT_GE(r.total.facts_checked, 12);
  for (const auto& item : r.items) {
    EXPECT_LE(item.generated_tokens, 6);
    EXPECT_TRUE(item.stop_reason == "length" || item.stop_reason == "eos" ||
                item.stop_reason == "stop")
        << item.stop_reason;
    EXPECT_FALSE(item.group.empty());
  }
  EXPECT_FALSE(r.to_json(false).contains("reports"));
  EXPECT_EQ(r.to_json(true)["reports"].size(), 3u);
}

}  // namespace
}  // namespace vigil::fusion
