// Synthetic models for timing: a llama-architecture GGUF of any shape with random weights in any
// supported type, and a real tokenizer copied from a vocabulary GGUF. Every weight byte is a
// valid block (sane fp16 scales, random quants), so kernels read and multiply exactly as much as
// for a trained model of that shape; the text it produces is noise.
#pragma once

#include <cstdint>
#include <string>

#include "llm/quant/types.h"

namespace vigil {

struct SynthSpec {
  std::string arch = "llama";
  int32_t n_layers = 2;
  int32_t n_embd = 256;
  int32_t n_ff = 512;
  int32_t n_head = 4;
  int32_t n_head_kv = 0;  // 0 = n_head
  int32_t n_ctx = 4096;
  GgmlType type = GgmlType::Q4_0;  // all 2-D tensors, token_embd and output included
  std::string vocab_from;          // GGUF to copy tokenizer.* from (required)
  uint64_t seed = 1;
};

// Writes the model to `path` (atomically); returns the bytes written.
uint64_t write_synthetic_model(const SynthSpec& spec, const std::string& path);

}  // namespace vigil
