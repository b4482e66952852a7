// Hugging Face checkpoint -> GGUF conventions, as llama.cpp's convert_hf_to_gguf.py applies them
// to the llama family (llama, mistral, qwen2, phi3): tensor names, the Q/K row permutation of
// GGUF llama/mistral, the `<arch>.*` hyperparameter keys the GGUF loader reads, and the
// tokenizer (tokenizer.json + tokenizer_config.json) as `tokenizer.ggml.*` keys.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "llm/format/gguf.h"
#include "llm/model/config.h"

namespace vigil::compress {

using Metadata = std::vector<std::pair<std::string, gguf::Value>>;

// GGUF name of a HF tensor ("model.layers.3.self_attn.q_proj.weight" -> "blk.3.attn_q.weight").
// Returns "" for tensors GGUF files do not carry (rotary inv_freq buffers); throws vigil::Error
// naming the tensor for anything else it does not know.
std::string gguf_tensor_name(const std::string& hf_name);

// Heads whose rows convert_hf_to_gguf permutes for a tensor (n_head for attn_q, n_head_kv for
// attn_k) when the GGUF architecture rotates adjacent pairs (llama, mistral); 0 = no permutation.
int32_t permute_heads(const ModelConfig& config, const std::string& gguf_name);

// Reorders the rows of a [rows][cols] matrix from HF's rotate-half layout to GGUF llama's
// adjacent-pair layout: within each head of rows/n_head rows, row half*(d/2) + i moves to
// 2*i + half.
void permute_rows_for_gguf(const float* in, float* out, int64_t rows, int64_t cols, int32_t n_head);

// general.* and `<arch>.*` keys for `config` (model name = `name`).
Metadata gguf_arch_metadata(const ModelConfig& config, const std::string& name);

// tokenizer.ggml.* keys from the tokenizer files in `dir` (tokenizer.json required;
// tokenizer_config.json and config.json for special tokens). BPE models only: byte-level ones
// become "gpt2" (with merges and the pre-tokenizer name), the others "llama" (SentencePiece
// style, with scores from the merge ranks). The vocabulary is padded with [PADn] tokens to
// `n_vocab` rows. Throws vigil::Error naming the file and field for anything unsupported.
Metadata gguf_tokenizer_metadata(const std::string& dir, int32_t n_vocab);

}  // namespace vigil::compress
