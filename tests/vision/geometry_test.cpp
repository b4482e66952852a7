// Geometry, linear assignment, the bounded queue and the event JSON form.
#include "vision/geometry.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>
#include <thread>

#include "base/error.h"
#include "vision/assignment.h"
#include "vision/bounded_queue.h"
#include "vision/event.h"

namespace vigil::vision {
namespace {

TEST(Geometry, IouAndBoxes) {
  EXPECT_FLOAT_EQ(iou({0, 0, 10, 10}, {0, 0, 10, 10}), 1.0f);
  EXPECT_FLOAT_EQ(iou({0, 0, 10, 10}, {5, 0, 10, 10}), 50.0f / 150.0f);
  EXPECT_FLOAT_EQ(iou({0, 0, 10, 10}, {10, 0, 10, 10}), 0.0f);  // touching
  EXPECT_FLOAT_EQ(iou({0, 0, 0, 10}, {0, 0, 0, 10}), 0.0f);     // empty
  const Box c = clip_box({-5, -5, 20, 20}, 10, 8);
  EXPECT_FLOAT_EQ(c.w, 10);
  EXPECT_FLOAT_EQ(c.h, 8);
  EXPECT_FLOAT_EQ(Box({10, 20, 30, 40}).bottom_center().x, 25);
  EXPECT_FLOAT_EQ(Box({10, 20, 30, 40}).bottom_center().y, 60);
}

TEST(Geometry, PointInPolygon) {
  const std::vector<Point> square{{0, 0}, {10, 0}, {10, 10}, {0, 10}};
  EXPECT_TRUE(point_in_polygon({5, 5}, square));
  EXPECT_TRUE(point_in_polygon({10, 5}, square));  // on an edge
  EXPECT_TRUE(point_in_polygon({0, 0}, square));   // on a vertex
  EXPECT_FALSE(point_in_polygon({11, 5}, square));
  const std::vector<Point> concave{{0, 0}, {10, 0}, {10, 10}, {5, 3}, {0, 10}};
  EXPECT_FALSE(point_in_polygon({5, 8}, concave));
  EXPECT_TRUE(point_in_polygon({2, 4}, concave));
  EXPECT_FALSE(point_in_polygon({1, 1}, {{0, 0}, {5, 5}}));  // not a polygon
}

TEST(Geometry, SidesAndSegments) {
  // a->b points right on screen; "left" of it is up (smaller y).
  EXPECT_LT(signed_distance({5, -3}, {0, 0}, {10, 0}), 0);
  EXPECT_FLOAT_EQ(signed_distance({5, 4}, {0, 0}, {10, 0}), 4);
  EXPECT_TRUE(segments_intersect({5, -1}, {5, 1}, {0, 0}, {10, 0}));
  EXPECT_FALSE(segments_intersect({15, -1}, {15, 1}, {0, 0}, {10, 0}));  // beyond the end
  EXPECT_TRUE(segments_intersect({10, -1}, {10, 0}, {0, 0}, {10, 0}));   // touching
}

double brute_force_min(const std::vector<double>& cost, int rows, int cols) {
  // rows <= cols: try every injective row -> column map.
  std::vector<int> perm(cols);
  std::iota(perm.begin(), perm.end(), 0);
  double best = 1e300;
  do {
    double sum = 0;
    for (int r = 0; r < rows; ++r) sum += cost[r * cols + perm[r]];
    best = std::min(best, sum);
  } while (std::next_permutation(perm.begin(), perm.end()));
  return best;
}

TEST(Assignment, MatchesBruteForceOnRandomMatrices) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<double> u(0, 1);
  for (int trial = 0; trial < 200; ++trial) {
    const int rows = 1 + trial % 5, cols = rows + trial % 3;
    std::vector<double> cost(rows * cols);
    for (double& c : cost) c = u(rng);
    const std::vector<int> assign = min_cost_assignment(cost, rows, cols);
    double sum = 0;
    std::vector<int> used;
    for (int r = 0; r < rows; ++r) {
      ASSERT_GE(assign[r], 0);
      sum += cost[r * cols + assign[r]];
      used.push_back(assign[r]);
    }
    std::sort(used.begin(), used.end());
    EXPECT_EQ(std::unique(used.begin(), used.end()), used.end());
    EXPECT_NEAR(sum, brute_force_min(cost, rows, cols), 1e-9);
    // The transpose (more rows than columns) gives the same total.
    std::vector<double> t(cost.size());
    for (int r = 0; r < rows; ++r) {
      for (int c = 0; c < cols; ++c) t[c * rows + r] = cost[r * cols + c];
    }
    const std::vector<int> back = min_cost_assignment(t, cols, rows);
    double tsum = 0;
    for (int c = 0; c < cols; ++c) {
      if (back[c] >= 0) tsum += t[c * rows + back[c]];
    }
    EXPECT_NEAR(tsum, sum, 1e-9);
  }
}

TEST(Assignment, CostLimitLeavesPairsUnmatched) {
  // Row 0 fits column 0 well; row 1's only option costs more than the limit.
  const std::vector<double> cost{0.1, 0.9, 0.95, 0.95};
  const Assignment a = solve_assignment(cost, 2, 2, 0.8);
  ASSERT_EQ(a.matches.size(), 1u);
  EXPECT_EQ(a.matches[0], std::make_pair(0, 0));
  EXPECT_EQ(a.unmatched_rows, std::vector<int>{1});
  EXPECT_EQ(a.unmatched_cols, std::vector<int>{1});
  // Global optimum, not greedy: greedy would take (0,0)=0.3 and leave (1,1)=0.9 over the limit.
  const Assignment b = solve_assignment({0.3, 0.4, 0.35, 0.9}, 2, 2, 0.8);
  ASSERT_EQ(b.matches.size(), 2u);
  EXPECT_EQ(b.matches[0], std::make_pair(0, 1));
  EXPECT_EQ(b.matches[1], std::make_pair(1, 0));
  const Assignment empty = solve_assignment({}, 0, 3, 0.8);
  EXPECT_EQ(empty.unmatched_cols.size(), 3u);
}

TEST(BoundedQueue, DropOldestKeepsTheLatest) {
  BoundedQueue<int> q(2, OverflowPolicy::kDropOldest);
  for (int i = 0; i < 5; ++i) q.push(i);
  EXPECT_EQ(q.dropped(), 3u);
  EXPECT_EQ(*q.try_pop(), 3);
  EXPECT_EQ(*q.try_pop(), 4);
  EXPECT_FALSE(q.try_pop());
}

TEST(BoundedQueue, BlockingPushWaitsForRoomAndCloseWakesEveryone) {
  BoundedQueue<int> q(1, OverflowPolicy::kBlock);
  q.push(1);
  std::thread producer([&] { q.push(2); });  // blocks until the pop below
  EXPECT_EQ(*q.pop(), 1);
  producer.join();
  EXPECT_EQ(*q.pop(), 2);
  std::thread consumer([&] { EXPECT_FALSE(q.pop().has_value()); });
  q.close();
  consumer.join();
  EXPECT_FALSE(q.push(3));
  EXPECT_EQ(q.dropped(), 0u);
}

TEST(Event, JsonRoundTrip) {
  Event e;
  e.id = "cam0-000007";
  e.rule = "door";
  e.type = EventType::kLineCrossing;
  e.zone = "gate";
  e.camera = "cam0";
  e.track_ids = {3, 9};
  e.object_class = "person";
  e.start_s = 12.5;
  e.end_s = 12.5;
  e.start_unix = 1700000000.25;
  e.frame_index = 125;
  e.confidence = 0.75f;
  e.bbox = {1, 2, 3, 4};
  e.snapshot_path = "snaps/cam0-000007.jpg";
  e.direction = "left_to_right";
  e.count = 4;
  const std::string line = event_to_json_line(e);
  const Event back = event_from_json_line(line);
  EXPECT_EQ(event_to_json_line(back), line);
  EXPECT_EQ(back.track_ids, e.track_ids);
  EXPECT_EQ(*back.end_s, 12.5);
  const auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["type"], "line_crossing");
  EXPECT_EQ(j["class"], "person");

  e.end_s.reset();  // ongoing: end_s is null
  const auto ongoing = nlohmann::json::parse(event_to_json_line(e));
  EXPECT_TRUE(ongoing["end_s"].is_null());
  EXPECT_TRUE(event_from_json_line(ongoing.dump()).ongoing());
}

TEST(Event, JsonErrorsNameTheKey) {
  try {
    event_from_json_line(R"({"id":"x"})");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("\"rule\""), std::string::npos) << e.what();
  }
  EXPECT_THROW(event_from_json_line("{not json"), Error);
  EXPECT_THROW(parse_event_type("burglary"), Error);
  for (EventType t : {EventType::kIntrusion, EventType::kLoitering, EventType::kCrowding,
                      EventType::kLineCrossing, EventType::kObjectLeft}) {
    EXPECT_EQ(parse_event_type(event_type_name(t)), t);
  }
}

}  // namespace
}  // namespace vigil::vision
