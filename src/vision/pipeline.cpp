#include "vision/pipeline.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <opencv2/core/utility.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "base/error.h"
#include "base/log.h"

namespace vigil::vision {

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

// Running latency figures: exact count/mean/max, percentiles over the last kWindow samples.
class LatencyRecorder {
 public:
  static constexpr size_t kWindow = 4096;
  void add(double ms) {
    ++count_;
    sum_ += ms;
    max_ = std::max(max_, ms);
    if (window_.size() < kWindow) {
      window_.push_back(ms);
    } else {
      window_[next_] = ms;
    }
    next_ = (next_ + 1) % kWindow;
  }
  StageLatency summary(const std::string& stage) const {
    StageLatency s;
    s.stage = stage;
    s.count = count_;
    if (count_ == 0) return s;
    s.mean_ms = sum_ / static_cast<double>(count_);
    s.max_ms = max_;
    std::vector<double> sorted = window_;
    std::sort(sorted.begin(), sorted.end());
    const auto pick = [&](double q) {
      return sorted[std::min(sorted.size() - 1,
                             static_cast<size_t>(q * (sorted.size() - 1) + 0.5))];
    };
    s.p50_ms = pick(0.5);
    s.p95_ms = pick(0.95);
    return s;
  }

 private:
  std::vector<double> window_;
  size_t next_ = 0;
  uint64_t count_ = 0;
  double sum_ = 0, max_ = 0;
};

enum Stage { kDecode, kMotion, kDetect, kTrack, kRules, kTotal, kStageCount };
const char* const kStageNames[kStageCount] = {"decode", "motion", "detect",
                                              "track",  "rules",  "total"};

OverflowPolicy frame_policy(const PipelineOptions& o, bool live) {
  if (o.drop_policy == "latest") return OverflowPolicy::kDropOldest;
  if (o.drop_policy == "block") return OverflowPolicy::kBlock;
  return live ? OverflowPolicy::kDropOldest : OverflowPolicy::kBlock;
}

}  // namespace

struct Pipeline::Metrics {
  mutable std::mutex mutex;
  LatencyRecorder stages[kStageCount];
  std::string error;
  Clock::time_point started_at = Clock::now();
  Clock::time_point finished_at;
  bool done = false;
  std::atomic<uint64_t> decoded{0}, processed{0}, detected{0}, detected_regions{0}, gated{0},
      detections{0}, events{0};
  int64_t max_track_id = 0;

  void record(Stage stage, double ms) {
    std::lock_guard lock(mutex);
    stages[stage].add(ms);
  }
};

Pipeline::Pipeline(const VisionConfig& config, std::unique_ptr<FrameSource> source,
                   std::unique_ptr<Detector> detector, bool keep_results)
    : config_(config),
      source_(std::move(source)),
      detector_(std::move(detector)),
      keep_results_(keep_results),
      motion_(config.motion),
      tracker_(config.tracker),
      rules_(config.rules, config.zones, detector_->class_names(), config.source.name),
      frames_(config.pipeline.frame_queue, frame_policy(config.pipeline, source_->live())),
      results_(config.pipeline.result_queue, frame_policy(config.pipeline, source_->live())),
      events_(config.pipeline.event_queue, OverflowPolicy::kDropOldest),
      metrics_(std::make_unique<Metrics>()) {
  if (!config_.pipeline.snapshot_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(config_.pipeline.snapshot_dir, ec);
    if (ec) {
      fail("pipeline.snapshot_dir {}: cannot create ({})", config_.pipeline.snapshot_dir,
           ec.message());
    }
  }
}

Pipeline::~Pipeline() {
  stop();
}

void Pipeline::start() {
  if (started_.exchange(true)) return;
  cv::setNumThreads(config_.pipeline.opencv_threads);
  metrics_->started_at = Clock::now();
  decode_thread_ = std::thread([this] { decode_loop(); });
  worker_thread_ = std::thread([this] { worker_loop(); });
}

