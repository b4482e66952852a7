#include "vision/detector.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

#include "base/error.h"
#include "vision/yolo.h"

namespace vigil::vision {

std::vector<Detection> nms_per_class(std::vector<Detection> detections, float iou_threshold) {
  std::stable_sort(detections.begin(), detections.end(),
                   [](const Detection& a, const Detection& b) { return a.score > b.score; });
  std::vector<Detection> kept;
  kept.reserve(detections.size());
  for (const Detection& d : detections) {
    const bool suppressed = std::any_of(kept.begin(), kept.end(), [&](const Detection& k) {
      return k.class_id == d.class_id && iou(k.box, d.box) > iou_threshold;
    });
    if (!suppressed) kept.push_back(d);
  }
  return kept;
}

struct HogDetector::Impl {
  cv::HOGDescriptor hog;
};

HogDetector::HogDetector(const HogOptions& options, float nms_iou)
    : options_(options), nms_iou_(nms_iou), impl_(std::make_shared<Impl>()) {
  if (options_.model == "inria") {
    impl_->hog.setSVMDetector(cv::HOGDescriptor::getDefaultPeopleDetector());
  } else if (options_.model == "daimler") {
    impl_->hog =
        cv::HOGDescriptor(cv::Size(48, 96), cv::Size(16, 16), cv::Size(8, 8), cv::Size(8, 8), 9);
    impl_->hog.setSVMDetector(cv::HOGDescriptor::getDaimlerPeopleDetector());
  } else {
    fail("detector.hog.model \"{}\": expected daimler or inria", printable(options_.model));
  }
  impl_->hog.nlevels = options_.max_levels;
}

std::string HogDetector::describe() const {
  return fmt::format(
      "hog {} (people, window {}x{}, scale step {}, {} levels, stride {}, input x{})",
      options_.model, impl_->hog.winSize.width, impl_->hog.winSize.height, options_.scale_step,
      options_.max_levels, options_.win_stride, options_.input_scale);
}

void HogDetector::detect_in(const cv::Mat& image, const cv::Point& offset, double scale,
                            std::vector<Detection>& out) {
  const cv::Size win = impl_->hog.winSize;
  if (image.cols < win.width || image.rows < win.height) return;
  std::vector<cv::Rect> found;
  std::vector<double> weights;
  impl_->hog.detectMultiScale(image, found, weights, options_.hit_threshold,
                              cv::Size(options_.win_stride, options_.win_stride), cv::Size(0, 0),
                              options_.scale_step, options_.group_threshold);
  for (size_t i = 0; i < found.size(); ++i) {
    const cv::Rect& r = found[i];
    // Both windows hold a person of 3/4 of their height with margins around; trim them so the
    // box (and its bottom-centre reference point, where the feet are) hugs the body.
    const float inv = static_cast<float>(1.0 / scale);
    const float w = static_cast<float>(r.width), h = static_cast<float>(r.height);
    Box box{(static_cast<float>(r.x) + 0.2f * w) * inv + static_cast<float>(offset.x),
            (static_cast<float>(r.y) + 0.125f * h) * inv + static_cast<float>(offset.y),
            0.6f * w * inv, 0.75f * h * inv};
    const double margin = i < weights.size() ? weights[i] : 0.0;
    const float score = static_cast<float>(1.0 / (1.0 + std::exp(-2.0 * margin)));
    out.push_back({box, score, 0});
  }
}

std::vector<Detection> HogDetector::detect(const cv::Mat& bgr,
                                           const std::vector<cv::Rect>& regions) {
  if (bgr.empty()) return {};
  cv::Mat gray;
  cv::cvtColor(bgr, gray, cv::COLOR_BGR2GRAY);
  const double scale = options_.input_scale;
  const cv::Rect frame(0, 0, gray.cols, gray.rows);
  std::vector<cv::Rect> areas = regions;
  if (areas.empty()) areas.push_back(frame);
  // Each region must hold at least one detection window (plus a stride of slack).
  const cv::Size min_size(
      static_cast<int>(std::ceil((impl_->hog.winSize.width + 2 * options_.win_stride) / scale)),
      static_cast<int>(std::ceil((impl_->hog.winSize.height + 2 * options_.win_stride) / scale)));
  std::vector<Detection> found;
  for (cv::Rect area : areas) {
    if (area.width < min_size.width) {
      area.x -= (min_size.width - area.width) / 2;
      area.width = min_size.width;
    }
    if (area.height < min_size.height) {
      area.y -= (min_size.height - area.height) / 2;
      area.height = min_size.height;
    }
    area &= frame;
    if (area.empty()) continue;
    cv::Mat crop = gray(area);
    if (scale != 1.0) {
      cv::Mat resized;
      cv::resize(crop, resized, cv::Size(), scale, scale,
                 scale < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
      detect_in(resized, area.tl(), scale, found);
    } else {
      detect_in(crop.clone(), area.tl(), 1.0, found);
    }
  }
  return nms_per_class(std::move(found), nms_iou_);
}

std::unique_ptr<Detector> make_detector(const DetectorOptions& options) {
  if (options.type == "hog") return std::make_unique<HogDetector>(options.hog, options.nms_iou);
  if (options.type == "onnx")
    return std::make_unique<OnnxYoloDetector>(options.onnx, options.nms_iou);
  fail("detector.type \"{}\": expected hog or onnx", printable(options.type));
}

}  // namespace vigil::vision
