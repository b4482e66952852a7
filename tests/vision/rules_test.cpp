// Zone rules on scripted tracks: entry/exit timing, inertia against flicker at borders, class
// filters, normalized zones, dwell, crowding, line-crossing direction and left-behind objects.
#include "vision/rules.h"

#include <gtest/gtest.h>

#include "base/error.h"

namespace vigil::vision {
namespace {

constexpr double kDt = 0.1;  // 10 fps

// A 20x50 box standing with its feet (bottom-centre) at (x, y).
Track at(int64_t id, float x, float y, int class_id = 0) {
  Track t;
  t.id = id;
  t.box = {x - 10, y - 50, 20, 50};
  t.score = 0.8f;
  t.class_id = class_id;
  return t;
}

ZoneSpec square(const std::string& name, float x0, float y0, float x1, float y1) {
  return {name, {{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}}, false, false};
}

RuleSpec rule(const std::string& name, EventType type, const std::string& zone) {
  RuleSpec r;
  r.name = name;
  r.type = type;
  r.zone = zone;
  return r;
}

// Drives a RuleEngine frame by frame and collects what it emits.
class Script {
 public:
  Script(std::vector<RuleSpec> rules, std::vector<ZoneSpec> zones)
      : engine_(std::move(rules), std::move(zones), {"person", "bag"}, "cam") {}

  std::vector<Event> step(std::vector<Track> tracks, std::vector<int64_t> removed = {}) {
    RuleFrame f;
    f.frame_index = frame_;
    f.timestamp_s = frame_ * kDt;
    f.wall_unix = 1000 + f.timestamp_s;
    f.width = 400;
    f.height = 400;
    f.tracks = std::move(tracks);
    f.removed = std::move(removed);
    ++frame_;
    std::vector<Event> out = engine_.update(f);
    all_.insert(all_.end(), out.begin(), out.end());
    return out;
  }
  std::vector<Event> finish() {
    std::vector<Event> out = engine_.finish();
    all_.insert(all_.end(), out.begin(), out.end());
    return out;
  }
  const std::vector<Event>& all() const { return all_; }
  RuleEngine& engine() { return engine_; }
  int frame() const { return frame_; }

