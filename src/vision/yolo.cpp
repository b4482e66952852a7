#include "vision/yolo.h"

#include <algorithm>
#include <opencv2/dnn.hpp>
#include <opencv2/imgproc.hpp>

#include "base/error.h"

namespace vigil::vision {

YoloLayout parse_yolo_layout(const std::string& text) {
  if (text == "auto") return YoloLayout::kAuto;
  if (text == "yolov5") return YoloLayout::kV5;
  if (text == "yolov8") return YoloLayout::kV8;
  fail("yolo layout \"{}\": expected auto, yolov5 or yolov8", printable(text));
}

const char* yolo_layout_name(YoloLayout layout) {
  switch (layout) {
    case YoloLayout::kAuto:
      return "auto";
    case YoloLayout::kV5:
      return "yolov5";
    case YoloLayout::kV8:
      return "yolov8";
  }
  return "?";
}

Letterbox letterbox(const cv::Mat& bgr, cv::Size input, cv::Mat& out) {
  Letterbox lb;
  lb.scale = std::min(static_cast<double>(input.width) / bgr.cols,
                      static_cast<double>(input.height) / bgr.rows);
  const int w = std::max(1, static_cast<int>(std::round(bgr.cols * lb.scale)));
  const int h = std::max(1, static_cast<int>(std::round(bgr.rows * lb.scale)));
  lb.pad_x = (input.width - w) / 2;
  lb.pad_y = (input.height - h) / 2;
  out.create(input, bgr.type());
  out.setTo(cv::Scalar::all(114));
  cv::Mat inner = out(cv::Rect(static_cast<int>(lb.pad_x), static_cast<int>(lb.pad_y), w, h));
  cv::resize(bgr, inner, inner.size(), 0, 0, lb.scale < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
  return lb;
}

Box unletterbox(const Box& box, const Letterbox& lb, cv::Size frame) {
  const double inv = 1.0 / lb.scale;
  const Box mapped{static_cast<float>((box.x - lb.pad_x) * inv),
                   static_cast<float>((box.y - lb.pad_y) * inv), static_cast<float>(box.w * inv),
                   static_cast<float>(box.h * inv)};
  return clip_box(mapped, static_cast<float>(frame.width), static_cast<float>(frame.height));
}

namespace {

// Rows x cols view of a 2-D or (1, a, b) 3-D blob.
cv::Mat as_2d(const cv::Mat& output) {
  if (output.depth() != CV_32F)
    fail("yolo output: expected float32, got OpenCV depth {}", output.depth());
  if (output.dims == 2) return output;
  if (output.dims == 3 && output.size[0] == 1) {
    return cv::Mat(output.size[1], output.size[2], CV_32F, const_cast<uchar*>(output.ptr()));
  }
  std::string shape;
  for (int i = 0; i < output.dims; ++i) {
    if (i) shape += 'x';
    shape += std::to_string(output.size[i]);
  }
  fail("yolo output shape {}: expected [1, N, 5+C] (yolov5) or [1, 4+C, N] (yolov8)", shape);
}

}  // namespace

YoloLayout resolve_yolo_layout(const cv::Mat& output, YoloLayout requested, int num_classes) {
  const cv::Mat m = as_2d(output);
  const int a = m.rows, b = m.cols;
  const bool fits_v5 = b >= 6 && (num_classes <= 0 || b == 5 + num_classes);
  const bool fits_v8 = a >= 5 && (num_classes <= 0 || a == 4 + num_classes);
  const char* expected = nullptr;
  switch (requested) {
    case YoloLayout::kV5:
      if (fits_v5) return YoloLayout::kV5;
      expected = "yolov5 [N, 5+C]";
      break;
    case YoloLayout::kV8:
      if (fits_v8) return YoloLayout::kV8;
      expected = "yolov8 [4+C, N]";
      break;
    case YoloLayout::kAuto:
      if (fits_v5 && fits_v8) return a < b ? YoloLayout::kV8 : YoloLayout::kV5;
      if (fits_v8) return YoloLayout::kV8;
      if (fits_v5) return YoloLayout::kV5;
      expected = "yolov5 [N, 5+C] or yolov8 [4+C, N]";
      break;
  }
  fail("yolo output shape {}x{} does not fit {}{}", a, b, expected,
       num_classes > 0 ? fmt::format(" with {} classes", num_classes) : std::string());
}

std::vector<Detection> decode_yolo(const cv::Mat& output, const YoloDecodeOptions& options,
                                   const Letterbox& lb, cv::Size frame) {
  const YoloLayout layout = resolve_yolo_layout(output, options.layout, options.num_classes);
  const cv::Mat m = as_2d(output);
  // Normalize to one candidate per row: (cx, cy, w, h, [obj], classes...).
  cv::Mat rows = layout == YoloLayout::kV8 ? cv::Mat(m.t()) : m;
  const int class_offset = layout == YoloLayout::kV5 ? 5 : 4;
  const int num_classes = rows.cols - class_offset;
  std::vector<Detection> found;
  for (int r = 0; r < rows.rows; ++r) {
    const float* row = rows.ptr<float>(r);
    const float objectness = layout == YoloLayout::kV5 ? row[4] : 1.0f;
    if (objectness < options.conf_threshold) continue;
    const float* scores = row + class_offset;
    const int best = static_cast<int>(std::max_element(scores, scores + num_classes) - scores);
    const float score = objectness * scores[best];
    if (!(score >= options.conf_threshold)) continue;  // also drops NaN
    const Box in_input{row[0] - row[2] / 2, row[1] - row[3] / 2, row[2], row[3]};
    const Box box = unletterbox(in_input, lb, frame);
    if (box.area() <= 0) continue;
    found.push_back({box, std::min(score, 1.0f), best});
  }
  return nms_per_class(std::move(found), options.nms_iou);
}

const std::vector<std::string>& coco_class_names() {
  static const std::vector<std::string> kNames = {"person",        "bicycle",      "car",
                                                  "motorcycle",    "airplane",     "bus",
                                                  "train",         "truck",        "boat",
                                                  "traffic light", "fire hydrant", "stop sign",
                                                  "parking meter", "bench",        "bird",
                                                  "cat",           "dog",          "horse",
                                                  "sheep",         "cow",          "elephant",
                                                  "bear",          "zebra",        "giraffe",
                                                  "backpack",      "umbrella",     "handbag",
                                                  "tie",           "suitcase",     "frisbee",
                                                  "skis",          "snowboard",    "sports ball",
                                                  "kite",          "baseball bat", "baseball glove",
                                                  "skateboard",    "surfboard",    "tennis racket",
                                                  "bottle",        "wine glass",   "cup",
                                                  "fork",          "knife",        "spoon",
                                                  "bowl",          "banana",       "apple",
                                                  "sandwich",      "orange",       "broccoli",
                                                  "carrot",        "hot dog",      "pizza",
                                                  "donut",         "cake",         "chair",
                                                  "couch",         "potted plant", "bed",
                                                  "dining table",  "toilet",       "tv",
                                                  "laptop",        "mouse",        "remote",
                                                  "keyboard",      "cell phone",   "microwave",
                                                  "oven",          "toaster",      "sink",
                                                  "refrigerator",  "book",         "clock",
                                                  "vase",          "scissors",     "teddy bear",
                                                  "hair drier",    "toothbrush"};
  return kNames;
}

struct OnnxYoloDetector::Impl {
  cv::dnn::Net net;
  YoloLayout layout = YoloLayout::kAuto;
  bool checked = false;
};

OnnxYoloDetector::OnnxYoloDetector(const OnnxOptions& options, float nms_iou)
    : options_(options), nms_iou_(nms_iou), impl_(std::make_shared<Impl>()) {
  names_ = options_.classes.empty() ? coco_class_names() : options_.classes;
  impl_->layout = parse_yolo_layout(options_.layout);
  try {
    impl_->net = cv::dnn::readNetFromONNX(options_.model);
  } catch (const cv::Exception& e) {
    std::string why = e.err.empty() ? e.what() : e.err;
    std::replace(why.begin(), why.end(), '\n', ' ');
    fail("onnx model {}: OpenCV DNN cannot load it ({})", options_.model, why);
  }
  if (impl_->net.empty()) fail("onnx model {}: OpenCV DNN loaded an empty network", options_.model);
  impl_->net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
  impl_->net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
}

std::string OnnxYoloDetector::describe() const {
  return fmt::format("onnx {} ({} input {}x{}, {} classes)", options_.model,
                     yolo_layout_name(impl_->layout), options_.input_width, options_.input_height,
                     names_.size());
}

std::vector<Detection> OnnxYoloDetector::detect(const cv::Mat& bgr, const std::vector<cv::Rect>&) {
  if (bgr.empty()) return {};
  cv::Mat boxed;
  const Letterbox lb = letterbox(bgr, cv::Size(options_.input_width, options_.input_height), boxed);
  const cv::Mat blob = cv::dnn::blobFromImage(boxed, 1.0 / 255.0, boxed.size(), cv::Scalar(),
                                              /*swapRB=*/true, /*crop=*/false, CV_32F);
  cv::Mat output;
  try {
    impl_->net.setInput(blob);
    output = impl_->net.forward();
  } catch (const cv::Exception& e) {
    std::string why = e.err.empty() ? e.what() : e.err;
    std::replace(why.begin(), why.end(), '\n', ' ');
    fail("onnx model {}: inference failed ({})", options_.model, why);
  }
  YoloDecodeOptions decode;
  decode.layout = impl_->layout;
  decode.num_classes = static_cast<int>(names_.size());
  decode.conf_threshold = options_.conf_threshold;
  decode.nms_iou = nms_iou_;
  if (!impl_->checked) {
    // Pin the layout once, so every frame is decoded the same way.
    impl_->layout = resolve_yolo_layout(output, impl_->layout, decode.num_classes);
    decode.layout = impl_->layout;
    impl_->checked = true;
  }
  return decode_yolo(output, decode, lb, bgr.size());
}

}  // namespace vigil::vision