void Pipeline::stop() {
  stopping_ = true;
  source_->interrupt();
  frames_.close();
  results_.close();
  if (decode_thread_.joinable()) decode_thread_.join();
  if (worker_thread_.joinable()) worker_thread_.join();
  events_.close();
}

std::optional<FrameResult> Pipeline::next_result() {
  return results_.pop();
}

std::string Pipeline::error() const {
  std::lock_guard lock(metrics_->mutex);
  return metrics_->error;
}

void Pipeline::decode_loop() {
  for (;;) {
    Frame frame;
    const auto t0 = Clock::now();
    ReadStatus status = ReadStatus::kFailed;
    try {
      status = source_->read(frame);
    } catch (const std::exception& e) {
      std::lock_guard lock(metrics_->mutex);
      metrics_->error = e.what();
    }
    if (status != ReadStatus::kFrame) {
      if (status == ReadStatus::kFailed && !stopping_) {
        std::lock_guard lock(metrics_->mutex);
        if (metrics_->error.empty()) metrics_->error = source_->last_error();
        spdlog::error("{}", metrics_->error);
      }
      break;
    }
    metrics_->record(kDecode, ms_since(t0));
    metrics_->decoded++;
    if (!frames_.push(std::move(frame))) break;  // closed by stop()
  }
  source_done_ = true;
  frames_.close();
}

void Pipeline::worker_loop() {
  const double stall_s = config_.source.stall_timeout_s;
  bool stalled = false;
  for (;;) {
    std::optional<Frame> frame =
        frames_.pop_for(std::chrono::duration<double>(source_->live() ? stall_s : 3600.0));
    if (!frame) {
      if (frames_.closed() && frames_.size() == 0) break;
      // Watchdog: a live source that delivers nothing is reported even while the source's own
      // read is still blocked (devices without read timeouts).
      if (!stalled && !source_done_) {
        spdlog::warn("source {}: no frame for {:.1f} s", redact_uri(config_.source.uri), stall_s);
        stalled = true;
      }
      continue;
    }
    stalled = false;
    FrameResult result;
    try {
      result = process(std::move(*frame));
    } catch (const std::exception& e) {
      std::lock_guard lock(metrics_->mutex);
      metrics_->error = fmt::format("perception failed: {}", e.what());
      spdlog::error("{}", metrics_->error);
      break;
    }
    for (const Event& e : result.events) {
      events_.push(e);
      metrics_->events++;
    }
    if (keep_results_ && !results_.push(std::move(result))) break;
  }
  frames_.close();
  source_->interrupt();
  for (Event& e : rules_.finish()) {
    if (auto it = snapshots_.find(e.id); it != snapshots_.end()) e.snapshot_path = it->second;
    events_.push(e);
    metrics_->events++;
  }
  {
    std::lock_guard lock(metrics_->mutex);
    metrics_->finished_at = Clock::now();
    metrics_->done = true;
  }
  results_.close();
  events_.close();
  finished_ = true;
}

