// The executor: threads, queues, latest-frame-wins dropping, events with snapshots, errors from
// a failing source, and a short run of the real HOG pipeline on the sample video.
#include "vision/pipeline.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "vision/annotate.h"
#include "vision_test_util.h"

namespace vigil::vision {
namespace {

using testing::TempDir;

// A source of plain 320x240 frames: `count` of them, then end or failure.
class FakeSource : public FrameSource {
 public:
  FakeSource(int count, bool live, bool fail_at_end)
      : count_(count), live_(live), fail_at_end_(fail_at_end) {}
  ReadStatus read(Frame& f) override {
    if (produced_ >= count_) {
      if (!fail_at_end_) return ReadStatus::kEnd;
      error_ = "fake camera: unplugged";
      return ReadStatus::kFailed;
    }
    f.image = cv::Mat(240, 320, CV_8UC3, cv::Scalar(50, 50, 50));
    f.index = produced_;
    f.timestamp_s = produced_ * 0.1;
    f.wall_unix = 1.7e9 + f.timestamp_s;
    ++produced_;
    counters_.frames++;
    return ReadStatus::kFrame;
  }
  const std::string& last_error() const override { return error_; }
  SourceKind kind() const override { return live_ ? SourceKind::kNetwork : SourceKind::kFile; }
  double fps() const override { return 10; }
  void interrupt() override {}
  const SourceCounters& counters() const override { return counters_; }

 private:
  int count_, produced_ = 0;
  bool live_, fail_at_end_;
  std::string error_;
  SourceCounters counters_;
};

// One "person" walking right along y = 150, 6 px per call, optionally slowly.
class WalkerDetector : public Detector {
 public:
  explicit WalkerDetector(int sleep_ms = 0) : sleep_ms_(sleep_ms) {}
  std::vector<Detection> detect(const cv::Mat&, const std::vector<cv::Rect>&) override {
    if (sleep_ms_) std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms_));
    const float x = 10.0f + 6.0f * static_cast<float>(calls_++);
    return {{{x, 100, 20, 50}, 0.9f, 0}};
  }
  const std::vector<std::string>& class_names() const override { return names_; }
  bool uses_regions() const override { return false; }
  std::string describe() const override { return "walker"; }

 private:
  int sleep_ms_;
  int calls_ = 0;
  std::vector<std::string> names_{"person"};
};

VisionConfig walker_config() {
  VisionConfig c;
  c.motion.enabled = false;
  c.source.name = "fake";
  c.zones.push_back({"right", {{160, 0}, {320, 0}, {320, 240}, {160, 240}}, false, false});
  RuleSpec r;
  r.name = "enter_right";
  r.type = EventType::kIntrusion;
  r.zone = "right";
  r.inertia_frames = 2;
  c.rules.push_back(r);
  return c;
}

TEST(Pipeline, ProcessesEveryFrameOfAFileAndEmitsEventsWithSnapshots) {
  TempDir snaps("pipeline-snaps");
  VisionConfig c = walker_config();
  c.pipeline.snapshot_dir = snaps.path().string();
  Pipeline p(c, std::make_unique<FakeSource>(40, false, false), std::make_unique<WalkerDetector>());
  p.start();
  int64_t expected_index = 0;
  size_t with_tracks = 0;
  while (auto r = p.next_result()) {
    EXPECT_EQ(r->frame.index, expected_index++);  // files: nothing dropped, in order
    with_tracks += r->tracks.empty() ? 0 : 1;
    cv::Mat canvas = r->frame.image.clone();
    annotate(canvas, *r, p.class_names());  // drawing must cope with every result
  }
  p.stop();
  EXPECT_EQ(expected_index, 40);
  EXPECT_GE(with_tracks, 38u);
  std::vector<Event> events;
  while (auto e = p.events().try_pop()) events.push_back(*e);
  ASSERT_EQ(events.size(), 2u);  // start, then the end at the end of the stream
  EXPECT_TRUE(events[0].ongoing());
  EXPECT_EQ(events[0].camera, "fake");
  EXPECT_EQ(events[1].id, events[0].id);
  EXPECT_FALSE(events[1].ongoing());
  // x = 10 + 6i: the feet (x + 10) pass 160 at i = 24, t = 2.4 s.
  EXPECT_NEAR(events[0].start_s, 2.4, 1e-9);
  EXPECT_TRUE(std::filesystem::exists(events[0].snapshot_path)) << events[0].snapshot_path;
  EXPECT_EQ(events[1].snapshot_path, events[0].snapshot_path);
  const PipelineStats s = p.stats();
  EXPECT_EQ(s.decoded, 40u);
  EXPECT_EQ(s.processed, 40u);
  EXPECT_EQ(s.detected, 40u);
  EXPECT_EQ(s.dropped_frames, 0u);
  EXPECT_EQ(s.tracks, 1u);
  EXPECT_EQ(s.events, 2u);
  ASSERT_EQ(s.stages.size(), 6u);
  EXPECT_EQ(s.stages[2].stage, "detect");
  EXPECT_EQ(s.stages[2].count, 40u);
  EXPECT_TRUE(p.error().empty());
}

