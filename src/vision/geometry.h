// Plane geometry in image pixels (x right, y down): axis-aligned boxes, polygons, segments.
// Everything is float pixels; boxes are (left, top, width, height) like MOTChallenge files.
#pragma once

#include <vector>

namespace vigil::vision {

struct Point {
  float x = 0;
  float y = 0;
};

struct Box {
  float x = 0;  // left
  float y = 0;  // top
  float w = 0;
  float h = 0;

  float right() const { return x + w; }
  float bottom() const { return y + h; }
  float area() const { return w > 0 && h > 0 ? w * h : 0.0f; }
  Point center() const { return {x + w / 2, y + h / 2}; }
  // The point that stands on the ground plane: rules test zones against it (as DeepStream and
  // Frigate do), so a person's head leaning over a zone border does not count as inside.
  Point bottom_center() const { return {x + w / 2, y + h}; }
};

// Intersection over union in [0, 1]; 0 when either box is empty.
float iou(const Box& a, const Box& b);

// The smallest box holding both.
Box union_box(const Box& a, const Box& b);

// `box` clipped to [0, width) x [0, height); may come back empty.
Box clip_box(const Box& box, float width, float height);

// Even-odd test; points on an edge count as inside. Polygons need >= 3 vertices.
bool point_in_polygon(const Point& p, const std::vector<Point>& polygon);

// Signed distance (pixels) of `p` from the infinite line through a->b. Negative on the left of
// a->b as seen on screen (y down), positive on the right.
float signed_distance(const Point& p, const Point& a, const Point& b);

// Whether segments p1-p2 and q1-q2 intersect (touching counts).
bool segments_intersect(const Point& p1, const Point& p2, const Point& q1, const Point& q2);

}  // namespace vigil::vision
