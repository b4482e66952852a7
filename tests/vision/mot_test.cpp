// MOTChallenge parsing and the CLEAR / Identity / HOTA metrics on cases worked out by hand.
#include "vision/mot.h"

#include <gtest/gtest.h>

#include "base/error.h"

namespace vigil::vision {
namespace {

std::vector<MotRow> walk(int64_t id, int first, int last, float x0 = 0, float y = 0) {
  std::vector<MotRow> rows;
  for (int f = first; f <= last; ++f) rows.push_back({f, id, {x0 + 2.0f * f, y, 40, 100}, 1});
  return rows;
}

TEST(MotMetrics, PerfectTrackingScoresOne) {
  auto gt = walk(1, 1, 20);
  auto more = walk(2, 5, 30, 300);
  gt.insert(gt.end(), more.begin(), more.end());
  auto pred = gt;
  for (auto& r : pred) r.id += 100;  // ids need not be equal, only consistent
  const MotMetrics m = evaluate_mot(gt, pred);
  EXPECT_DOUBLE_EQ(m.mota, 1.0);
  EXPECT_DOUBLE_EQ(m.idf1, 1.0);
  EXPECT_NEAR(m.hota, 1.0, 1e-9);
  EXPECT_NEAR(m.motp, 1.0, 1e-6);
  EXPECT_EQ(m.mostly_tracked, 2);
  EXPECT_EQ(m.id_switches, 0);
}

TEST(MotMetrics, NothingPredictedScoresZero) {
  const MotMetrics m = evaluate_mot(walk(1, 1, 10), {});
  EXPECT_EQ(m.fn, 10);
  EXPECT_DOUBLE_EQ(m.mota, 0.0);
  EXPECT_DOUBLE_EQ(m.idf1, 0.0);
  EXPECT_DOUBLE_EQ(m.hota, 0.0);
  EXPECT_EQ(m.mostly_lost, 1);
}

TEST(MotMetrics, IdSwitchHalfway) {
  // One object for 10 frames; the tracker changes its id after frame 5.
  auto pred = walk(7, 1, 5);
  auto rest = walk(8, 6, 10);
  pred.insert(pred.end(), rest.begin(), rest.end());
  const MotMetrics m = evaluate_mot(walk(1, 1, 10), pred);
  EXPECT_EQ(m.id_switches, 1);
  EXPECT_NEAR(m.mota, 0.9, 1e-12);  // 1 - 1/10
  EXPECT_NEAR(m.idf1, 0.5, 1e-12);  // 2*5 / (10+10)
  EXPECT_NEAR(m.deta, 1.0, 1e-12);
  EXPECT_NEAR(m.assa, 0.5, 1e-12);  // each match: TPA 5 / (5 + 5 FNA + 0 FPA)
  EXPECT_NEAR(m.hota, std::sqrt(0.5), 1e-12);
}

TEST(MotMetrics, FalsePositivesAndMissesCount) {
  auto pred = walk(1, 1, 10);
  pred.erase(pred.begin() + 3);                    // a miss in frame 4
  pred.push_back({2, 5, {500, 500, 40, 100}, 1});  // a false positive
  pred.push_back({3, 1, {3, 0, 40, 100}, 1});      // IoU 0.9 with frame 3's box: a second box there
  const MotMetrics m = evaluate_mot(walk(1, 1, 10), pred);
  EXPECT_EQ(m.tp, 9);
  EXPECT_EQ(m.fn, 1);
  EXPECT_EQ(m.fp, 2);
  EXPECT_NEAR(m.mota, 1.0 - 3.0 / 10.0, 1e-12);
}

TEST(MotMetrics, BoxesBelowIouThresholdDoNotMatch) {
  auto pred = walk(1, 1, 10);
  for (auto& r : pred) r.box.x += 30;  // IoU (10*100)/(70*100) = 0.14
  const MotMetrics m = evaluate_mot(walk(1, 1, 10), pred);
  EXPECT_EQ(m.tp, 0);
  EXPECT_LT(m.mota, 0);
  EXPECT_GT(m.hota, 0);  // HOTA still credits the low-IoU overlap at alpha 0.05 and 0.10
}

TEST(MotFiles, ParsesAndFormats) {
  const std::string text =
      "# comment\n"
      "1,1,10.5,20,30,60,1,-1,-1,-1\n"
      "\n"
      "2,1,11,21,30,60,0.5\r\n"
      "2,2,100,100,20,40,0,1,1\n";  // conf 0: ignored in ground truth
  const auto gt = parse_mot(text, "gt.txt", true);
  ASSERT_EQ(gt.size(), 2u);
  EXPECT_EQ(gt[1].frame, 2);
  EXPECT_FLOAT_EQ(gt[0].box.x, 10.5f);
  const auto pred = parse_mot(text, "pred.txt", false);
  ASSERT_EQ(pred.size(), 3u);
  EXPECT_FLOAT_EQ(pred[1].conf, 0.5f);
  const std::string row = format_mot_row(pred[0]);
  EXPECT_EQ(row, "1,1,10.50,20.00,30.00,60.00,1.000,-1,-1,-1");
  EXPECT_EQ(parse_mot(row, "x", false)[0].box.w, 30.0f);
}

TEST(MotFiles, ErrorsNameTheLineAndColumn) {
  try {
    parse_mot("1,1,1,1,1,1\n2,x,1,1,1,1\n", "t.txt", false);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("t.txt:2: column 2"), std::string::npos) << e.what();
  }
  EXPECT_THROW(parse_mot("1,1,1,1\n", "t.txt", false), Error);        // too few columns
  EXPECT_THROW(parse_mot("1.5,1,1,1,1,1\n", "t.txt", false), Error);  // fractional frame
  EXPECT_THROW(parse_mot("1,1,1,1,-4,1\n", "t.txt", false), Error);   // negative width
  EXPECT_THROW(parse_mot("1,1,1,1,nan,1\n", "t.txt", false), Error);
  EXPECT_THROW(read_mot_file("/nonexistent/gt.txt", true), Error);
}

}  // namespace
}  // namespace vigil::vision
