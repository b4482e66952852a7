// ByteTrack on synthetic scenes with exact ground truth, against the naive IoU tracker.
#include "vision/tracker.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <iterator>

#include "synthetic_scene.h"
#include "vision/assignment.h"
#include "vision/kalman.h"
#include "vision/mot.h"

namespace vigil::vision {
namespace {

using testing::make_scene;
using testing::run_tracker;
using testing::SceneOptions;

void report(const char* name, const MotMetrics& m) {
  std::printf(
      "  %-28s MOTA %.3f  IDF1 %.3f  HOTA %.3f  (FP %lld FN %lld IDSW %lld, ids %lld/%lld)\n", name,
      m.mota, m.idf1, m.hota, static_cast<long long>(m.fp), static_cast<long long>(m.fn),
      static_cast<long long>(m.id_switches), static_cast<long long>(m.pred_ids),
      static_cast<long long>(m.gt_ids));
}

SceneOptions hard_scene(uint64_t seed) {
  SceneOptions o;
  o.seed = seed;
  o.miss_rate = 0.08;  // clearly visible, not detected
  o.weak_rate = 0.10;  // clearly visible, detected with a low score
  o.fp_rate = 0.8;     // false positives per frame
  o.jitter = 0.04;     // box noise, 4% of size
  return o;
}

TEST(Kalman, FollowsConstantVelocityAndPredictsThroughGaps) {
  BoxKalman k(Box{100, 100, 40, 100});
  for (int f = 1; f <= 20; ++f) {
    k.predict();
    k.update(Box{100.0f + 5.0f * f, 100, 40, 100});
  }
  EXPECT_NEAR(k.velocity()[0], 5.0, 0.3);
  for (int f = 21; f <= 25; ++f) k.predict();  // five frames unobserved
  const Box b = k.box();
  EXPECT_NEAR(b.x, 100 + 5 * 25, 3.0);
  EXPECT_NEAR(b.h, 100, 2.0);
}

TEST(ByteTracker, ConfirmsAfterMinHitsAndKeepsIdThroughOcclusion) {
  TrackerOptions o;
  o.min_hits = 2;
  o.max_lost_frames = 10;
  ByteTracker tracker(o);
  auto det = [](float x, float score = 0.9f) { return Detection{{x, 100, 40, 100}, score, 0}; };
  EXPECT_TRUE(tracker.update({det(100)}).tracks.empty());  // tentative
  TrackerOutput out = tracker.update({det(104)});
  ASSERT_EQ(out.tracks.size(), 1u);
  const int64_t id = out.tracks[0].id;
  for (int f = 2; f < 10; ++f) out = tracker.update({det(100.0f + 4.0f * f)});
  for (int f = 10; f < 16; ++f) {  // six frames without any detection
    out = tracker.update({});
    ASSERT_EQ(out.tracks.size(), 1u);
    EXPECT_TRUE(out.tracks[0].lost);
  }
  out = tracker.update({det(100.0f + 4.0f * 16)});
  ASSERT_EQ(out.tracks.size(), 1u);
  EXPECT_FALSE(out.tracks[0].lost);
  EXPECT_EQ(out.tracks[0].id, id);
}

TEST(ByteTracker, LowScoreDetectionsContinueTracksButNeverStartThem) {
  TrackerOptions o;
  ByteTracker tracker(o);
  auto det = [](float x, float score) { return Detection{{x, 100, 40, 100}, score, 0}; };
  tracker.update({det(100, 0.9f)});
  TrackerOutput out = tracker.update({det(103, 0.9f)});
  ASSERT_EQ(out.tracks.size(), 1u);
  // Stage 2 keeps the track alive on a weak detection.
  out = tracker.update({det(106, 0.3f)});
  ASSERT_EQ(out.tracks.size(), 1u);
  EXPECT_FALSE(out.tracks[0].lost);
  // A weak detection far away starts nothing.
  for (int i = 0; i < 5; ++i) out = tracker.update({det(109.0f + 3 * i, 0.9f), det(800, 0.3f)});
  EXPECT_EQ(out.tracks.size(), 1u);
}

TEST(ByteTracker, RemovesTracksAfterMaxLostFrames) {
  TrackerOptions o;
  o.max_lost_frames = 3;
  ByteTracker tracker(o);
  const Detection d{{10, 10, 40, 100}, 0.9f, 0};
  tracker.update({d});
  const int64_t id = tracker.update({d}).tracks.at(0).id;
  std::vector<int64_t> removed;
  for (int i = 0; i < 5; ++i) {
    const TrackerOutput out = tracker.update({});
    removed.insert(removed.end(), out.removed.begin(), out.removed.end());
  }
  EXPECT_EQ(removed, std::vector<int64_t>{id});
  EXPECT_TRUE(tracker.live_boxes().empty());
}

TEST(ByteTracker, ClassAwareMatching) {
  TrackerOptions o;
  o.min_hits = 1;
  ByteTracker tracker(o);
  tracker.update({{{10, 10, 40, 100}, 0.9f, 0}});
  const TrackerOutput out = tracker.update({{{12, 10, 40, 100}, 0.9f, 1}});
  // Same place, other class: a new track, and the old one is lost.
  ASSERT_EQ(out.tracks.size(), 2u);
  EXPECT_NE(out.tracks[0].id, out.tracks[1].id);
}

TEST(SyntheticScene, HasCrossingsOcclusionsAndNoise) {
  const auto scene = make_scene(hard_scene(7));
  EXPECT_GE(scene.objects, 16);
  EXPECT_GT(scene.hidden_frames, 50);  // objects really disappear behind others
  size_t dets = 0;
  for (const auto& f : scene.detections) dets += f.size();
  EXPECT_GT(scene.ground_truth.size(), 2000u);
  EXPECT_GT(dets, scene.ground_truth.size() * 8 / 10);
}

TEST(TrackerOnSyntheticScenes, CleanDetectionsScoreAtLeast098) {
  for (uint64_t seed : {1, 2, 3}) {
    SceneOptions o;
    o.seed = seed;
    o.clean = true;
    const auto scene = make_scene(o);
    const TrackerOptions options;
    ByteTracker tracker(options);
    const MotMetrics m =
        evaluate_mot(scene.ground_truth, run_tracker(tracker, scene, options.coast_frames));
    std::printf("clean scene, seed %llu:\n", static_cast<unsigned long long>(seed));
    report("ByteTrack", m);
    EXPECT_GE(m.mota, 0.98) << "seed " << seed;
    EXPECT_GE(m.idf1, 0.98) << "seed " << seed;
  }
}

TEST(TrackerOnSyntheticScenes, HardSceneByteTrackBeatsNaiveIouTracker) {
  // "The hard scene": five 400-frame scenes of 20 walkers (8 crossing pairs) with occlusions,
  // 8% missed and 10% weak detections, 0.8 false positives per frame and 4% box jitter.
  double byte_mota = 0, byte_idf1 = 0, iou_mota = 0, iou_idf1 = 0;
  const uint64_t seeds[] = {11, 12, 13, 14, 15};
  const double n = std::size(seeds);
  for (uint64_t seed : seeds) {
    const auto scene = make_scene(hard_scene(seed));
    const TrackerOptions options;  // the defaults, as `vigil detect` uses them
    ByteTracker byte(options);
    IouTracker naive;
    const MotMetrics b =
        evaluate_mot(scene.ground_truth, run_tracker(byte, scene, options.coast_frames));
    const MotMetrics m = evaluate_mot(scene.ground_truth, run_tracker(naive, scene, 0));
    std::printf("hard scene, seed %llu (%d objects, %zu gt boxes, %d hidden object-frames):\n",
                static_cast<unsigned long long>(seed), scene.objects, scene.ground_truth.size(),
                scene.hidden_frames);
    report("ByteTrack", b);
    report("naive IoU tracker", m);
    EXPECT_GE(b.mota, 0.90) << "seed " << seed;
    EXPECT_GE(b.idf1, 0.85) << "seed " << seed;
    byte_mota += b.mota / n;
    byte_idf1 += b.idf1 / n;
    iou_mota += m.mota / n;
    iou_idf1 += m.idf1 / n;
  }
  std::printf("hard scene mean: ByteTrack MOTA %.3f IDF1 %.3f | naive IoU MOTA %.3f IDF1 %.3f\n",
              byte_mota, byte_idf1, iou_mota, iou_idf1);
  EXPECT_GT(byte_mota - iou_mota, 0.10);
  EXPECT_GT(byte_idf1 - iou_idf1, 0.10);
}

}  // namespace
}  // namespace vigil::vision
