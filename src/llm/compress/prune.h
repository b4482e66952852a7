// Structured pruning: removes whole FFN channels (and optionally whole KV groups of attention
// heads) ranked by an importance measured on calibration text, and writes a smaller, valid GGUF
// that the engine (and llama.cpp) loads like any other.
//
// FFN channel j of layer l adds h_j · W_down[:, j] to the residual stream, where h = silu(gate x)
// ⊙ (up x) is the SwiGLU output (the input of ffn_down). Its importance is
//     s_j = E[h_j²] · ‖W_down[:, j]‖²
// the expected squared norm of that contribution, i.e. the squared error that removing the
// channel alone causes (E over calibration tokens; E[h_j²] is exactly what imatrix collects for
// ffn_down). It needs no gradients, uses the activation and the weight together (a channel with
// big activations but a tiny down column matters little, and vice versa), and is invariant to
// rescaling h_j by c and the column by 1/c, which leaves the model unchanged.
//
// A KV group g (one k/v head and the n_head/n_head_kv query heads that read it) contributes
// through attn_output's columns of its query heads; its importance is the same quantity summed
// over those columns, Σ_i E[a_i²] · ‖W_o[:, i]‖² (cross terms between columns ignored).
//
// Kept per layer: the top fraction of channels, rounded to a multiple of `align` (so that the
// new ffn_down row length still quantizes to blocks), in their original order. The same number of
// KV groups is kept in every layer (the engine and llama.cpp use one head count per model); which
// groups differs per layer.
//
// Output tensors: rows removed from ffn_gate/ffn_up (phi3: both halves of the fused ffn_up),
// attn_q/k/v (and their biases; phi3: the fused attn_qkv); columns removed from ffn_down and
// attn_output. Row removal keeps the input type (rows stay whole). Column removal keeps F32, F16
// and BF16 exactly; a quantized tensor whose columns are removed is dequantized and written as
// F32 (requantize afterwards with `vigil quantize`). Metadata: `<arch>.feed_forward_length`
// becomes a per-layer array when the sizes differ; head counts, key_length and value_length are
// updated when heads are pruned. Everything else is copied.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "llm/compress/imatrix_file.h"

namespace vigil {
class Model;
}

namespace vigil::compress {

struct PruneOptions {
  // Fraction of FFN channels kept: one value for every layer, or one per layer.
  std::vector<double> ffn_keep = {1.0};
  double heads_keep = 1.0;  // fraction of KV groups kept (same count in every layer), (0, 1]
  // Kept FFN channels are a multiple of this (the last block may be whole: n_ff itself is always
  // allowed). 0 = 256 when ffn_down is a k-quant, else 32.
  int32_t align = 0;
};

// Mean square input activation per column, by GGUF weight name (blk.N.ffn_down.weight,
// blk.N.attn_output.weight are the ones prune needs).
using ActivationStats = std::map<std::string, std::vector<double>>;
// From an imatrix file (values / ncall).
ActivationStats activation_stats(const ImportanceMatrix& imatrix);

struct LayerPlan {
  std::vector<int32_t> ffn_channels;  // kept channel indices, ascending
  std::vector<int32_t> kv_groups;     // kept KV groups, ascending
};

struct PrunePlan {
  std::vector<LayerPlan> layers;
  int32_t n_head = 0, n_head_kv = 0;  // after pruning
};

// Importance of each FFN channel / KV group of `layer` (see above). Throws when the statistics for
// the layer's ffn_down (attn_output) are missing or have the wrong length.
std::vector<double> ffn_channel_importance(const Model& model, int32_t layer,
                                           const ActivationStats& stats);
std::vector<double> kv_group_importance(const Model& model, int32_t layer,
                                        const ActivationStats& stats);

// Chooses what to keep. Throws on fractions outside (0, 1] or a per-layer list of the wrong size.
PrunePlan plan_pruning(const Model& model, const ActivationStats& stats,
                       const PruneOptions& options);

// Writes the pruned copy of `model` (which must have been loaded from a GGUF file) to `out_path`
// (temp file + fsync + rename). Returns the bytes written.
uint64_t write_pruned_gguf(const Model& model, const PrunePlan& plan, const std::string& out_path);

}  // namespace vigil::compress
