#include "vision/motion.h"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>
#include <opencv2/video/background_segm.hpp>

namespace vigil::vision {

struct MotionDetector::Impl {
  cv::Ptr<cv::BackgroundSubtractorMOG2> mog2;
  cv::Mat small, gray, mask;
  cv::Mat open_kernel = cv::getStructuringElement(cv::MORPH_RECT, cv::Size(3, 3));
  cv::Mat join_kernel = cv::getStructuringElement(cv::MORPH_RECT, cv::Size(5, 9));
};

MotionDetector::MotionDetector(const MotionOptions& options)
    : options_(options), impl_(std::make_shared<Impl>()) {
  impl_->mog2 = cv::createBackgroundSubtractorMOG2(options_.history, options_.var_threshold,
                                                   /*detectShadows=*/false);
}

std::vector<cv::Rect> MotionDetector::update(const cv::Mat& bgr) {
  if (bgr.empty()) return {};
  Impl& m = *impl_;
  cv::resize(bgr, m.small, cv::Size(), options_.scale, options_.scale, cv::INTER_AREA);
  cv::cvtColor(m.small, m.gray, cv::COLOR_BGR2GRAY);
  m.mog2->apply(m.gray, m.mask);
  // Speckle (sensor noise, compression) out; then join a person's limbs into one blob.
  cv::morphologyEx(m.mask, m.mask, cv::MORPH_OPEN, m.open_kernel);
  foreground_fraction_ =
      static_cast<double>(cv::countNonZero(m.mask)) / std::max(1, m.mask.rows * m.mask.cols);
  cv::dilate(m.mask, m.mask, m.join_kernel);
  cv::Mat labels, stats, centroids;
  const int n = cv::connectedComponentsWithStats(m.mask, labels, stats, centroids, 8, CV_32S);
  const double min_area_small = options_.min_area_px * options_.scale * options_.scale;
  const double inv = 1.0 / options_.scale;
  std::vector<cv::Rect> blobs;
  for (int i = 1; i < n; ++i) {
    if (stats.at<int>(i, cv::CC_STAT_AREA) < min_area_small) continue;
    const int x = stats.at<int>(i, cv::CC_STAT_LEFT), y = stats.at<int>(i, cv::CC_STAT_TOP);
    const int w = stats.at<int>(i, cv::CC_STAT_WIDTH), h = stats.at<int>(i, cv::CC_STAT_HEIGHT);
    cv::Rect full(static_cast<int>(std::floor(x * inv)), static_cast<int>(std::floor(y * inv)),
                  static_cast<int>(std::ceil(w * inv)), static_cast<int>(std::ceil(h * inv)));
    blobs.push_back(full & cv::Rect(0, 0, bgr.cols, bgr.rows));
  }
  return blobs;
}

std::vector<cv::Rect> merge_regions(const std::vector<cv::Rect>& rects, double padding,
                                    cv::Size frame) {
  const cv::Rect bounds(0, 0, frame.width, frame.height);
  std::vector<cv::Rect> out;
  for (const cv::Rect& r : rects) {
    const int dx = static_cast<int>(r.width * padding / 2) + 16;
    const int dy = static_cast<int>(r.height * padding / 2) + 16;
    const cv::Rect grown =
        cv::Rect(r.x - dx, r.y - dy, r.width + 2 * dx, r.height + 2 * dy) & bounds;
    if (!grown.empty()) out.push_back(grown);
  }
  for (bool merged = true; merged;) {
    merged = false;
    for (size_t i = 0; i < out.size() && !merged; ++i) {
      for (size_t j = i + 1; j < out.size(); ++j) {
        if ((out[i] & out[j]).area() > 0) {
          out[i] |= out[j];
          out.erase(out.begin() + static_cast<std::ptrdiff_t>(j));
          merged = true;
          break;
        }
      }
    }
  }
  return out;
}

DetectionPlan plan_detection(const MotionOptions& options, int64_t frame_index, cv::Size frame,
                             const std::vector<cv::Rect>& moving, const std::vector<Box>& tracks,
                             int64_t frames_since_full) {
  DetectionPlan plan;
  if (!options.enabled || frame_index < options.warmup_frames ||
      (options.full_frame_every > 0 && frames_since_full >= options.full_frame_every)) {
    plan.mode = DetectionPlan::Mode::kFullFrame;
    return plan;
  }
  std::vector<cv::Rect> rects = moving;
  for (const Box& b : tracks) {
    rects.emplace_back(static_cast<int>(std::floor(b.x)), static_cast<int>(std::floor(b.y)),
                       static_cast<int>(std::ceil(b.w)), static_cast<int>(std::ceil(b.h)));
  }
  plan.regions = merge_regions(rects, options.roi_padding, frame);
  if (plan.regions.empty()) {
    plan.mode = DetectionPlan::Mode::kSkip;
    return plan;
  }
  double area = 0;
  for (const cv::Rect& r : plan.regions) area += r.area();
  if (area > options.max_roi_fraction * frame.area()) {
    plan.mode = DetectionPlan::Mode::kFullFrame;
    plan.regions.clear();
    return plan;
  }
  plan.mode = DetectionPlan::Mode::kRegions;
  return plan;
}

}  // namespace vigil::vision