FrameResult Pipeline::process(Frame frame) {
  const auto t_start = Clock::now();
  FrameResult r;
  const cv::Size size = frame.image.size();

  auto t = Clock::now();
  std::vector<cv::Rect> moving;
  if (config_.motion.enabled) moving = motion_.update(frame.image);
  metrics_->record(kMotion, ms_since(t));
  r.plan = plan_detection(config_.motion, frame.index, size, moving, tracker_.live_boxes(),
                          frames_since_full_);
  // Region-blind detectors still get the gate: they skip frames where nothing moves.
  if (r.plan.mode == DetectionPlan::Mode::kRegions && !detector_->uses_regions()) {
    r.plan.mode = DetectionPlan::Mode::kFullFrame;
    r.plan.regions.clear();
  }

  t = Clock::now();
  if (r.plan.mode != DetectionPlan::Mode::kSkip) {
    r.detections = detector_->detect(frame.image, r.plan.regions);
    metrics_->detected++;
    metrics_->detections += r.detections.size();
    if (r.plan.mode == DetectionPlan::Mode::kRegions) metrics_->detected_regions++;
    metrics_->record(kDetect, ms_since(t));
  } else {
    metrics_->gated++;
  }
  frames_since_full_ = r.plan.mode == DetectionPlan::Mode::kFullFrame ? 0 : frames_since_full_ + 1;

  t = Clock::now();
  TrackerOutput tracked = tracker_.update(r.detections);
  metrics_->record(kTrack, ms_since(t));
  r.tracks = std::move(tracked.tracks);
  for (const Track& tr : r.tracks) {
    std::lock_guard lock(metrics_->mutex);
    metrics_->max_track_id = std::max(metrics_->max_track_id, tr.id);
  }

  t = Clock::now();
  RuleFrame rf;
  rf.frame_index = frame.index;
  rf.timestamp_s = frame.timestamp_s;
  rf.wall_unix = frame.wall_unix;
  rf.width = static_cast<float>(size.width);
  rf.height = static_cast<float>(size.height);
  rf.tracks = r.tracks;
  rf.removed = std::move(tracked.removed);
  r.events = rules_.update(rf);
  r.zones = rules_.zones();
  r.occupancy = rules_.zone_occupancy();
  r.line_counts = rules_.line_counts();
  if (!config_.pipeline.snapshot_dir.empty()) {
    for (Event& e : r.events) {
      if (!e.ongoing() && e.end_s != e.start_s) {  // an end record reuses the start's picture
        if (auto it = snapshots_.find(e.id); it != snapshots_.end()) {
          e.snapshot_path = it->second;
          snapshots_.erase(it);
        }
        continue;
      }
      const std::string path =
          (std::filesystem::path(config_.pipeline.snapshot_dir) / (e.id + ".jpg")).string();
      cv::Mat snap = frame.image.clone();
      cv::rectangle(snap,
                    cv::Rect(static_cast<int>(e.bbox.x), static_cast<int>(e.bbox.y),
                             static_cast<int>(e.bbox.w), static_cast<int>(e.bbox.h)),
                    cv::Scalar(0, 0, 255), 2);
      bool written = false;
      try {
        written = cv::imwrite(path, snap, {cv::IMWRITE_JPEG_QUALITY, 85});
      } catch (const cv::Exception&) {
        written = false;
      }
      if (written) {
        e.snapshot_path = path;
        if (e.ongoing()) snapshots_[e.id] = path;
      } else {
        spdlog::warn("event {}: cannot write snapshot {}", e.id, path);
      }
    }
  }
  metrics_->record(kRules, ms_since(t));
  metrics_->record(kTotal, ms_since(t_start));
  metrics_->processed++;
  r.frame = std::move(frame);
  return r;
}

PipelineStats Pipeline::stats() const {
  PipelineStats s;
  s.decoded = metrics_->decoded;
  s.processed = metrics_->processed;
  s.detected = metrics_->detected;
  s.detected_regions = metrics_->detected_regions;
  s.gated = metrics_->gated;
  s.detections = metrics_->detections;
  s.events = metrics_->events;
  s.dropped_frames = frames_.dropped();
  s.dropped_results = results_.dropped();
  s.dropped_events = events_.dropped();
  const SourceCounters& c = source_->counters();
  s.reconnects = c.reconnects;
  s.stalls = c.stalls;
  s.bad_frames = c.bad_frames;
  std::lock_guard lock(metrics_->mutex);
  s.tracks = static_cast<uint64_t>(metrics_->max_track_id);
  const auto end = metrics_->done ? metrics_->finished_at : Clock::now();
  s.elapsed_s = std::chrono::duration<double>(end - metrics_->started_at).count();
  s.fps = s.elapsed_s > 0 ? static_cast<double>(s.processed) / s.elapsed_s : 0;
  for (int i = 0; i < kStageCount; ++i)
    s.stages.push_back(metrics_->stages[i].summary(kStageNames[i]));
  return s;
}

}  // namespace vigil::vision
