// YOLO post-processing: decoding both output layouts, letterbox mapping, class-wise NMS, and
// the whole ONNX path through OpenCV DNN with tiny models built at test time (python3-onnx)
// whose outputs encode known boxes.
#include "vision/yolo.h"

#include <gtest/gtest.h>

#include <fstream>
#include <opencv2/core.hpp>

#include "base/error.h"
#include "vision_test_util.h"

namespace vigil::vision {
namespace {

using testing::TempDir;

// A box in network-input pixels for building outputs.
struct InBox {
  float cx, cy, w, h;
  int cls;
  float score, obj = 1;
};

cv::Mat v5_output(const std::vector<InBox>& boxes, int anchors, int classes) {
  const int sizes[3] = {1, anchors, 5 + classes};
  cv::Mat m(3, sizes, CV_32F, cv::Scalar(0));
  float* p = m.ptr<float>();
  for (size_t i = 0; i < boxes.size(); ++i) {
    float* row = p + i * (5 + classes);
    row[0] = boxes[i].cx, row[1] = boxes[i].cy, row[2] = boxes[i].w, row[3] = boxes[i].h;
    row[4] = boxes[i].obj;
    row[5 + boxes[i].cls] = boxes[i].score;
  }
  return m;
}

cv::Mat v8_output(const std::vector<InBox>& boxes, int anchors, int classes) {
  const int sizes[3] = {1, 4 + classes, anchors};
  cv::Mat m(3, sizes, CV_32F, cv::Scalar(0));
  float* p = m.ptr<float>();
  for (size_t i = 0; i < boxes.size(); ++i) {
    p[0 * anchors + i] = boxes[i].cx;
    p[1 * anchors + i] = boxes[i].cy;
    p[2 * anchors + i] = boxes[i].w;
    p[3 * anchors + i] = boxes[i].h;
    p[(4 + boxes[i].cls) * anchors + i] = boxes[i].score;
  }
  return m;
}

// The shared scene: in a 64x64 input, A (class 0) and B (class 1) overlap but differ in class;
// C (class 0) overlaps A and scores lower; D scores under the threshold; E is far away.
const std::vector<InBox> kBoxes = {
    {20, 20, 10, 10, 0, 0.9f, 0.9f},  // A: 0.81
    {21, 20, 10, 10, 1, 0.8f, 0.9f},  // B: 0.72, other class -> kept
    {22, 21, 10, 10, 0, 0.7f, 0.9f},  // C: 0.63, IoU with A ~0.6 -> suppressed
    {40, 40, 8, 8, 2, 0.1f, 0.9f},    // D: 0.09 -> below 0.25
    {50, 30, 6, 12, 2, 0.95f, 1.0f},  // E: 0.95
};

// A 128x96 frame fitted into 64x64: scale 0.5, 64x48, 8 px padding above and below.
const cv::Size kFrame(128, 96);

void expect_scene(const std::vector<Detection>& dets, bool with_objectness) {
  ASSERT_EQ(dets.size(), 3u);
  // Sorted by score: E, A, B.
  EXPECT_EQ(dets[0].class_id, 2);
  EXPECT_EQ(dets[1].class_id, 0);
  EXPECT_EQ(dets[2].class_id, 1);
  EXPECT_NEAR(dets[0].score, 0.95f, 1e-5);
  EXPECT_NEAR(dets[1].score, with_objectness ? 0.81f : 0.9f, 1e-5);
  // A: input (15, 15, 10, 10) -> frame ((15 - 0) / 0.5, (15 - 8) / 0.5, 20, 20).
  EXPECT_NEAR(dets[1].box.x, 30, 1e-3);
  EXPECT_NEAR(dets[1].box.y, 14, 1e-3);
  EXPECT_NEAR(dets[1].box.w, 20, 1e-3);
  EXPECT_NEAR(dets[1].box.h, 20, 1e-3);
  // E: (47, 24, 6, 12) -> (94, 32, 12, 24).
  EXPECT_NEAR(dets[0].box.x, 94, 1e-3);
  EXPECT_NEAR(dets[0].box.y, 32, 1e-3);
  EXPECT_NEAR(dets[0].box.h, 24, 1e-3);
}

TEST(Letterbox, FitsAndMapsBack) {
  cv::Mat frame(kFrame, CV_8UC3, cv::Scalar(10, 20, 30)), boxed;
  const Letterbox lb = letterbox(frame, {64, 64}, boxed);
  EXPECT_EQ(boxed.size(), cv::Size(64, 64));
  EXPECT_DOUBLE_EQ(lb.scale, 0.5);
  EXPECT_DOUBLE_EQ(lb.pad_x, 0);
  EXPECT_DOUBLE_EQ(lb.pad_y, 8);
  EXPECT_EQ(boxed.at<cv::Vec3b>(2, 30), cv::Vec3b(114, 114, 114));  // padding
  EXPECT_EQ(boxed.at<cv::Vec3b>(30, 30), cv::Vec3b(10, 20, 30));    // image
  const Box back = unletterbox({0, 8, 64, 48}, lb, kFrame);
  EXPECT_FLOAT_EQ(back.w, 128);
  EXPECT_FLOAT_EQ(back.h, 96);
  // Boxes hanging over the edge are clipped to the frame.
  const Box clipped = unletterbox({-10, 0, 20, 20}, lb, kFrame);
  EXPECT_FLOAT_EQ(clipped.x, 0);
  EXPECT_FLOAT_EQ(clipped.y, 0);
}

TEST(YoloDecode, Yolov5Layout) {
  YoloDecodeOptions o;
  o.layout = YoloLayout::kV5;
  const Letterbox lb{0.5, 0, 8};
  expect_scene(decode_yolo(v5_output(kBoxes, 16, 3), o, lb, kFrame), true);
  o.layout = YoloLayout::kAuto;
  o.num_classes = 3;
  expect_scene(decode_yolo(v5_output(kBoxes, 16, 3), o, lb, kFrame), true);
}

TEST(YoloDecode, Yolov8Layout) {
  YoloDecodeOptions o;
  o.layout = YoloLayout::kV8;
  const Letterbox lb{0.5, 0, 8};
  expect_scene(decode_yolo(v8_output(kBoxes, 16, 3), o, lb, kFrame), false);
  o.layout = YoloLayout::kAuto;  // 7 x 16: channels first
  expect_scene(decode_yolo(v8_output(kBoxes, 16, 3), o, lb, kFrame), false);
}

TEST(YoloDecode, ObjectnessGatesYolov5Scores) {
  YoloDecodeOptions o;
  o.layout = YoloLayout::kV5;
  const std::vector<InBox> weak = {{20, 20, 10, 10, 0, 0.99f, 0.2f}};  // 0.198 < 0.25
  EXPECT_TRUE(decode_yolo(v5_output(weak, 4, 2), o, {1, 0, 0}, {64, 64}).empty());
}

TEST(YoloDecode, ShapeMismatchesAreErrors) {
  YoloDecodeOptions o;
  o.layout = YoloLayout::kV5;
  o.num_classes = 5;  // the output has 3
  EXPECT_THROW(decode_yolo(v5_output(kBoxes, 16, 3), o, {1, 0, 0}, {64, 64}), Error);
  const int bad_sizes[4] = {1, 2, 3, 4};
  const cv::Mat four_d(4, bad_sizes, CV_32F, cv::Scalar(0));
  EXPECT_THROW(decode_yolo(four_d, YoloDecodeOptions{}, {1, 0, 0}, {64, 64}), Error);
  EXPECT_THROW(parse_yolo_layout("yolov9000"), Error);
}

TEST(Nms, IsPerClass) {
  std::vector<Detection> dets = {{{0, 0, 10, 10}, 0.9f, 0},
                                 {{1, 0, 10, 10}, 0.8f, 0},
                                 {{1, 0, 10, 10}, 0.7f, 1},
                                 {{50, 50, 10, 10}, 0.6f, 0}};
  const auto kept = nms_per_class(dets, 0.5f);
  ASSERT_EQ(kept.size(), 3u);
  EXPECT_FLOAT_EQ(kept[0].score, 0.9f);
  EXPECT_EQ(kept[1].class_id, 1);
  EXPECT_FLOAT_EQ(kept[2].score, 0.6f);
}

class OnnxModel : public ::testing::Test {
 protected:
  // The models are built once for the suite (starting python with onnx takes a second).
  static void SetUpTestSuite() {
    python_ = testing::python_with_onnx();
    if (python_.empty()) return;
    dir_ = new TempDir("onnx");
    for (const std::string layout : {"yolov5", "yolov8"}) {
      std::string cmd = python_ + " " + VIGIL_SOURCE_DIR + "/tests/vision/make_yolo_onnx.py " +
                        dir_->file(layout + ".onnx") + " " + layout + " 64 3 16";
      for (const InBox& b : kBoxes) {
        cmd += fmt::format(" {},{},{},{},{},{},{}", b.cx, b.cy, b.w, b.h, b.cls, b.score, b.obj);
      }
      built_ = std::system(cmd.c_str()) == 0;
      if (!built_) break;
    }
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    if (python_.empty())
      GTEST_SKIP() << "python3 with the onnx module (Debian: python3-onnx) is missing";
    ASSERT_TRUE(built_) << "make_yolo_onnx.py failed";
  }

