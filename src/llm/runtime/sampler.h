// Token sampling: penalties, then top-k, top-p, min-p, temperature, then a seeded draw
// (temperature <= 0 means greedy: the highest logit, lowest id on a tie). Same seed and same
// logits give the same tokens.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace vigil {

struct SamplingParams {
  float temperature = 0.8f;     // <= 0: greedy
  int32_t top_k = 40;           // <= 0: off
  float top_p = 0.95f;          // >= 1: off
  float min_p = 0.05f;          // <= 0: off
  float repeat_penalty = 1.0f;  // 1: off; divides positive logits of recent tokens
  float presence_penalty = 0.0f;   // subtracted once from every recent token's logit
  float frequency_penalty = 0.0f;  // subtracted per occurrence
  int32_t penalty_last_n = 64;  // recent tokens the penalties look at
  uint64_t seed = 0xC0FFEE;
};

class Sampler {
 public:
  explicit Sampler(const SamplingParams& params);
  // Picks the next token from `logits`; `history` is the sequence so far (for penalties).
  int32_t sample(std::span<const float> logits, std::span<const int32_t> history);
  const SamplingParams& params() const { return params_; }

  // Index of the largest value, lowest index on ties.
  static int32_t argmax(std::span<const float> logits);

 private:
  SamplingParams params_;
  std::mt19937_64 rng_;
  std::vector<std::pair<float, int32_t>> candidates_;  // (logit, id), reused
  std::vector<float> probs_;
};

}  // namespace vigil
