// The motion gate: a MOG2 background model on a downscaled gray frame finds the moving regions,
// and plan_detection() decides per frame whether to run the detector at all, on which regions,
// or on the whole frame. Regions around existing tracks are always included, so an object that
// stops moving (a person loitering, a bag left behind) keeps being detected and tracked.
#pragma once

#include <memory>
#include <opencv2/core.hpp>
#include <vector>

#include "vision/config.h"
#include "vision/geometry.h"

namespace vigil::vision {

class MotionDetector {
 public:
  explicit MotionDetector(const MotionOptions& options);
  // Feeds one frame to the background model; returns the moving blobs (full-frame pixels,
  // unpadded) of at least options.min_area_px.
  std::vector<cv::Rect> update(const cv::Mat& bgr);
  // Fraction of the (downscaled) frame marked foreground by the last update, 0..1.
  double foreground_fraction() const { return foreground_fraction_; }

 private:
  MotionOptions options_;
  struct Impl;
  std::shared_ptr<Impl> impl_;
  double foreground_fraction_ = 0;
};

struct DetectionPlan {
  enum class Mode { kSkip, kRegions, kFullFrame };
  Mode mode = Mode::kFullFrame;
  std::vector<cv::Rect> regions;  // kRegions: padded, merged, clipped to the frame
};

// Grows each rectangle by `padding` times its size plus 16 px, clips to `frame`, and merges
// rectangles that overlap until none do.
std::vector<cv::Rect> merge_regions(const std::vector<cv::Rect>& rects, double padding,
                                    cv::Size frame);

// Per-frame decision. `frames_since_full` counts frames since the last whole-frame detection.
DetectionPlan plan_detection(const MotionOptions& options, int64_t frame_index, cv::Size frame,
                             const std::vector<cv::Rect>& moving, const std::vector<Box>& tracks,
                             int64_t frames_since_full);

}  // namespace vigil::vision
