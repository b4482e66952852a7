#include "vision/annotate.h"

#include <fmt/format.h>

#include <opencv2/imgproc.hpp>

namespace vigil::vision {

namespace {

cv::Scalar color_for(int64_t id) {
  // Golden-angle hue steps keep neighbouring ids far apart in colour.
  const int hue = static_cast<int>((id * 137) % 180);
  cv::Mat hsv(1, 1, CV_8UC3, cv::Scalar(hue, 200, 255)), bgr;
  cv::cvtColor(hsv, bgr, cv::COLOR_HSV2BGR);
  const cv::Vec3b c = bgr.at<cv::Vec3b>(0, 0);
  return {static_cast<double>(c[0]), static_cast<double>(c[1]), static_cast<double>(c[2])};
}

cv::Point to_cv(const Point& p) {
  return {static_cast<int>(std::lround(p.x)), static_cast<int>(std::lround(p.y))};
}

cv::Rect to_cv(const Box& b) {
  return {static_cast<int>(std::lround(b.x)), static_cast<int>(std::lround(b.y)),
          static_cast<int>(std::lround(b.w)), static_cast<int>(std::lround(b.h))};
}

void label(cv::Mat& canvas, const std::string& text, cv::Point at, const cv::Scalar& bg) {
  int baseline = 0;
  const cv::Size size = cv::getTextSize(text, cv::FONT_HERSHEY_SIMPLEX, 0.45, 1, &baseline);
  at.y = std::max(at.y, size.height + 2);
  cv::rectangle(canvas, cv::Rect(at.x, at.y - size.height - 2, size.width + 4, size.height + 4), bg,
                cv::FILLED);
  cv::putText(canvas, text, {at.x + 2, at.y}, cv::FONT_HERSHEY_SIMPLEX, 0.45, cv::Scalar(0, 0, 0),
              1, cv::LINE_AA);
}

void dashed_rect(cv::Mat& canvas, const cv::Rect& r, const cv::Scalar& color) {
  const cv::Point corners[4] = {r.tl(), {r.x + r.width, r.y}, r.br(), {r.x, r.y + r.height}};
  for (int i = 0; i < 4; ++i) {
    const cv::Point a = corners[i], b = corners[(i + 1) % 4];
    const double len = std::hypot(b.x - a.x, b.y - a.y);
    for (double s = 0; s < len; s += 10) {
      const double e = std::min(len, s + 5);
      cv::line(canvas, a + (b - a) * (s / len), a + (b - a) * (e / len), color, 1);
    }
  }
}

}  // namespace

void annotate(cv::Mat& canvas, const FrameResult& r, const std::vector<std::string>& class_names,
              bool show_regions) {
  if (canvas.empty()) return;
  const cv::Scalar zone_color(0, 200, 255), line_color(255, 120, 0);
  // Zones: translucent fill, outline, name and occupancy.
  cv::Mat overlay = canvas.clone();
  for (const Zone& z : r.zones) {
    if (z.is_line || z.points.size() < 3) continue;
    std::vector<cv::Point> poly;
    for (const Point& p : z.points) poly.push_back(to_cv(p));
    cv::fillPoly(overlay, std::vector<std::vector<cv::Point>>{poly}, zone_color);
  }
  cv::addWeighted(overlay, 0.18, canvas, 0.82, 0, canvas);
  for (const Zone& z : r.zones) {
    std::vector<cv::Point> pts;
    for (const Point& p : z.points) pts.push_back(to_cv(p));
    if (pts.empty()) continue;
    if (z.is_line) {
      cv::arrowedLine(canvas, pts[0], pts[1], line_color, 2, cv::LINE_AA, 0, 0.03);
      std::string text = z.name;
      for (const auto& c : r.line_counts) {
        if (c.line == z.name)
          text += fmt::format("  L>R {}  R>L {}", c.left_to_right, c.right_to_left);
      }
      label(canvas, text, pts[0] + cv::Point(4, -6), line_color);
    } else {
      cv::polylines(canvas, std::vector<std::vector<cv::Point>>{pts}, true, zone_color, 2,
                    cv::LINE_AA);
      const auto occ = r.occupancy.find(z.name);
      label(canvas, fmt::format("{}: {}", z.name, occ == r.occupancy.end() ? 0 : occ->second),
            pts[0] + cv::Point(4, 16), zone_color);
    }
  }
  if (show_regions) {
    for (const cv::Rect& region : r.plan.regions)
      dashed_rect(canvas, region, cv::Scalar(160, 160, 160));
  }
  for (const Track& t : r.tracks) {
    const cv::Scalar color = color_for(t.id);
    const cv::Rect box = to_cv(t.box);
    if (t.lost) {
      dashed_rect(canvas, box, color);
      continue;
    }
    cv::rectangle(canvas, box, color, 2);
    cv::circle(canvas, to_cv(t.box.bottom_center()), 3, color, cv::FILLED);
    const std::string name = t.class_id >= 0 && static_cast<size_t>(t.class_id) < class_names.size()
                                 ? class_names[t.class_id]
                                 : std::to_string(t.class_id);
    label(canvas, fmt::format("#{} {} {:.2f}", t.id, name, t.score), box.tl() + cv::Point(0, -2),
          color);
  }
  int visible = 0;
  for (const Track& t : r.tracks) visible += t.lost ? 0 : 1;
  const char* mode = r.plan.mode == DetectionPlan::Mode::kSkip      ? "gated"
                     : r.plan.mode == DetectionPlan::Mode::kRegions ? "regions"
                                                                    : "full";
  label(canvas,
        fmt::format("frame {}  t={:.1f}s  tracks {}  dets {}  detect: {}", r.frame.index,
                    r.frame.timestamp_s, visible, r.detections.size(), mode),
        {4, 18}, cv::Scalar(255, 255, 255));
  int y = 40;
  for (const Event& e : r.events) {
    label(canvas,
          fmt::format("{} {} {} {}",
                      e.ongoing() ? "START" : (*e.end_s == e.start_s ? "EVENT" : "END"),
                      event_type_name(e.type), e.rule, e.direction),
          {4, y}, e.ongoing() ? cv::Scalar(80, 80, 255) : cv::Scalar(180, 180, 180));
    y += 20;
  }
}

}  // namespace vigil::vision
