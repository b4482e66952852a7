// schema/*.schema.json against the C++ side: vision::event_to_json_line output has exactly the
// event schema's keys and types, and the report/answer requests validate against
// report-request.schema.json. The checker itself is tested on bad input, so the tests can fail.
#include <gtest/gtest.h>

#include "fusion/report_prompt.h"
#include "report_test_util.h"

namespace vigil::fusion {
namespace {

using testing::schema_errors;
using testing::ScopedTimeZone;

const std::string kSchemaDir = std::string(VIGIL_SOURCE_DIR) + "/schema/";

nlohmann::json event_schema() {
  return testing::read_json(kSchemaDir + "event.schema.json");
}
nlohmann::json request_schema() {
  return testing::read_json(kSchemaDir + "report-request.schema.json");
}

std::vector<vision::Event> sample_events() {
  vision::Event a;
  a.id = "cam0-000003";
  a.rule = "door";
  a.type = vision::EventType::kIntrusion;
  a.zone = "entrance";
  a.camera = "cam0";
  a.track_ids = {7};
  a.object_class = "person";
  a.start_s = 12.4;
  a.start_unix = 1.7e9;
  a.frame_index = 124;
  a.confidence = 0.81f;
  a.bbox = {1, 2, 30, 40};
  a.snapshot_path = "snaps/cam0-000003.jpg";
  vision::Event b = a;  // an ended crowding event of mixed classes
  b.type = vision::EventType::kCrowding;
  b.object_class.clear();
  b.track_ids = {1, 2, 3, 4};
  b.count = 4;
  b.end_s = 99.5;
  vision::Event c = a;  // a line crossing with integral floats (dumped as 12.0)
  c.type = vision::EventType::kLineCrossing;
  c.start_s = 12.0;
  c.end_s = 12.0;
  c.direction = "right_to_left";
  c.count = 17;
  c.track_ids = {};
  c.confidence = 1.0f;
  return {a, b, c};
}

TEST(ReportSchema, EventLinesMatchTheSchemaExactly) {
  const nlohmann::json schema = event_schema();
  for (const vision::Event& e : sample_events()) {
    const nlohmann::json line = nlohmann::json::parse(vision::event_to_json_line(e));
    EXPECT_EQ(schema_errors(line, schema, schema), std::vector<std::string>{}) << line.dump();
    // Exactly the schema's keys: nothing missing, nothing extra.
    std::vector<std::string> keys;
    for (const auto& [key, unused] : line.items()) keys.push_back(key);
    std::vector<std::string> schema_keys;
    for (const auto& [key, unused] : schema["properties"].items()) schema_keys.push_back(key);
    EXPECT_EQ(keys, schema_keys);
    std::vector<std::string> required = schema["required"];
    std::sort(required.begin(), required.end());
    EXPECT_EQ(required, schema_keys);
    // And the line parses back.
    EXPECT_EQ(vision::event_to_json_line(vision::event_from_json_line(line.dump())), line.dump());
  }
}

TEST(ReportSchema, EventTypesAndDirectionsAgreeWithTheEnums) {
  const nlohmann::json schema = event_schema();
  for (const auto& name : schema["properties"]["type"]["enum"]) {
    EXPECT_EQ(vision::event_type_name(vision::parse_event_type(name.get<std::string>())),
              name.get<std::string>());
  }
  EXPECT_EQ(schema["properties"]["type"]["enum"].size(), 5u);
  const nlohmann::json directions = schema["properties"]["direction"]["enum"];
  EXPECT_EQ(directions, (nlohmann::json{"", "left_to_right", "right_to_left"}));
}

TEST(ReportSchema, CheckerRejectsBadEvents) {
  const nlohmann::json schema = event_schema();
  const nlohmann::json good = nlohmann::json::parse(vision::event_to_json_line(sample_events()[0]));
  ASSERT_TRUE(schema_errors(good, schema, schema).empty());
  nlohmann::json bad = good;
  bad.erase("zone");
  EXPECT_FALSE(schema_errors(bad, schema, schema).empty());
  bad = good;
  bad["extra"] = 1;
  EXPECT_FALSE(schema_errors(bad, schema, schema).empty());
  bad = good;
  bad["count"] = 1.5;
  EXPECT_FALSE(schema_errors(bad, schema, schema).empty());
  bad = good;
  bad["type"] = "fire";
  EXPECT_FALSE(schema_errors(bad, schema, schema).empty());
  bad = good;
  bad["bbox"] = {1, 2, 3};
  EXPECT_FALSE(schema_errors(bad, schema, schema).empty());
  bad = good;
  bad["end_s"] = "soon";
  EXPECT_FALSE(schema_errors(bad, schema, schema).empty());
  bad = good;
  bad["confidence"] = 1.5;
  EXPECT_FALSE(schema_errors(bad, schema, schema).empty());
}

TEST(ReportSchema, RequestsValidate) {
  ScopedTimeZone utc("UTC");
  const nlohmann::json schema = request_schema();
  const auto events = sample_events();
  const nlohmann::json report = nlohmann::json::parse(report_request_json(events, "Harbor Depot"));
  EXPECT_EQ(schema_errors(report, schema, schema), std::vector<std::string>{});

  auto answer_request = [](const std::string& prompt) {
    const std::string body =
        prompt.substr(kFactsToken.size(), prompt.size() - kFactsToken.size() - kAnswerToken.size());
    return nlohmann::json::parse(body);
  };
  const nlohmann::json count = {{"class", "person"},
                                {"count", 3},
                                {"type", "intrusion"},
                                {"window_min", 60},
                                {"zone", "Dock 3"}};
  EXPECT_TRUE(
      schema_errors(answer_request(answer_prompt("how many?", "count", count)), schema, schema)
          .empty());
  nlohmann::json facts = nlohmann::json::array();
  for (const auto& e : events) facts.push_back(event_facts(e));
  const nlohmann::json what = {{"events", facts}, {"total", 9}, {"window_min", 30}, {"zone", ""}};
  EXPECT_TRUE(schema_errors(answer_request(answer_prompt("what happened?", "what_happened", what)),
                            schema, schema)
                  .empty());
  const nlohmann::json last = {{"event", event_facts(events[1])}, {"zone", "entrance"}};
  EXPECT_TRUE(
      schema_errors(answer_request(answer_prompt("last?", "last_event", last)), schema, schema)
          .empty());
  const nlohmann::json none = {{"event", nullptr}, {"zone", ""}};
  EXPECT_TRUE(
      schema_errors(answer_request(answer_prompt("last?", "last_event", none)), schema, schema)
          .empty());

  // A count result missing its window matches no alternative.
  nlohmann::json broken = count;
  broken.erase("window_min");
  EXPECT_FALSE(
      schema_errors(answer_request(answer_prompt("how many?", "count", broken)), schema, schema)
          .empty());
  nlohmann::json bad_time = report;
  bad_time["events"][0]["time"] = "24:00:00";
  EXPECT_FALSE(schema_errors(bad_time, schema, schema).empty());
}

}  // namespace
}  // namespace vigil::fusion
