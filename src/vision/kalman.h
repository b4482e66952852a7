// Constant-velocity Kalman filter for a box, in the (centre x, centre y, aspect w/h, height)
// parametrisation with their velocities (8 states) used by SORT/DeepSORT/ByteTrack. Noise scales
// with box height, so near and far objects are treated alike.
#pragma once

#include <opencv2/core/matx.hpp>

#include "vision/geometry.h"

namespace vigil::vision {

class BoxKalman {
 public:
  // Starts at `box` with zero velocity and a wide velocity prior.
  explicit BoxKalman(const Box& box);
  // Advances one frame. `freeze_size` zeroes the height velocity (for lost tracks, whose size
  // should not drift while unobserved).
  void predict(bool freeze_size = false);
  // Corrects with an observed box.
  void update(const Box& box);
  // Current estimate as a (left, top, w, h) box.
  Box box() const;
  cv::Vec2d velocity() const { return {mean_(4), mean_(5)}; }

 private:
  cv::Matx<double, 8, 1> mean_;
  cv::Matx<double, 8, 8> cov_;
};

}  // namespace vigil::vision
