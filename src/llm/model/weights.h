// Weight tensors as the forward pass sees them: views of stored bytes (GGUF blocks or
// safetensors rows), never converted at load. Names are resolved once, through a table per
// source format, into the per-layer struct below.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "llm/model/config.h"
#include "llm/quant/types.h"

namespace vigil {

// A 1-D or 2-D tensor view. Rows are contiguous; a row holds `cols` values of `type`.
struct Tensor {
  std::string name;
  GgmlType type = GgmlType::F32;
  int64_t cols = 0;  // row length (ggml ne[0])
  int64_t rows = 1;  // ggml ne[1] (1 for vectors)
  const uint8_t* data = nullptr;
  uint64_t file_offset = 0;  // where the bytes live in the source file (for streaming)

  bool present() const { return data != nullptr || cols != 0; }
  uint64_t row_bytes() const { return ggml_row_bytes(type, static_cast<uint64_t>(cols)); }
  uint64_t bytes() const { return row_bytes() * static_cast<uint64_t>(rows); }
  const uint8_t* row(int64_t r) const { return data + static_cast<uint64_t>(r) * row_bytes(); }
};

struct LayerWeights {
  Tensor attn_norm;
  Tensor wq, wk, wv;  // separate projections (absent when fused)
  Tensor wqkv;        // fused [q; k; v] rows (phi3)
  Tensor bq, bk, bv;  // biases (qwen2)
  Tensor wo;
  Tensor ffn_norm;
  Tensor w_gate, w_up;  // separate (absent when fused)
  Tensor w_gate_up;     // fused [gate; up] rows (phi3)
  Tensor w_down;

  uint64_t bytes() const;
};

struct ModelWeights {
  Tensor tok_embd;
  Tensor output_norm;
  Tensor output;  // == tok_embd (same view) when embeddings are tied
  std::vector<float> rope_freq_factors;  // llama3 GGUF rope_freqs.weight (divisors), or empty
  std::vector<LayerWeights> layers;
};

}  // namespace vigil
