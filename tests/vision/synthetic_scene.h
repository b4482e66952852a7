// Synthetic tracking scenes with exact ground truth, for tracker tests. People-shaped boxes walk
// across a 1280x720 frame in pairs whose paths cross (the nearer one — lower on screen —
// occludes the other), some stop and start again, some move fast. Detections are derived from
// the ground truth the way a real detector fails:
//   visibility < 0.4          -> no detection (hidden)
//   0.4 <= visibility < 0.75  -> a weak detection (score 0.25..0.55), 90% of the time
//   visibility >= 0.75        -> a confident detection (0.65..0.95), except `miss_rate` of the
//                                time (none) and `weak_rate` (a weak one)
// plus `fp_rate` false positives per frame and Gaussian box jitter of `jitter` x size.
// Ground truth holds every object that is at least 40% visible and mostly inside the frame.
// A `clean` scene is what a perfect detector would see: every object mostly inside the frame,
// occluded or not, detected with its exact box; the ground truth is the same set. Crossing
// walkers then overlap with both boxes present, which tests association, not recovery.
#pragma once

#include <cstdint>
#include <vector>

#include "vision/detector.h"
#include "vision/mot.h"
#include "vision/tracker.h"

namespace vigil::vision::testing {

struct SceneOptions {
  int frames = 400;
  int width = 1280;
  int height = 720;
  int crossing_pairs = 8;  // two objects each, walking towards each other
  int extra_objects = 4;   // diagonal walkers, stop-and-go and fast movers
  double miss_rate = 0.0;
  double weak_rate = 0.0;
  double fp_rate = 0.0;
  double jitter = 0.0;
  bool clean = false;  // every object detected exactly (score 0.9); the noise options are ignored
  uint64_t seed = 1;
};

struct SyntheticScene {
  std::vector<std::vector<Detection>> detections;  // per frame (index 0 = frame 1)
  std::vector<MotRow> ground_truth;                // MOT rows, frames 1-based
  int objects = 0;
  int hidden_frames = 0;  // object-frames hidden behind another object (occlusion)
  int width = 0, height = 0;
};

SyntheticScene make_scene(const SceneOptions& options);

// Runs `tracker` over the scene; returns MOT rows of its reported tracks (matched, or lost for
// at most `coast_frames`).
std::vector<MotRow> run_tracker(MultiTracker& tracker, const SyntheticScene& scene,
                                int coast_frames);

}  // namespace vigil::vision::testing