// Holds its first detection until the camera has delivered everything: perception is "slow".
class StuckDetector : public WalkerDetector {
 public:
  explicit StuckDetector(const FakeSource* source, int total) : source_(source), total_(total) {}
  std::vector<Detection> detect(const cv::Mat& m, const std::vector<cv::Rect>& r) override {
    while (source_->counters().frames.load() < static_cast<uint64_t>(total_)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return WalkerDetector::detect(m, r);
  }

 private:
  const FakeSource* source_;
  int total_;
};

TEST(Pipeline, LiveSourcesDropStaleFramesInsteadOfWaiting) {
  // The camera delivers 300 frames while perception is stuck on the first: the decoder never
  // waits, the frames in between are replaced, and perception resumes on the newest.
  VisionConfig c = walker_config();
  auto source = std::make_unique<FakeSource>(300, true, false);
  auto detector = std::make_unique<StuckDetector>(source.get(), 300);
  Pipeline p(c, std::move(source), std::move(detector), /*keep_results=*/false);
  p.start();
  while (p.events().pop()) {
  }
  p.stop();
  const PipelineStats s = p.stats();
  EXPECT_EQ(s.decoded, 300u);
  EXPECT_GE(s.dropped_frames, 297u);
  EXPECT_LE(s.processed, 3u);
  EXPECT_EQ(s.processed + s.dropped_frames, 300u);
}

TEST(Pipeline, AFailingSourceEndsThePipelineWithItsError) {
  VisionConfig c = walker_config();
  c.pipeline.drop_policy = "block";  // keep all five frames of this "live" source
  Pipeline p(c, std::make_unique<FakeSource>(5, true, true), std::make_unique<WalkerDetector>());
  p.start();
  int results = 0;
  while (p.next_result()) ++results;
  p.stop();
  EXPECT_EQ(results, 5);
  EXPECT_EQ(p.error(), "fake camera: unplugged");
  EXPECT_TRUE(p.finished());
}

TEST(Pipeline, StopWhileRunningIsClean) {
  VisionConfig c = walker_config();
  Pipeline p(c, std::make_unique<FakeSource>(1000000, true, false),
             std::make_unique<WalkerDetector>(1));
  p.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  p.stop();
  p.stop();  // idempotent
  EXPECT_TRUE(p.finished());
}

TEST(Pipeline, HogOnTheSampleVideoFindsAndTracksPeople) {
  VIGIL_NEED_SAMPLE_VIDEO(video);
  VisionConfig c = load_config(std::string(VIGIL_SOURCE_DIR) + "/configs/vtest.yaml");
  c.source.uri = video;
  Pipeline p(c, open_source(c.source), make_detector(c.detector));
  p.start();
  size_t frames = 0, max_tracks = 0, region_frames = 0;
  while (auto r = p.next_result()) {
    size_t visible = 0;
    for (const Track& t : r->tracks) visible += t.lost ? 0 : 1;
    max_tracks = std::max(max_tracks, visible);
    region_frames += r->plan.mode == DetectionPlan::Mode::kRegions ? 1 : 0;
    if (++frames == 40) break;  // 4 s of video keeps the test quick
  }
  p.stop();
  const PipelineStats s = p.stats();
  std::printf(
      "vtest, 40 frames: %llu detections, %llu tracks, max %zu at once, %zu frames on regions\n",
      static_cast<unsigned long long>(s.detections), static_cast<unsigned long long>(s.tracks),
      max_tracks, region_frames);
  EXPECT_EQ(frames, 40u);
  EXPECT_GE(max_tracks, 3u);     // several pedestrians are in view from the start
  EXPECT_GT(region_frames, 0u);  // after warm-up the motion gate narrows the search
  EXPECT_GT(s.stages[2].count, 0u);
}

}  // namespace
}  // namespace vigil::vision
