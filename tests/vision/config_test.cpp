// YAML configuration: defaults, the shipped sample config, and one-line errors for bad input.
#include "vision/config.h"

#include <gtest/gtest.h>

#include "base/error.h"

namespace vigil::vision {
namespace {

std::string error_of(const std::string& yaml) {
  try {
    parse_config(yaml, "test.yaml");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Config, EmptyMeansDefaults) {
  const VisionConfig c = parse_config("", "empty.yaml");
  EXPECT_EQ(c.detector.type, "hog");
  EXPECT_EQ(c.detector.hog.model, "daimler");
  EXPECT_TRUE(c.motion.enabled);
  EXPECT_EQ(c.tracker.min_hits, 2);
  EXPECT_TRUE(c.zones.empty());
  EXPECT_EQ(c.pipeline.drop_policy, "auto");
}

TEST(Config, ShippedVtestConfigLoads) {
  const VisionConfig c = load_config(std::string(VIGIL_SOURCE_DIR) + "/configs/vtest.yaml");
  EXPECT_EQ(c.source.name, "vtest");
  ASSERT_EQ(c.zones.size(), 3u);
  EXPECT_TRUE(c.zones[0].normalized);
  EXPECT_TRUE(c.zones[2].is_line);
  ASSERT_EQ(c.rules.size(), 4u);
  EXPECT_EQ(c.rules[3].type, EventType::kLineCrossing);
  EXPECT_EQ(c.rules[0].classes, std::vector<std::string>{"person"});
}

TEST(Config, ParsesZonesAndRules) {
  const VisionConfig c = parse_config(R"(
zones:
  - {name: a, polygon: [[0, 0], [10, 0], [10, 10]]}
  - {name: gate, line: [[0, 5], [10, 5]], units: pixels}
rules:
  - {name: r1, type: crowding, zone: a, min_count: 5, min_duration_s: 1.5}
  - {name: r2, type: line_crossing, zone: gate, direction: right_to_left}
  - {name: r3, type: object_left, stationary_s: 30, classes: [backpack, suitcase]}
detector: {type: onnx, onnx: {model: m.onnx, layout: yolov8, classes: [person, backpack, suitcase]}}
)",
                                      "inline.yaml");
  EXPECT_EQ(c.rules[0].min_count, 5);
  EXPECT_DOUBLE_EQ(c.rules[0].min_duration_s, 1.5);
  EXPECT_EQ(c.rules[1].direction, "right_to_left");
  EXPECT_TRUE(c.rules[2].zone.empty());
  EXPECT_EQ(c.detector.onnx.classes.size(), 3u);
}

TEST(Config, ErrorsNameFileLineKeyAndExpectation) {
  std::string e = error_of("tracker:\n  min_hits: lots\n");
  EXPECT_NE(e.find("test.yaml:2: tracker.min_hits: expected a whole number, got \"lots\""),
            std::string::npos)
      << e;
  e = error_of("tracker:\n  min_hit: 3\n");  // typo
  EXPECT_NE(e.find("unknown key \"min_hit\""), std::string::npos) << e;
  EXPECT_NE(e.find("min_hits"), std::string::npos) << e;  // the list of expected keys
  e = error_of("tracker: {high_threshold: 1.5}");
  EXPECT_NE(e.find("out of range"), std::string::npos) << e;
  e = error_of("detector: {type: sift}");
  EXPECT_NE(e.find("expected hog or onnx"), std::string::npos) << e;
  e = error_of("zones: [{name: z, polygon: [[0, 0], [1, 1]]}]");
  EXPECT_NE(e.find("at least 3 points"), std::string::npos) << e;
  e = error_of("zones: [{name: z, polygon: [[0, 0], [2, 0], [0, 2]], units: normalized}]");
  EXPECT_NE(e.find("outside [0, 1]"), std::string::npos) << e;
  e = error_of("rules: [{name: r, type: intrusion, zone: nowhere}]");
  EXPECT_NE(e.find("not defined"), std::string::npos) << e;
  e = error_of(
      "zones: [{name: z, polygon: [[0,0],[1,0],[1,1]]}]\nrules: [{name: r, type: line_crossing, "
      "zone: z}]");
  EXPECT_NE(e.find("needs a line"), std::string::npos) << e;
  e = error_of("rules: [{name: r, type: teleport, zone: z}]");
  EXPECT_NE(e.find("teleport"), std::string::npos) << e;
  e = error_of("detector: {type: onnx}");
  EXPECT_NE(e.find("needs a model"), std::string::npos) << e;
  e = error_of("zones: {a: 1}");
  EXPECT_NE(e.find("expected a list of zones"), std::string::npos) << e;
  e = error_of("source: [1, 2");
  EXPECT_NE(e.find("not valid YAML"), std::string::npos) << e;
  EXPECT_THROW(load_config("/nonexistent/vision.yaml"), Error);
}

}  // namespace
}  // namespace vigil::vision
