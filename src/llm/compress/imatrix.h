// Importance-matrix collection (llama.cpp's `llama-imatrix`): runs calibration text through the
// model and accumulates, for every 2-D weight used in a linear layer, the sum over tokens of the
// squared input activation of each input column, Σ_t x[t][j]². Quantizers weight their rounding
// error by it (columns that see large activations matter more); prune uses the ffn_down and
// attn_output statistics to rank channels and heads.
//
// Windowing is perplexity's (perplexity.h): non-overlapping windows of n_ctx tokens, BOS
// substituted at each window start, each window from an empty cache; one window is one "call".
// Saved in llama.cpp's imatrix.dat convention (imatrix_file.h): values[j] = Σx² / n_tokens *
// ncall, i.e. ncall times the mean square, so values / ncall is the mean square per token.
// Only `blk.*` tensors are collected by default (llama.cpp leaves output.weight out too).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "llm/compress/imatrix_file.h"
#include "llm/runtime/context.h"

namespace vigil::compress {

// The GGUF name of a weight: HF names are mapped ("model.layers.3.mlp.down_proj.weight" ->
// "blk.3.ffn_down.weight", "lm_head.weight" -> "output.weight"); other names pass through.
std::string gguf_weight_name(const std::string& name);

class ImatrixCollector {
 public:
  struct Stat {
    std::vector<double> sum_sq;  // Σ over tokens of x[j]², per input column
    int64_t n_tokens = 0;        // tokens accumulated
    int32_t ncall = 0;           // windows (chunks) that contributed
  };

  explicit ImatrixCollector(bool include_output = false) : include_output_(include_output) {}

  // An observer for Context::set_linear_observer that feeds add(); *this must outlive its use.
  LinearObserver observer();
  // Accumulates one linear layer's input X [n_tokens][n_cols] under the weight named `name`.
  // Throws if a tensor's column count changes between calls.
  void add(const std::string& name, const float* x, int64_t n_tokens, int64_t n_cols);
  // Ends one chunk: each tensor that received data since the last call counts one more call.
  void end_chunk();
  int32_t chunks() const { return chunks_; }
  const std::map<std::string, Stat>& stats() const { return stats_; }
  // Mean square activation per column of `name` (Σx² / n_tokens); throws when not collected.
  std::vector<double> mean_square(const std::string& name) const;

  // The llama.cpp file form (see above), with `dataset` recorded in the trailer.
  ImportanceMatrix to_imatrix(const std::string& dataset) const;

 private:
  bool include_output_;
  std::map<std::string, Stat> stats_;
  std::map<std::string, bool> touched_;
  int32_t chunks_ = 0;
};

struct ImatrixOptions {
  int32_t n_ctx = 512;     // window size in tokens
  int32_t max_chunks = 0;  // 0 = every full window
};

// Runs `tokens` window by window through `ctx` (its n_ctx must be >= options.n_ctx) with the
// collector installed as its observer (removed again before returning). `bos`: BOS id for each
// window start or -1. A text shorter than one window is evaluated as one shorter window. `progress`
// is called after each window with (done, total). Returns the number of windows evaluated.
int32_t collect_imatrix(Context& ctx, std::span<const int32_t> tokens, int32_t bos,
                        const ImatrixOptions& options, ImatrixCollector& collector,
                        const std::function<void(int32_t done, int32_t total)>& progress = {});

}  // namespace vigil::compress
