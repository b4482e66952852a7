// YOLO-family ONNX detectors run by OpenCV DNN, and the post-processing they share: letterbox
// resize, decoding of the two common output layouts, mapping boxes back to the frame, and
// class-wise NMS.
//
// Layouts (batch 1; the leading batch axis may be absent):
//   yolov5: [1, N, 5 + C] rows of (cx, cy, w, h, objectness, C class scores); score = obj * cls
//   yolov8: [1, 4 + C, N] columns of (cx, cy, w, h, C class scores); score = cls (also YOLO11)
// Box coordinates are pixels of the letterboxed network input.
#pragma once

#include <memory>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "vision/config.h"
#include "vision/detector.h"

namespace vigil::vision {

enum class YoloLayout { kAuto, kV5, kV8 };

YoloLayout parse_yolo_layout(const std::string& text);  // auto | yolov5 | yolov8
const char* yolo_layout_name(YoloLayout layout);

// How a frame was fitted into the network input: uniform `scale`, then centred with padding.
struct Letterbox {
  double scale = 1;
  double pad_x = 0;  // pixels of padding left of the image
  double pad_y = 0;  // pixels of padding above the image
};

// Resizes `bgr` into `input` keeping its aspect ratio, centred on gray (114) padding.
Letterbox letterbox(const cv::Mat& bgr, cv::Size input, cv::Mat& out);

// Maps a box from network-input pixels back to the frame, clipped to `frame`.
Box unletterbox(const Box& box, const Letterbox& lb, cv::Size frame);

// Picks the layout of `output` (2-D or 3-D float blob). With `num_classes` > 0 the shape must
// fit it; without, yolov8 is assumed when the channel axis is the shorter one. Throws
// vigil::Error naming the shape when it fits neither layout.
YoloLayout resolve_yolo_layout(const cv::Mat& output, YoloLayout requested, int num_classes);

struct YoloDecodeOptions {
  YoloLayout layout = YoloLayout::kAuto;
  int num_classes = 0;  // 0: from the shape
  float conf_threshold = 0.25f;
  float nms_iou = 0.45f;
};

// Decodes one output blob into frame-space detections after class-wise NMS.
std::vector<Detection> decode_yolo(const cv::Mat& output, const YoloDecodeOptions& options,
                                   const Letterbox& lb, cv::Size frame);

// The 80 COCO class names, the default for models exported from the usual checkpoints.
const std::vector<std::string>& coco_class_names();

class OnnxYoloDetector final : public Detector {
 public:
  // Loads the model; throws vigil::Error naming the file when OpenCV cannot read it.
  OnnxYoloDetector(const OnnxOptions& options, float nms_iou);
  std::vector<Detection> detect(const cv::Mat& bgr, const std::vector<cv::Rect>& regions) override;
  const std::vector<std::string>& class_names() const override { return names_; }
  bool uses_regions() const override { return false; }
  std::string describe() const override;

 private:
  OnnxOptions options_;
  float nms_iou_;
  std::vector<std::string> names_;
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace vigil::vision