 private:
  RuleEngine engine_;
  int frame_ = 0;
  std::vector<Event> all_;
};

TEST(Intrusion, StartsAfterInertiaAndEndsWhenTheTrackLeaves) {
  RuleSpec r = rule("door", EventType::kIntrusion, "yard");
  r.inertia_frames = 3;
  Script s({r}, {square("yard", 100, 100, 200, 200)});
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(s.step({at(1, 50, 150)}).empty());  // outside
  // Inside from frame 5; confirmed on the third inside frame (7).
  EXPECT_TRUE(s.step({at(1, 150, 150)}).empty());
  EXPECT_TRUE(s.step({at(1, 150, 150)}).empty());
  std::vector<Event> started = s.step({at(1, 150, 150)});
  ASSERT_EQ(started.size(), 1u);
  const Event& e = started[0];
  EXPECT_TRUE(e.ongoing());
  EXPECT_EQ(e.type, EventType::kIntrusion);
  EXPECT_EQ(e.rule, "door");
  EXPECT_EQ(e.zone, "yard");
  EXPECT_EQ(e.camera, "cam");
  EXPECT_EQ(e.track_ids, std::vector<int64_t>{1});
  EXPECT_EQ(e.object_class, "person");
  EXPECT_NEAR(e.start_s, 0.5, 1e-9);  // the first inside frame, not the confirming one
  EXPECT_EQ(e.frame_index, 7);
  EXPECT_NEAR(e.start_unix, 1000.5, 1e-9);
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(s.step({at(1, 150, 150)}).empty());
  // Leaves at frame 18; confirmed outside on frame 20.
  EXPECT_TRUE(s.step({at(1, 250, 150)}).empty());
  EXPECT_TRUE(s.step({at(1, 250, 150)}).empty());
  std::vector<Event> ended = s.step({at(1, 250, 150)});
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_EQ(ended[0].id, e.id);
  ASSERT_TRUE(ended[0].end_s.has_value());
  EXPECT_NEAR(*ended[0].end_s, 1.7, 1e-9);  // last inside frame (17)
  EXPECT_EQ(ended[0].frame_index, 20);
}

TEST(Intrusion, FlickerAtTheBorderMakesNoEvents) {
  RuleSpec r = rule("door", EventType::kIntrusion, "yard");
  r.inertia_frames = 3;
  Script s({r}, {square("yard", 100, 100, 200, 200)});
  // A box jittering on the border: its feet alternate in/out, or in,in,out.
  for (int i = 0; i < 40; ++i) s.step({at(1, i % 2 ? 98.0f : 102.0f, 150)});
  for (int i = 0; i < 40; ++i) s.step({at(1, i % 3 == 2 ? 98.0f : 102.0f, 150)});
  EXPECT_TRUE(s.all().empty());
  // A real entry with a flicker in it still makes exactly one event.
  for (float x : {102.0f, 98.0f, 110.0f, 120.0f, 130.0f, 140.0f}) s.step({at(1, x, 150)});
  ASSERT_EQ(s.all().size(), 1u);
  // ...and the same flicker while inside does not end it.
  for (int i = 0; i < 40; ++i) s.step({at(1, i % 3 == 2 ? 98.0f : 102.0f, 150)});
  EXPECT_EQ(s.all().size(), 1u);
}

TEST(Intrusion, UsesTheBottomCentreAndTheClassFilter) {
  RuleSpec r = rule("people", EventType::kIntrusion, "yard");
  r.inertia_frames = 1;
  r.classes = {"person"};
  Script s({r}, {square("yard", 100, 100, 200, 200)});
  // Head inside, feet below the zone: not inside.
  s.step({at(1, 150, 230)});
  EXPECT_TRUE(s.all().empty());
  // A bag inside: filtered out. A person inside: event.
  s.step({at(2, 150, 150, /*class_id=*/1)});
  EXPECT_TRUE(s.all().empty());
  s.step({at(3, 150, 150, 0)});
  ASSERT_EQ(s.all().size(), 1u);
  EXPECT_EQ(s.all()[0].track_ids, std::vector<int64_t>{3});
}

TEST(Intrusion, NormalizedZonesScaleToTheFrame) {
  RuleSpec r = rule("n", EventType::kIntrusion, "z");
  r.inertia_frames = 1;
  ZoneSpec z = square("z", 0.25f, 0.25f, 0.5f, 0.5f);
  z.normalized = true;
  Script s({r}, {z});
  s.step({at(1, 90, 150)});  // x 90 < 0.25 * 400
  EXPECT_TRUE(s.all().empty());
  s.step({at(1, 150, 150)});
  EXPECT_EQ(s.all().size(), 1u);
  ASSERT_EQ(s.engine().zones().size(), 1u);
  EXPECT_FLOAT_EQ(s.engine().zones()[0].points[2].x, 200);
  EXPECT_EQ(s.engine().zone_occupancy().at("z"), 1);
}

TEST(Intrusion, RemovedTracksEndTheirEventsAndLostOnesKeepThem) {
  RuleSpec r = rule("door", EventType::kIntrusion, "yard");
  r.inertia_frames = 2;
  Script s({r}, {square("yard", 100, 100, 200, 200)});
  for (int i = 0; i < 5; ++i) s.step({at(1, 150, 150)});
  ASSERT_EQ(s.all().size(), 1u);
  Track lost = at(1, 300, 300);  // a lost track's predicted box wandering off is ignored
  lost.lost = true;
  for (int i = 0; i < 5; ++i) s.step({lost});
  EXPECT_EQ(s.all().size(), 1u);
  s.step({}, {1});
  ASSERT_EQ(s.all().size(), 2u);
  EXPECT_NEAR(*s.all()[1].end_s, 0.4, 1e-9);
}

TEST(Loitering, FiresAfterDwellTimeWithTheEntryAsStart) {
  RuleSpec r = rule("loiter", EventType::kLoitering, "yard");
  r.inertia_frames = 2;
  r.dwell_s = 2.0;
  Script s({r}, {square("yard", 100, 100, 200, 200)});
  // Track 1 passes through in 1.5 s: no event. Track 2 stays.
  for (int i = 0; i < 15; ++i) s.step({at(1, 150, 150), at(2, 160, 160)});
  s.step({at(1, 300, 150), at(2, 160, 160)});
  s.step({at(1, 300, 150), at(2, 160, 160)});
  EXPECT_TRUE(s.all().empty());
  int fired_at = -1;
  for (int i = 0; i < 20 && fired_at < 0; ++i) {
    if (!s.step({at(2, 160, 160)}).empty()) fired_at = s.frame() - 1;
  }
  ASSERT_EQ(s.all().size(), 1u);
  EXPECT_EQ(fired_at, 20);  // entered at frame 0, 2.0 s later
  EXPECT_NEAR(s.all()[0].start_s, 0.0, 1e-9);
  EXPECT_EQ(s.all()[0].type, EventType::kLoitering);
  s.finish();
  ASSERT_EQ(s.all().size(), 2u);
  EXPECT_NEAR(*s.all()[1].end_s, 2.0, 1e-9);
}

TEST(Crowding, NeedsCountForDurationAndReportsMembers) {
  RuleSpec r = rule("crowd", EventType::kCrowding, "yard");
  r.inertia_frames = 2;
  r.min_count = 3;
  r.min_duration_s = 1.0;
  Script s({r}, {square("yard", 100, 100, 200, 200)});
  const std::vector<Track> two{at(1, 120, 150), at(2, 140, 150)};
  for (int i = 0; i < 20; ++i) s.step(two);
  EXPECT_TRUE(s.all().empty());
  // A third person arrives; a fourth flickers on the border and never counts.
  int started = -1;
  for (int i = 0; i < 20; ++i) {
    auto out = s.step(
        {at(1, 120, 150), at(2, 140, 150), at(3, 160, 150), at(4, i % 2 ? 98.0f : 102.0f, 150)});
    if (!out.empty() && started < 0) started = i;
  }
  ASSERT_EQ(s.all().size(), 1u);
  EXPECT_EQ(started, 11);  // presence after 2 frames, then 1.0 s
  const Event e = s.all()[0];
  EXPECT_EQ(e.count, 3);
  EXPECT_EQ(e.track_ids, (std::vector<int64_t>{1, 2, 3}));
  EXPECT_NEAR(e.start_s, 2.1, 1e-9);
  // One leaves: the crowd ends.
  for (int i = 0; i < 5; ++i) s.step({at(1, 120, 150), at(2, 140, 150), at(3, 300, 150)});
  ASSERT_EQ(s.all().size(), 2u);
  EXPECT_FALSE(s.all()[1].ongoing());
  EXPECT_EQ(s.all()[1].id, e.id);
}

class LineCrossing : public ::testing::Test {
 protected:
  // A horizontal line from (0, 100) to (200, 100), pointing right: its left is up the screen.
  static ZoneSpec gate() { return {"gate", {{0, 100}, {200, 100}}, true, false}; }
  static RuleSpec crossing(const std::string& direction) {
    RuleSpec r = rule("count", EventType::kLineCrossing, "gate");
    r.direction = direction;
    r.inertia_frames = 2;
    r.hysteresis_px = 6;
    return r;
  }
};

TEST_F(LineCrossing, DirectionAndCounts) {
  Script s({crossing("left_to_right")}, {gate()});
  for (float y = 50; y <= 150; y += 10) s.step({at(1, 100, y)});  // down: left -> right
  ASSERT_EQ(s.all().size(), 1u);
  const Event e = s.all()[0];
  EXPECT_EQ(e.direction, "left_to_right");
  EXPECT_EQ(e.count, 1);
  ASSERT_TRUE(e.end_s.has_value());
  EXPECT_EQ(*e.end_s, e.start_s);
  EXPECT_NEAR(e.start_s, 0.6, 1e-9);  // first frame beyond the dead band (y = 110)
  for (float y = 150; y >= 50; y -= 10) s.step({at(1, 100, y)});  // back up: counted, filtered
  EXPECT_EQ(s.all().size(), 1u);
  const auto counts = s.engine().line_counts();
  ASSERT_EQ(counts.size(), 1u);
  EXPECT_EQ(counts[0].left_to_right, 1);
  EXPECT_EQ(counts[0].right_to_left, 1);
}

TEST_F(LineCrossing, AnyDirectionReportsBoth) {
  Script s({crossing("any")}, {gate()});
  for (float y = 150; y >= 50; y -= 10) s.step({at(1, 100, y)});
  for (float y = 50; y <= 150; y += 10) s.step({at(2, 50, y)});
  ASSERT_EQ(s.all().size(), 2u);
  EXPECT_EQ(s.all()[0].direction, "right_to_left");
  EXPECT_EQ(s.all()[0].track_ids, std::vector<int64_t>{1});
  EXPECT_EQ(s.all()[1].direction, "left_to_right");
}

TEST_F(LineCrossing, JitterOnTheLineIsNotACrossing) {
  Script s({crossing("any")}, {gate()});
  // Within the dead band: never counted.
  for (int i = 0; i < 40; ++i) s.step({at(1, 100, i % 2 ? 96.0f : 104.0f)});
  // Beyond the dead band but never two frames in a row on the new side.
  s.step({at(2, 100, 80)});
  for (int i = 0; i < 40; ++i) s.step({at(2, 100, i % 2 ? 92.0f : 108.0f)});
  EXPECT_TRUE(s.all().empty());
}

TEST_F(LineCrossing, PassingAroundTheEndIsNotACrossing) {
  Script s({crossing("any")}, {gate()});
  for (float y = 50; y <= 150; y += 10) s.step({at(1, 260, y)});  // x beyond the segment
  EXPECT_TRUE(s.all().empty());
}

TEST(ObjectLeft, NewStationaryObjectsOnly) {
  RuleSpec r = rule("left", EventType::kObjectLeft, "");
  r.classes = {"bag"};
  r.stationary_s = 2.0;
  r.background_s = 1.0;
  r.max_motion_px = 5;
  Script s({r}, {});
  // Bag 1 is there from the start (scene furniture); bag 2 is put down at 1.5 s and jitters.
  for (int i = 0; i < 15; ++i) s.step({at(1, 50, 50, 1)});
  int fired = -1;
  for (int i = 0; i < 30; ++i) {
    const float wobble = i % 2 ? 2.0f : -2.0f;
    auto out = s.step({at(1, 50, 50, 1), at(2, 200 + wobble, 200, 1)});
    if (!out.empty() && fired < 0) fired = s.frame() - 1;
  }
  ASSERT_EQ(s.all().size(), 1u);
  EXPECT_EQ(fired, 35);  // still since frame 15, +2.0 s
  EXPECT_EQ(s.all()[0].track_ids, std::vector<int64_t>{2});
  EXPECT_NEAR(s.all()[0].start_s, 1.5, 1e-9);
  // Picked up and carried off: the event ends.
  s.step({at(1, 50, 50, 1), at(2, 240, 200, 1)});
  ASSERT_EQ(s.all().size(), 2u);
  EXPECT_FALSE(s.all()[1].ongoing());
}

TEST(ObjectLeft, PeopleStandingStillAreFilteredByClass) {
  RuleSpec r = rule("left", EventType::kObjectLeft, "");
  r.classes = {"bag"};
  r.stationary_s = 1.0;
  r.background_s = 0;
  Script s({r}, {});
  for (int i = 0; i < 40; ++i) s.step({at(1, 100, 100, 0)});
  EXPECT_TRUE(s.all().empty());
}

TEST(RuleEngine, RejectsUnknownClassesAndZones) {
  RuleSpec r = rule("x", EventType::kIntrusion, "yard");
  r.classes = {"persn"};
  try {
    RuleEngine engine({r}, {square("yard", 0, 0, 1, 1)}, {"person"}, "cam");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("persn"), std::string::npos);
  }
  EXPECT_THROW(RuleEngine({rule("x", EventType::kIntrusion, "nowhere")}, {}, {"person"}, "c"),
               Error);
  ZoneSpec line{"gate", {{0, 0}, {1, 1}}, true, false};
  EXPECT_THROW(RuleEngine({rule("x", EventType::kLoitering, "gate")}, {line}, {"person"}, "c"),
               Error);
}

}  // namespace
}  // namespace vigil::vision
