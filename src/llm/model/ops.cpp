#include "llm/model/ops.h"

#include <cmath>

#include "base/error.h"

namespace vigil::ops {

void rmsnorm(float* out, const float* x, const float* weight, int64_t n, float eps) {
  double sum = 0;  // double: a 4096-wide sum of squares in float loses ~1e-4 relative
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i]) * x[i];
  const float scale = static_cast<float>(1.0 / std::sqrt(sum / static_cast<double>(n) + eps));
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] * scale * weight[i];
}

void softmax(float* x, int64_t n) {
  float max = -INFINITY;
  for (int64_t i = 0; i < n; ++i) max = std::max(max, x[i]);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - max);
    sum += x[i];
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

void swiglu(float* a, const float* b, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = a[i];
    a[i] = g / (1.0f + std::exp(-g)) * b[i];
  }
}

Rope Rope::build(const ModelConfig& c, std::span<const float> freq_divisors) {
  Rope r;
  r.style = c.rope_style;
  r.head_dim = c.head_dim;
  r.rope_dim = c.rope_dim > 0 ? c.rope_dim : c.head_dim;
  if (r.rope_dim % 2 != 0 || r.rope_dim > 1024 || r.rope_dim > r.head_dim) {
    fail("rope dimension {} is invalid for head_dim {} (expected even, <= head_dim, <= 1024)",
         r.rope_dim, r.head_dim);
  }
  const int half = r.rope_dim / 2;
  if (!freq_divisors.empty() && static_cast<int>(freq_divisors.size()) != half) {
    fail("rope_freqs has {} values (expected rope_dim/2 = {})", freq_divisors.size(), half);
  }
  for (int i = 0; i < half; ++i) {
    // Same float32 expression as HF: 1 / base^(2i/d).
    float f = 1.0f / std::pow(c.rope_theta, static_cast<float>(2 * i) / static_cast<float>(r.rope_dim));
    if (c.rope_scaling == RopeScaling::Linear) {
      f /= c.rope_factor;
    } else if (c.rope_scaling == RopeScaling::Llama3 && freq_divisors.empty()) {
      // Llama 3.1: long wavelengths are slowed by `factor`, short ones kept, a smooth blend between.
      const float old_ctx = static_cast<float>(c.rope_orig_ctx > 0 ? c.rope_orig_ctx : 8192);
      const float low_wavelen = old_ctx / c.rope_low_freq_factor;
      const float high_wavelen = old_ctx / c.rope_high_freq_factor;
      const float wavelen = 2.0f * static_cast<float>(M_PI) / f;
      if (wavelen > low_wavelen) {
        f /= c.rope_factor;
      } else if (wavelen >= high_wavelen) {
        const float smooth = (old_ctx / wavelen - c.rope_low_freq_factor) /
                             (c.rope_high_freq_factor - c.rope_low_freq_factor);
        f = (1.0f - smooth) * f / c.rope_factor + smooth * f;
      }
    }
    if (!freq_divisors.empty()) f /= freq_divisors[static_cast<size_t>(i)];
    r.inv_freq[i] = f;
  }
  return r;
}

void Rope::apply(float* head, int32_t pos) const {
  const int half = rope_dim / 2;
  for (int i = 0; i < half; ++i) {
    const float angle = static_cast<float>(pos) * inv_freq[i];
    const float c = std::cos(angle);
    const float s = std::sin(angle);
    const int a = style == RopeStyle::Normal ? 2 * i : i;
    const int b = style == RopeStyle::Normal ? 2 * i + 1 : i + half;
    const float x0 = head[a];
    const float x1 = head[b];
    head[a] = x0 * c - x1 * s;
    head[b] = x0 * s + x1 * c;
  }
}

}  // namespace vigil::ops
