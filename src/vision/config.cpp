#include "vision/config.h"

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <set>

#include "base/error.h"
#include "base/file.h"
#include "base/yaml_section.h"

namespace vigil::vision {

namespace {

using Section = YamlSection;

void read_source(Section s, SourceOptions& o) {
  s.read("uri", o.uri);
  s.read("name", o.name);
  s.read_range("fps", o.fps, 0.0, 1000.0);
  s.read("loop", o.loop);
  s.read("realtime", o.realtime);
  s.read_range("max_reconnects", o.max_reconnects, -1, 1000000);
  s.read_range("reconnect_initial_s", o.reconnect_initial_s, 0.0, 3600.0);
  s.read_range("reconnect_max_s", o.reconnect_max_s, 0.0, 3600.0);
  s.read_range("open_timeout_s", o.open_timeout_s, 0.1, 3600.0);
  s.read_range("stall_timeout_s", o.stall_timeout_s, 0.1, 3600.0);
  s.finish();
}

void read_detector(Section s, DetectorOptions& o) {
  s.read("type", o.type);
  if (o.type != "hog" && o.type != "onnx") {
    fail("{}: \"{}\" is not a detector, expected hog or onnx",
         yaml_where(s.origin(), s.child("type"), s.child_path("type")), printable(o.type));
  }
  s.read_range("nms_iou", o.nms_iou, 0.0f, 1.0f);
  {
    Section h(s.child("hog"), s.child_path("hog"), s.origin());
    h.read("model", o.hog.model);
    if (o.hog.model != "daimler" && o.hog.model != "inria") {
      fail("{}: \"{}\" is not a HOG model, expected daimler or inria",
           yaml_where(s.origin(), h.child("model"), h.child_path("model")), printable(o.hog.model));
    }
    h.read_range("hit_threshold", o.hog.hit_threshold, -5.0, 5.0);
    h.read_range("scale_step", o.hog.scale_step, 1.01, 2.0);
    h.read_range("win_stride", o.hog.win_stride, 1, 64);
    h.read_range("max_levels", o.hog.max_levels, 1, 64);
    h.read_range("group_threshold", o.hog.group_threshold, 0, 20);
    h.read_range("input_scale", o.hog.input_scale, 0.1, 4.0);
    h.finish();
  }
  {
    Section n(s.child("onnx"), s.child_path("onnx"), s.origin());
    n.read("model", o.onnx.model);
    n.read("layout", o.onnx.layout);
    if (o.onnx.layout != "auto" && o.onnx.layout != "yolov5" && o.onnx.layout != "yolov8") {
      fail("{}: \"{}\" is not a layout, expected auto, yolov5 or yolov8",
           yaml_where(s.origin(), n.child("layout"), n.child_path("layout")),
           printable(o.onnx.layout));
    }
    n.read_range("input_width", o.onnx.input_width, 16, 4096);
    n.read_range("input_height", o.onnx.input_height, 16, 4096);
    n.read_range("conf_threshold", o.onnx.conf_threshold, 0.0f, 1.0f);
    n.read_strings("classes", o.onnx.classes);
    n.finish();
  }
  s.finish();
}

void read_motion(Section s, MotionOptions& o) {
  s.read("enabled", o.enabled);
  s.read_range("scale", o.scale, 0.05, 1.0);
  s.read_range("history", o.history, 1, 100000);
  s.read_range("var_threshold", o.var_threshold, 1.0, 1000.0);
  s.read_range("min_area_px", o.min_area_px, 0.0, 1e8);
  s.read_range("roi_padding", o.roi_padding, 0.0, 5.0);
  s.read_range("max_roi_fraction", o.max_roi_fraction, 0.0, 1.0);
  s.read_range("full_frame_every", o.full_frame_every, 0, 1000000);
  s.read_range("warmup_frames", o.warmup_frames, 0, 1000000);
  s.finish();
}

void read_tracker(Section s, TrackerOptions& o) {
  s.read_range("high_threshold", o.high_threshold, 0.0f, 1.0f);
  s.read_range("low_threshold", o.low_threshold, 0.0f, 1.0f);
  s.read_range("new_track_threshold", o.new_track_threshold, 0.0f, 1.0f);
  s.read_range("match_iou", o.match_iou, 0.0f, 1.0f);
  s.read_range("low_match_iou", o.low_match_iou, 0.0f, 1.0f);
  s.read_range("unconfirmed_match_iou", o.unconfirmed_match_iou, 0.0f, 1.0f);
  s.read_range("min_hits", o.min_hits, 1, 1000);
  s.read_range("max_lost_frames", o.max_lost_frames, 0, 100000);
  s.read_range("coast_frames", o.coast_frames, 0, 100000);
  s.read("class_aware", o.class_aware);
  s.read("fuse_score", o.fuse_score);
  s.read("low_revives_lost", o.low_revives_lost);
  s.finish();
  if (o.low_threshold > o.high_threshold) {
    fail("{}: low_threshold {} is above high_threshold {}",
         yaml_where(s.origin(), s.node(), s.child_path("low_threshold")), o.low_threshold,
         o.high_threshold);
  }
}

std::vector<Point> read_points(const YAML::Node& node, const std::string& path,
                               const std::string& origin) {
  if (!node.IsSequence()) {
    fail("{}: expected a list of [x, y] points, got {}", yaml_where(origin, node, path),
         yaml_describe(node));
  }
  std::vector<Point> points;
  for (size_t i = 0; i < node.size(); ++i) {
    const YAML::Node& p = node[i];
    const std::string ppath = fmt::format("{}[{}]", path, i);
    if (!p.IsSequence() || p.size() != 2 || !p[0].IsScalar() || !p[1].IsScalar()) {
      fail("{}: expected a point [x, y], got {}", yaml_where(origin, p, ppath), yaml_describe(p));
    }
    try {
      points.push_back({p[0].as<float>(), p[1].as<float>()});
    } catch (const YAML::Exception&) {
      fail("{}: point coordinates must be numbers", yaml_where(origin, p, ppath));
    }
  }
  return points;
}

void read_zones(const YAML::Node& node, const std::string& origin, std::vector<ZoneSpec>& zones) {
  if (!node || node.IsNull()) return;
  if (!node.IsSequence()) {
    fail("{}: expected a list of zones, got {}", yaml_where(origin, node, "zones"),
         yaml_describe(node));
  }
  for (size_t i = 0; i < node.size(); ++i) {
    const std::string path = fmt::format("zones[{}]", i);
    Section s(node[i], path, origin);
    ZoneSpec z;
    s.read("name", z.name);
    if (z.name.empty()) fail("{}: every zone needs a name", yaml_where(origin, node[i], path));
    YAML::Node polygon = s.child("polygon");
    YAML::Node line = s.child("line");
    if (polygon && line)
      fail("{}: a zone has either polygon or line, not both", yaml_where(origin, node[i], path));
    if (polygon) {
      z.points = read_points(polygon, path + ".polygon", origin);
      if (z.points.size() < 3) {
        fail("{}: a polygon needs at least 3 points, has {}",
             yaml_where(origin, polygon, path + ".polygon"), z.points.size());
      }
    } else if (line) {
      z.is_line = true;
      z.points = read_points(line, path + ".line", origin);
      if (z.points.size() != 2) {
        fail("{}: a line needs exactly 2 points, has {}", yaml_where(origin, line, path + ".line"),
             z.points.size());
      }
    } else {
      fail("{}: zone \"{}\" needs a polygon or a line", yaml_where(origin, node[i], path),
           printable(z.name));
    }
    std::string units = "pixels";
    s.read("units", units);
    if (units != "pixels" && units != "normalized") {
      fail("{}: units \"{}\": expected pixels or normalized",
           yaml_where(origin, s.child("units"), path + ".units"), printable(units));
    }
    z.normalized = units == "normalized";
    for (const Point& p : z.points) {
      if (z.normalized && (p.x < 0 || p.x > 1 || p.y < 0 || p.y > 1)) {
        fail("{}: normalized point ({}, {}) is outside [0, 1]", yaml_where(origin, node[i], path),
             p.x, p.y);
      }
    }
    s.finish();
    for (const ZoneSpec& other : zones) {
      if (other.name == z.name) {
        fail("{}: zone name \"{}\" is used twice", yaml_where(origin, node[i], path),
             printable(z.name));
      }
    }
    zones.push_back(std::move(z));
  }
}

void read_rules(const YAML::Node& node, const std::string& origin, std::vector<RuleSpec>& rules) {
  if (!node || node.IsNull()) return;
  if (!node.IsSequence()) {
    fail("{}: expected a list of rules, got {}", yaml_where(origin, node, "rules"),
         yaml_describe(node));
  }
  for (size_t i = 0; i < node.size(); ++i) {
    const std::string path = fmt::format("rules[{}]", i);
    Section s(node[i], path, origin);
    RuleSpec r;
    s.read("name", r.name);
    if (r.name.empty()) fail("{}: every rule needs a name", yaml_where(origin, node[i], path));
    std::string type;
    s.read("type", type);
    try {
      r.type = parse_event_type(type);
    } catch (const Error& e) {
      fail("{}: {}", yaml_where(origin, node[i], path + ".type"), e.what());
    }
    s.read("zone", r.zone);
    s.read_strings("classes", r.classes);
    s.read_range("inertia_frames", r.inertia_frames, 1, 10000);
    s.read_range("dwell_s", r.dwell_s, 0.0, 1e6);
    s.read_range("min_count", r.min_count, 1, 100000);
    s.read_range("min_duration_s", r.min_duration_s, 0.0, 1e6);
    s.read("direction", r.direction);
    if (r.direction != "any" && r.direction != "left_to_right" && r.direction != "right_to_left") {
      fail("{}: direction \"{}\": expected any, left_to_right or right_to_left",
           yaml_where(origin, node[i], path + ".direction"), printable(r.direction));
    }
    s.read_range("hysteresis_px", r.hysteresis_px, 0.0, 1e4);
    s.read_range("stationary_s", r.stationary_s, 0.0, 1e6);
    s.read_range("max_motion_px", r.max_motion_px, 0.0, 1e4);
    s.read_range("background_s", r.background_s, 0.0, 1e6);
    s.finish();
    for (const RuleSpec& other : rules) {
      if (other.name == r.name) {
        fail("{}: rule name \"{}\" is used twice", yaml_where(origin, node[i], path),
             printable(r.name));
      }
    }
    rules.push_back(std::move(r));
  }
}

void read_pipeline(Section s, PipelineOptions& o) {
  s.read_range("frame_queue", o.frame_queue, size_t{1}, size_t{1000});
  s.read_range("result_queue", o.result_queue, size_t{1}, size_t{100000});
  s.read_range("event_queue", o.event_queue, size_t{1}, size_t{1000000});
  s.read("drop_policy", o.drop_policy);
  if (o.drop_policy != "auto" && o.drop_policy != "latest" && o.drop_policy != "block") {
    fail("{}: drop_policy \"{}\": expected auto, latest or block",
         yaml_where(s.origin(), s.child("drop_policy"), s.child_path("drop_policy")),
         printable(o.drop_policy));
  }
  s.read("snapshot_dir", o.snapshot_dir);
  s.read_range("opencv_threads", o.opencv_threads, 0, 256);
  s.finish();
}

}  // namespace

VisionConfig parse_config(const std::string& yaml_text, const std::string& origin) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    fail("{}:{}: not valid YAML ({})", origin, e.mark.line + 1, e.msg);
  }
  VisionConfig config;
  Section top(root, "", origin);
  read_source(Section(top.child("source"), "source", origin), config.source);
  read_detector(Section(top.child("detector"), "detector", origin), config.detector);
  read_motion(Section(top.child("motion"), "motion", origin), config.motion);
  read_tracker(Section(top.child("tracker"), "tracker", origin), config.tracker);
  read_zones(top.child("zones"), origin, config.zones);
  read_rules(top.child("rules"), origin, config.rules);
  read_pipeline(Section(top.child("pipeline"), "pipeline", origin), config.pipeline);
  top.finish();
  validate_config(config, origin);
  return config;
}

