// Hyperparameters of a llama-family model, independent of where they came from (GGUF metadata
// or a HF config.json). The forward pass is driven by this table, not by the architecture name.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vigil {

enum class RopeStyle {
  Normal,  // rotate adjacent pairs (2i, 2i+1): GGUF llama/mistral (Q/K rows permuted at convert)
  NeoX,    // rotate halves (i, i + d/2): HF safetensors of every family, GGUF qwen2/phi3
};

enum class RopeScaling { None, Linear, Llama3, Yarn };

struct ModelConfig {
  std::string arch;         // "llama", "mistral", "qwen2", "phi3"
  int32_t n_layers = 0;
  int32_t n_embd = 0;       // hidden size
  int32_t n_ff = 0;         // FFN size (per layer sizes in n_ff_per_layer when they differ)
  std::vector<int32_t> n_ff_per_layer;  // empty = n_ff everywhere (pruned models differ)
  int32_t n_head = 0;
  int32_t n_head_kv = 0;
  int32_t head_dim = 0;     // usually n_embd / n_head
  int32_t n_vocab = 0;      // rows of the embedding / output matrices
  int32_t n_ctx_train = 0;  // context length the model was trained with (tokens)
  float rms_eps = 1e-5f;
  float rope_theta = 10000.0f;
  int32_t rope_dim = 0;     // dimensions rotated per head (= head_dim unless partial rotary)
  RopeStyle rope_style = RopeStyle::Normal;
  RopeScaling rope_scaling = RopeScaling::None;
  float rope_factor = 1.0f;             // linear / llama3 scaling factor
  float rope_low_freq_factor = 1.0f;    // llama3
  float rope_high_freq_factor = 4.0f;   // llama3
  int32_t rope_orig_ctx = 0;            // llama3 original_max_position_embeddings
  int32_t sliding_window = 0;           // 0 = none
  bool tied_embeddings = false;         // output projection = token embedding
  bool qkv_bias = false;                // qwen2
  bool fused_qkv = false;               // phi3 attn_qkv
  bool fused_gate_up = false;           // phi3 ffn_up holds [gate; up]

  int32_t ff_size(int32_t layer) const {
    return n_ff_per_layer.empty() ? n_ff : n_ff_per_layer[static_cast<size_t>(layer)];
  }
};

}  // namespace vigil
