#include "vision/geometry.h"

#include <algorithm>
#include <cmath>

namespace vigil::vision {

float iou(const Box& a, const Box& b) {
  const float ix = std::min(a.right(), b.right()) - std::max(a.x, b.x);
  const float iy = std::min(a.bottom(), b.bottom()) - std::max(a.y, b.y);
  if (ix <= 0 || iy <= 0) return 0.0f;
  const float inter = ix * iy;
  const float uni = a.area() + b.area() - inter;
  return uni > 0 ? inter / uni : 0.0f;
}

Box union_box(const Box& a, const Box& b) {
  const float x0 = std::min(a.x, b.x), y0 = std::min(a.y, b.y);
  const float x1 = std::max(a.right(), b.right()), y1 = std::max(a.bottom(), b.bottom());
  return {x0, y0, x1 - x0, y1 - y0};
}

Box clip_box(const Box& box, float width, float height) {
  const float x0 = std::clamp(box.x, 0.0f, width), y0 = std::clamp(box.y, 0.0f, height);
  const float x1 = std::clamp(box.right(), 0.0f, width);
  const float y1 = std::clamp(box.bottom(), 0.0f, height);
  return {x0, y0, std::max(0.0f, x1 - x0), std::max(0.0f, y1 - y0)};
}

namespace {

float cross(const Point& o, const Point& a, const Point& b) {
  return (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x);
}

bool on_segment(const Point& p, const Point& a, const Point& b) {
  constexpr float kEps = 1e-4f;
  return std::fabs(cross(a, b, p)) <= kEps * std::max(1.0f, std::hypot(b.x - a.x, b.y - a.y)) &&
         p.x >= std::min(a.x, b.x) - kEps && p.x <= std::max(a.x, b.x) + kEps &&
         p.y >= std::min(a.y, b.y) - kEps && p.y <= std::max(a.y, b.y) + kEps;
}

}  // namespace

bool point_in_polygon(const Point& p, const std::vector<Point>& polygon) {
  const size_t n = polygon.size();
  if (n < 3) return false;
  bool inside = false;
  for (size_t i = 0, j = n - 1; i < n; j = i++) {
    const Point& a = polygon[i];
    const Point& b = polygon[j];
    if (on_segment(p, a, b)) return true;
    if ((a.y > p.y) != (b.y > p.y)) {
      const float x_at_y = a.x + (p.y - a.y) * (b.x - a.x) / (b.y - a.y);
      if (p.x < x_at_y) inside = !inside;
    }
  }
  return inside;
}

float signed_distance(const Point& p, const Point& a, const Point& b) {
  const float len = std::hypot(b.x - a.x, b.y - a.y);
  if (len <= 0) return std::hypot(p.x - a.x, p.y - a.y);
  return cross(a, b, p) / len;
}

bool segments_intersect(const Point& p1, const Point& p2, const Point& q1, const Point& q2) {
  const float d1 = cross(q1, q2, p1), d2 = cross(q1, q2, p2);
  const float d3 = cross(p1, p2, q1), d4 = cross(p1, p2, q2);
  if (((d1 > 0 && d2 < 0) || (d1 < 0 && d2 > 0)) && ((d3 > 0 && d4 < 0) || (d3 < 0 && d4 > 0))) {
    return true;
  }
  return on_segment(p1, q1, q2) || on_segment(p2, q1, q2) || on_segment(q1, p1, p2) ||
         on_segment(q2, p1, p2);
}

}  // namespace vigil::vision
