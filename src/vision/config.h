// Perception configuration: one YAML file (see configs/vtest.yaml and docs/PERCEPTION.md) with
// sections source, detector, motion, tracker, zones, rules, pipeline. Every section and key is
// optional; the defaults below are what an absent key means. Unknown keys are errors, so a typo
// never silently falls back to a default.
#pragma once

#include <string>
#include <vector>

#include "vision/event.h"
#include "vision/geometry.h"

namespace vigil::vision {

struct SourceOptions {
  // File path, rtsp:// rtsps:// http:// https:// URL, V4L2 device (/dev/videoN or v4l2:N), or a
  // folder of images (played in name order).
  std::string uri;
  std::string name = "cam0";         // camera name carried by events
  double fps = 0;                    // 0: from the stream; image folders then use 10 fps
  bool loop = false;                 // files and folders: start over at the end
  bool realtime = false;             // files and folders: pace reads to their timestamps
  int max_reconnects = 5;            // live sources; -1 retries forever
  double reconnect_initial_s = 0.5;  // first backoff; doubles per failed attempt
  double reconnect_max_s = 10;       // backoff ceiling
  double open_timeout_s = 10;        // network open/connect limit
  double stall_timeout_s = 5;        // no frame for this long on a live source = stalled
};

struct HogOptions {
  // SVM weights shipped with OpenCV: "daimler" (48x96 window, finds people from ~70 px tall)
  // or "inria" (OpenCV's getDefaultPeopleDetector, 64x128 window, people from ~100 px).
  std::string model = "daimler";
  double hit_threshold = 0.0;  // SVM margin; higher = fewer, surer detections
  double scale_step = 1.1;     // pyramid step (OpenCV uses 1.05; 1.1 is ~2x faster)
  int win_stride = 8;          // pixels
  int max_levels = 12;         // pyramid levels: 1.1^11 ~ 2.9x the window height
  int group_threshold = 2;     // OpenCV groupRectangles: a hit needs > this many neighbours
  double input_scale = 1.0;    // resize factor before detection (people must stay >= window)
};

struct OnnxOptions {
  std::string model;            // .onnx path (relative paths: to the config file)
  std::string layout = "auto";  // yolov5 | yolov8 | auto (from the output shape)
  int input_width = 640;
  int input_height = 640;
  float conf_threshold = 0.25f;      // keep boxes scoring at least this (v5: obj * class)
  std::vector<std::string> classes;  // class names in model order (COCO-80 when empty)
};

struct DetectorOptions {
  std::string type = "hog";  // hog | onnx
  float nms_iou = 0.45f;     // class-wise non-maximum suppression
  HogOptions hog;
  OnnxOptions onnx;
};

struct MotionOptions {
  bool enabled = true;
  double scale = 0.5;             // MOG2 runs on the frame resized by this
  int history = 300;              // MOG2 history, frames
  double var_threshold = 25;      // MOG2 Mahalanobis threshold
  double min_area_px = 300;       // smallest moving blob worth detecting (full-res pixels^2)
  double roi_padding = 0.3;       // grow each region by this fraction of its size (+16 px)
  double max_roi_fraction = 0.6;  // regions covering more than this of the frame: whole frame
  int full_frame_every = 50;      // whole-frame detection at least every N frames (0: never)
  int warmup_frames = 10;         // whole-frame detection while the background model learns
};

struct TrackerOptions {
  float high_threshold = 0.6f;       // first association stage takes detections >= this
  float low_threshold = 0.2f;        // second stage takes [low, high)
  float new_track_threshold = 0.7f;  // an unmatched detection >= this starts a track (birth)
  float match_iou = 0.2f;            // stage 1 minimum IoU (ByteTrack match_thresh 0.8)
  float low_match_iou = 0.5f;        // stage 2 minimum IoU
  float unconfirmed_match_iou = 0.3f;
  int min_hits = 2;              // matched frames before a track is confirmed (output)
  int max_lost_frames = 30;      // a lost track is removed after this many frames (loss)
  int coast_frames = 2;          // lost tracks stay in the output (predicted) this long
  bool class_aware = true;       // never match a detection to a track of another class
  bool fuse_score = true;        // stage 1 cost = 1 - IoU * score
  bool low_revives_lost = true;  // stage 2 also offers weak detections to lost tracks
};

struct ZoneSpec {
  std::string name;
  std::vector<Point> points;  // polygon (>= 3) or line (exactly 2)
  bool is_line = false;
  bool normalized = false;  // points in [0, 1] of the frame size
};

struct RuleSpec {
  std::string name;
  EventType type = EventType::kIntrusion;
  std::string zone;                  // zone or line name ("" for object_left: whole frame)
  std::vector<std::string> classes;  // class filter; empty = all
  int inertia_frames = 3;            // frames a state change must persist (anti-flicker)
  double dwell_s = 10;               // loitering
  int min_count = 3;                 // crowding
  double min_duration_s = 2;         // crowding
  std::string direction = "any";     // line crossing: any | left_to_right | right_to_left
  double hysteresis_px = 6;          // line crossing dead band on each side of the line
  double stationary_s = 10;          // object_left
  double max_motion_px = 12;         // object_left: drift still counted as stationary
  double background_s = 2;           // object_left: tracks born earlier are scene furniture
};

struct PipelineOptions {
  size_t frame_queue = 1;            // decoded frames waiting for perception (live: latest wins)
  size_t result_queue = 8;           // perception results waiting for the consumer
  size_t event_queue = 256;          // events waiting for the consumer
  std::string drop_policy = "auto";  // auto | latest | block ("auto": live latest, files block)
  std::string snapshot_dir;          // write a JPEG per event start here ("" = none)
  int opencv_threads = 1;            // OpenCV's own worker threads (1 = run on the calling thread)
};

struct VisionConfig {
  SourceOptions source;
  DetectorOptions detector;
  MotionOptions motion;
  TrackerOptions tracker;
  std::vector<ZoneSpec> zones;
  std::vector<RuleSpec> rules;
  PipelineOptions pipeline;
};

// Parses YAML text; `origin` names the file in errors ("path:line: key: what was expected").
VisionConfig parse_config(const std::string& yaml_text, const std::string& origin);
// Reads and parses a file; relative model/snapshot paths are resolved against its folder.
VisionConfig load_config(const std::string& path);
// Checks cross references and ranges (rules name existing zones of the right kind, ...).
void validate_config(const VisionConfig& config, const std::string& origin);

}  // namespace vigil::vision
