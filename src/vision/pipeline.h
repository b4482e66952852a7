// The perception executor. Two threads of its own:
//   decode  reads the source and pushes frames onto a bounded queue — "latest wins" for live
//           sources (a slow detector sees fresher frames, never makes the camera wait) or
//           blocking for files (every frame is processed);
//   worker  motion gate -> detector -> tracker -> rules; pushes a FrameResult per frame onto
//           the result queue and every event onto the event queue.
// Consumers pull from next_result() / events() on their own threads; a consumer that falls
// behind on a live source loses results (counted), never stalls decoding.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "vision/bounded_queue.h"
#include "vision/config.h"
#include "vision/detector.h"
#include "vision/event.h"
#include "vision/motion.h"
#include "vision/rules.h"
#include "vision/source.h"
#include "vision/tracker.h"

namespace vigil::vision {

struct StageLatency {
  std::string stage;  // decode, motion, detect, track, rules, total
  uint64_t count = 0;
  double mean_ms = 0, p50_ms = 0, p95_ms = 0, max_ms = 0;
};

struct PipelineStats {
  uint64_t decoded = 0;           // frames read from the source
  uint64_t processed = 0;         // frames through the worker
  uint64_t detected = 0;          // frames the detector ran on (whole or regions)
  uint64_t detected_regions = 0;  // ... of which only on moving regions
  uint64_t gated = 0;             // frames the motion gate skipped (nothing moving, no tracks)
  uint64_t dropped_frames = 0;    // decoded frames replaced before the worker took them
  uint64_t dropped_results = 0;   // results the consumer did not take in time
  uint64_t events = 0;            // event records emitted (starts + ends)
  uint64_t dropped_events = 0;
  uint64_t detections = 0;  // detector boxes, all frames
  uint64_t tracks = 0;      // distinct confirmed track ids
  uint64_t reconnects = 0, stalls = 0, bad_frames = 0;
  double elapsed_s = 0;  // since start()
  double fps = 0;        // processed / elapsed
  std::vector<StageLatency> stages;
};

// Everything known about one processed frame.
struct FrameResult {
  Frame frame;
  std::vector<Detection> detections;
  std::vector<Track> tracks;  // confirmed (lost ones flagged)
  std::vector<Event> events;  // started or ended on this frame
  DetectionPlan plan;
  std::vector<Zone> zones;  // in pixels
  std::map<std::string, int> occupancy;
  std::vector<RuleEngine::LineCount> line_counts;
};

class Pipeline {
 public:
  // Takes ownership of the source and detector. `keep_results` false: no FrameResults are
  // queued (event-only consumers). Throws vigil::Error when the rules do not fit the detector.
  Pipeline(const VisionConfig& config, std::unique_ptr<FrameSource> source,
           std::unique_ptr<Detector> detector, bool keep_results = true);
  ~Pipeline();
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  void start();
  // Interrupts the source, drains nothing, joins the threads. Idempotent.
  void stop();
  // Blocks until the next result; empty when the pipeline has finished and all were taken.
  std::optional<FrameResult> next_result();
  // The event queue (bounded, drops the oldest when full). Closed when the pipeline finishes.
  BoundedQueue<Event>& events() { return events_; }
  // True once the worker has finished (source ended or failed, or stop()).
  bool finished() const { return finished_.load(); }
  // Why the source gave up ("" after a normal end).
  std::string error() const;
  PipelineStats stats() const;
  const std::vector<std::string>& class_names() const { return detector_->class_names(); }
  const FrameSource& source() const { return *source_; }

 private:
  void decode_loop();
  void worker_loop();
  FrameResult process(Frame frame);

  VisionConfig config_;
  std::unique_ptr<FrameSource> source_;
  std::unique_ptr<Detector> detector_;
  bool keep_results_;
  MotionDetector motion_;
  ByteTracker tracker_;
  RuleEngine rules_;
  BoundedQueue<Frame> frames_;
  BoundedQueue<FrameResult> results_;
  BoundedQueue<Event> events_;
  std::thread decode_thread_, worker_thread_;
  std::atomic<bool> started_{false}, stopping_{false}, finished_{false}, source_done_{false};
  int64_t frames_since_full_ = 0;
  std::map<std::string, std::string> snapshots_;  // ongoing event id -> its JPEG

  struct Metrics;
  std::unique_ptr<Metrics> metrics_;
};

}  // namespace vigil::vision