VisionConfig load_config(const std::string& path) {
  VisionConfig config = parse_config(read_file(path), path);
  const std::filesystem::path base = std::filesystem::path(path).parent_path();
  auto resolve = [&](std::string& p) {
    if (!p.empty() && std::filesystem::path(p).is_relative()) p = (base / p).lexically_normal();
  };
  resolve(config.detector.onnx.model);
  resolve(config.pipeline.snapshot_dir);
  return config;
}

void validate_config(const VisionConfig& config, const std::string& origin) {
  if (config.detector.type == "onnx" && config.detector.onnx.model.empty()) {
    fail("{}: detector.onnx.model: the onnx detector needs a model path", origin);
  }
  for (const RuleSpec& rule : config.rules) {
    const ZoneSpec* zone = nullptr;
    for (const ZoneSpec& z : config.zones) {
      if (z.name == rule.zone) zone = &z;
    }
    if (rule.zone.empty()) {
      if (rule.type == EventType::kObjectLeft) continue;
      fail("{}: rule \"{}\" needs a zone", origin, printable(rule.name));
    }
    if (!zone) {
      fail("{}: rule \"{}\" names zone \"{}\", which is not defined", origin, printable(rule.name),
           printable(rule.zone));
    }
    const bool wants_line = rule.type == EventType::kLineCrossing;
    if (wants_line != zone->is_line) {
      fail("{}: rule \"{}\" ({}) needs a {}, but zone \"{}\" is a {}", origin, printable(rule.name),
           event_type_name(rule.type), wants_line ? "line" : "polygon", printable(zone->name),
           zone->is_line ? "line" : "polygon");
    }
  }
}

}  // namespace vigil::vision
