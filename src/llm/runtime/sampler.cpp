#include "llm/runtime/sampler.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>

namespace vigil {

Sampler::Sampler(const SamplingParams& params) : params_(params), rng_(params.seed) {}

int32_t Sampler::argmax(std::span<const float> logits) {
  int32_t best = 0;
  for (size_t i = 1; i < logits.size(); ++i) {
    if (logits[i] > logits[static_cast<size_t>(best)]) best = static_cast<int32_t>(i);
  }
  return best;
}

int32_t Sampler::sample(std::span<const float> logits, std::span<const int32_t> history) {
  const SamplingParams& p = params_;
  candidates_.resize(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) candidates_[i] = {logits[i], static_cast<int32_t>(i)};

  // Penalties over the last penalty_last_n tokens.
  const bool penalize = p.repeat_penalty != 1.0f || p.presence_penalty != 0.0f ||
                        p.frequency_penalty != 0.0f;
  if (penalize && p.penalty_last_n != 0 && !history.empty()) {
    const size_t n = p.penalty_last_n < 0 ? history.size()
                                          : std::min(history.size(), static_cast<size_t>(p.penalty_last_n));
    std::unordered_map<int32_t, int> counts;
    for (size_t i = history.size() - n; i < history.size(); ++i) ++counts[history[i]];
    for (const auto& [id, count] : counts) {
      if (id < 0 || static_cast<size_t>(id) >= candidates_.size()) continue;
      float& l = candidates_[static_cast<size_t>(id)].first;
      l = l > 0 ? l / p.repeat_penalty : l * p.repeat_penalty;
      l -= p.presence_penalty + p.frequency_penalty * static_cast<float>(count);
    }
  }

  if (p.temperature <= 0.0f) {
    int32_t best = 0;
    for (size_t i = 1; i < candidates_.size(); ++i) {
      if (candidates_[i].first > candidates_[static_cast<size_t>(best)].first) best = static_cast<int32_t>(i);
    }
    return best;
  }

  // Sort descending by logit (ties: lower id first) over the top-k prefix only.
  auto by_logit = [](const auto& a, const auto& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  };
  size_t k = candidates_.size();
  if (p.top_k > 0 && static_cast<size_t>(p.top_k) < k) k = static_cast<size_t>(p.top_k);
  std::partial_sort(candidates_.begin(), candidates_.begin() + static_cast<std::ptrdiff_t>(k),
                    candidates_.end(), by_logit);
  candidates_.resize(k);

  // Softmax at temperature 1 for top-p / min-p (as llama.cpp), then temperature for the draw.
  auto softmax = [&](float temp) {
    probs_.resize(candidates_.size());
    const float max = candidates_[0].first;
    double sum = 0;
    for (size_t i = 0; i < candidates_.size(); ++i) {
      probs_[i] = std::exp((candidates_[i].first - max) / temp);
      sum += probs_[i];
    }
    for (auto& v : probs_) v = static_cast<float>(v / sum);
  };
  softmax(1.0f);
  if (p.top_p < 1.0f) {
    double cum = 0;
    size_t keep = candidates_.size();
    for (size_t i = 0; i < candidates_.size(); ++i) {
      cum += probs_[i];
      if (cum >= p.top_p) {
        keep = i + 1;
        break;
      }
    }
    candidates_.resize(keep);
    probs_.resize(keep);
  }
  if (p.min_p > 0.0f) {
    const float threshold = probs_[0] * p.min_p;
    size_t keep = 1;
    while (keep < candidates_.size() && probs_[keep] >= threshold) ++keep;
    candidates_.resize(keep);
  }
  softmax(p.temperature);
  std::discrete_distribution<size_t> dist(probs_.begin(), probs_.end());
  return candidates_[dist(rng_)].second;
}

}  // namespace vigil
