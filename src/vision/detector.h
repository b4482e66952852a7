// Object detectors behind one interface. Two implementations: OpenCV's HOG+SVM people detector
// (no weights needed; the default) and YOLO-family ONNX models run by OpenCV DNN (yolo.h).
// A detector may be told to look only inside some regions (the motion gate's moving areas);
// detectors that cannot crop usefully look at the whole frame.
#pragma once

#include <memory>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "vision/config.h"
#include "vision/geometry.h"

namespace vigil::vision {

struct Detection {
  Box box;           // frame pixels
  float score = 0;   // 0..1, higher is surer
  int class_id = 0;  // index into Detector::class_names()
};

class Detector {
 public:
  virtual ~Detector() = default;
  // Detects in `bgr`. When `regions` is non-empty, only objects inside them need be found (a
  // detector may still look at the whole frame). Boxes are in full-frame pixels.
  virtual std::vector<Detection> detect(const cv::Mat& bgr,
                                        const std::vector<cv::Rect>& regions) = 0;
  virtual const std::vector<std::string>& class_names() const = 0;
  // Whether detect() makes use of `regions` (so the motion gate should compute them).
  virtual bool uses_regions() const = 0;
  virtual std::string describe() const = 0;
};

// Builds the configured detector ("hog" or "onnx"); throws vigil::Error naming the model file
// when it cannot be loaded.
std::unique_ptr<Detector> make_detector(const DetectorOptions& options);

// Greedy non-maximum suppression within each class: of two boxes of the same class overlapping
// by more than `iou_threshold`, the lower-scoring one goes. Boxes of different classes never
// suppress each other. Output is sorted by score, highest first.
std::vector<Detection> nms_per_class(std::vector<Detection> detections, float iou_threshold);

// The HOG people detector. Confidence is the logistic of twice the SVM margin (margin 0 -> 0.5,
// 1 -> 0.88), which orders detections but is not calibrated.
class HogDetector final : public Detector {
 public:
  HogDetector(const HogOptions& options, float nms_iou);
  std::vector<Detection> detect(const cv::Mat& bgr, const std::vector<cv::Rect>& regions) override;
  const std::vector<std::string>& class_names() const override { return names_; }
  bool uses_regions() const override { return true; }
  std::string describe() const override;

 private:
  void detect_in(const cv::Mat& image, const cv::Point& offset, double scale,
                 std::vector<Detection>& out);

  HogOptions options_;
  float nms_iou_;
  std::vector<std::string> names_{"person"};
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace vigil::vision
