#include "vision/kalman.h"

#include <algorithm>
#include <opencv2/core.hpp>  // Matx::inv lives in operations.hpp

namespace vigil::vision {

namespace {

// Process noise per unit of box height (ByteTrack's values).
constexpr double kStdPosition = 1.0 / 20;
constexpr double kStdVelocity = 1.0 / 160;

cv::Matx<double, 4, 1> measurement(const Box& b) {
  const double h = std::max(1e-3f, b.h);
  return {b.x + b.w / 2.0, b.y + b.h / 2.0, b.w / h, h};
}

}  // namespace

BoxKalman::BoxKalman(const Box& box) {
  const cv::Matx<double, 4, 1> z = measurement(box);
  mean_ = cv::Matx<double, 8, 1>::zeros();
  for (int i = 0; i < 4; ++i) mean_(i) = z(i);
  const double h = z(3);
  const double std[8] = {2 * kStdPosition * h,  2 * kStdPosition * h,  1e-2, 2 * kStdPosition * h,
                         10 * kStdVelocity * h, 10 * kStdVelocity * h, 1e-5, 10 * kStdVelocity * h};
  cov_ = cv::Matx<double, 8, 8>::zeros();
  for (int i = 0; i < 8; ++i) cov_(i, i) = std[i] * std[i];
}

void BoxKalman::predict(bool freeze_size) {
  if (freeze_size) mean_(7) = 0;
  const double h = mean_(3);
  const double std[8] = {kStdPosition * h, kStdPosition * h, 1e-2, kStdPosition * h,
                         kStdVelocity * h, kStdVelocity * h, 1e-5, kStdVelocity * h};
  cv::Matx<double, 8, 8> f = cv::Matx<double, 8, 8>::eye();
  for (int i = 0; i < 4; ++i) f(i, i + 4) = 1;
  mean_ = f * mean_;
  cov_ = f * cov_ * f.t();
  for (int i = 0; i < 8; ++i) cov_(i, i) += std[i] * std[i];
}

void BoxKalman::update(const Box& box) {
  const cv::Matx<double, 4, 1> z = measurement(box);
  const double h = mean_(3);
  const double std[4] = {kStdPosition * h, kStdPosition * h, 1e-1, kStdPosition * h};
  // H selects the first four states, so H P H^T is P's top-left block and P H^T its left columns.
  cv::Matx<double, 4, 4> s;
  cv::Matx<double, 8, 4> pht;
  for (int r = 0; r < 8; ++r) {
    for (int c = 0; c < 4; ++c) pht(r, c) = cov_(r, c);
  }
  for (int r = 0; r < 4; ++r) {
    for (int c = 0; c < 4; ++c) s(r, c) = cov_(r, c);
    s(r, r) += std[r] * std[r];
  }
  const cv::Matx<double, 8, 4> gain = pht * s.inv(cv::DECOMP_CHOLESKY);
  cv::Matx<double, 4, 1> innovation;
  for (int i = 0; i < 4; ++i) innovation(i) = z(i) - mean_(i);
  mean_ += gain * innovation;
  cov_ -= gain * s * gain.t();
}

Box BoxKalman::box() const {
  const double h = mean_(3);
  const double w = mean_(2) * h;
  return {static_cast<float>(mean_(0) - w / 2), static_cast<float>(mean_(1) - h / 2),
          static_cast<float>(w), static_cast<float>(h)};
}

}  // namespace vigil::vision
