// Elementwise and per-row operations of the transformer block (everything but the matrix
// products, which live in runtime/linear.h). Plain loops: they are a small share of the time.
#pragma once

#include <cstdint>
#include <span>

#include "llm/model/config.h"

namespace vigil::ops {

// out[i] = x[i] / rms(x) * weight[i]; rms = sqrt(mean(x^2) + eps). out may alias x.
void rmsnorm(float* out, const float* x, const float* weight, int64_t n, float eps);

// In-place softmax over n values.
void softmax(float* x, int64_t n);

// a[i] = silu(a[i]) * b[i]
void swiglu(float* a, const float* b, int64_t n);

// Precomputed inverse frequencies for RoPE: inv_freq[i] for i < rope_dim/2, including llama3 /
// linear scaling and per-dimension divisors from a GGUF rope_freqs tensor.
struct Rope {
  RopeStyle style = RopeStyle::Normal;
  int32_t head_dim = 0;
  int32_t rope_dim = 0;
  float inv_freq[512] = {};  // up to head_dim 1024

  static Rope build(const ModelConfig& c, std::span<const float> freq_divisors);
  // Rotates one head vector (head_dim values) at position `pos`.
  void apply(float* head, int32_t pos) const;
};

}  // namespace vigil::ops