  static std::string build(const std::string& layout) { return dir_->file(layout + ".onnx"); }

  std::vector<Detection> run(const std::string& layout, const std::string& requested) {
    OnnxOptions o;
    o.model = build(layout);
    o.layout = requested;
    o.input_width = o.input_height = 64;
    o.classes = {"person", "car", "bag"};
    OnnxYoloDetector detector(o, 0.45f);
    const cv::Mat frame(kFrame, CV_8UC3, cv::Scalar(90, 90, 90));
    return detector.detect(frame, {});
  }

  static inline std::string python_;
  static inline TempDir* dir_ = nullptr;
  static inline bool built_ = false;
};

TEST_F(OnnxModel, Yolov5ThroughOpenCvDnn) {
  expect_scene(run("yolov5", "yolov5"), true);
  expect_scene(run("yolov5", "auto"), true);
}

TEST_F(OnnxModel, Yolov8ThroughOpenCvDnn) {
  expect_scene(run("yolov8", "yolov8"), false);
  expect_scene(run("yolov8", "auto"), false);
}

TEST_F(OnnxModel, WrongClassListIsAClearError) {
  OnnxOptions o;
  o.model = build("yolov8");
  o.input_width = o.input_height = 64;
  o.classes = {"person", "car"};  // the model has 3
  OnnxYoloDetector detector(o, 0.45f);
  try {
    detector.detect(cv::Mat(kFrame, CV_8UC3, cv::Scalar(0)), {});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("2 classes"), std::string::npos) << e.what();
  }
}

TEST(OnnxDetector, BrokenOrMissingModelFilesAreClearErrors) {
  TempDir dir("onnx-bad");
  { std::ofstream(dir.file("junk.onnx")) << "this is not a protobuf"; }
  for (const std::string& path : {dir.file("junk.onnx"), dir.file("missing.onnx")}) {
    OnnxOptions o;
    o.model = path;
    try {
      OnnxYoloDetector detector(o, 0.45f);
      FAIL() << "loaded " << path;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace vigil::vision
