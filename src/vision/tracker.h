// Multi-object tracking by detection. ByteTracker follows ByteTrack (Zhang et al., ECCV 2022):
// Kalman constant-velocity prediction, then two association stages — high-score detections
// against all tracks, then low-score detections (often partly occluded objects) against the
// tracks still unmatched — solved as linear assignments on IoU cost. New tracks are born from
// confident unmatched detections, confirmed after `min_hits` matched frames, kept "lost" for
// `max_lost_frames` so they survive short occlusions with their id, then removed.
// IouTracker is the naive baseline (greedy IoU, no motion model, no low-score stage).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "vision/config.h"
#include "vision/detector.h"
#include "vision/geometry.h"

namespace vigil::vision {

struct Track {
  int64_t id = 0;   // 1, 2, 3... in order of confirmation
  Box box;          // Kalman estimate after this frame's update (lost: prediction)
  float score = 0;  // score of the last matched detection
  int class_id = 0;
  bool lost = false;        // not matched this frame; box is a prediction
  int missed = 0;           // consecutive frames without a match (0 when matched now)
  int64_t first_frame = 0;  // tracker frame number of the birth detection (1-based)
  int64_t last_frame = 0;   // tracker frame number of the last match
};

struct TrackerOutput {
  std::vector<Track> tracks;     // confirmed tracks: matched this frame, then lost ones
  std::vector<int64_t> removed;  // confirmed ids dropped this frame (they never come back)
};

// The tracks to report for one frame (tracks files, MOT evaluation): every matched track, plus
// lost tracks "coasting" on their prediction for at most `coast_frames` frames, so an isolated
// missed detection does not break a track. A lost track is not coasted when it is probably
// really out of view: its predicted box touches the frame border (it is leaving) or is half
// covered by a matched track (it is hidden behind someone).
std::vector<Track> reported_tracks(const std::vector<Track>& tracks, int coast_frames,
                                   float frame_width, float frame_height);

class MultiTracker {
 public:
  virtual ~MultiTracker() = default;
  // Consumes one frame's detections (every frame, also when there are none).
  virtual TrackerOutput update(const std::vector<Detection>& detections) = 0;
};

class ByteTracker final : public MultiTracker {
 public:
  explicit ByteTracker(const TrackerOptions& options);
  ~ByteTracker() override;
  TrackerOutput update(const std::vector<Detection>& detections) override;
  // Boxes of all live (tracked, lost and unconfirmed) tracks as of the last update, so the
  // motion gate can look where objects are even when they stand still.
  std::vector<Box> live_boxes() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

struct IouTrackerOptions {
  float min_score = 0.5f;  // detections below are ignored
  float min_iou = 0.3f;    // greedy match threshold against the track's last box
  int max_missed = 3;      // frames a track may go unmatched before it ends
};

class IouTracker final : public MultiTracker {
 public:
  explicit IouTracker(const IouTrackerOptions& options = {});
  TrackerOutput update(const std::vector<Detection>& detections) override;

 private:
  struct Entry {
    Track track;
    int missed = 0;
  };
  IouTrackerOptions options_;
  std::vector<Entry> entries_;
  int64_t frame_ = 0;
  int64_t next_id_ = 1;
};

}  // namespace vigil::vision
