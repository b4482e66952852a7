// `vigil quantize`: converts a model (GGUF of any type we can dequantize, or a Hugging Face
// safetensors folder) into a GGUF of another type, choosing each tensor's type as
// llama-quantize does, so that the result is byte-identical to llama.cpp's file (same tensor
// types, same tensor bytes; tensors in llama.cpp's order: non-layer tensors by name, then layer by
// layer, by name within a layer).
//
// Per-tensor rules (llama.cpp src/llama-quant.cpp, llama_tensor_get_type, Feb 2025):
//  * Only 2-D+ tensors whose name ends in "weight" are converted; norms (`*_norm.weight`) and
//    1-D tensors keep their type (HF input: 1-D tensors become F32, as convert_hf_to_gguf does).
//  * output.weight (or token_embd.weight when the embeddings are tied): Q6_K for every quantized
//    file type except Q8_0 (which stays Q8_0); Q8_0 when its rows are not a multiple of the
//    default type's block.
//  * attn_v.weight: Q4_K_M / Q5_K_M give Q6_K to the layers where use_more_bits(i, n) (the first
//    and last eighth, and every third layer between); Q4_K_S gives Q5_K to the first 4.
//    70B-class models (80 layers, GQA) raise Q4_K attn_v to Q5_K.
//  * ffn_down.weight: Q4_K_M / Q5_K_M -> Q6_K where use_more_bits; Q4_K_S -> Q5_K in the first
//    eighth; with an importance matrix, Q4_0 / Q5_0 -> Q4_1 / Q5_1 in the first eighth.
//  * attn_qkv.weight (fused, Phi-3): Q4_K_M -> Q5_K, Q5_K_M -> Q6_K.
//  * A row length that is not a multiple of the chosen type's block falls back: Q4_K -> Q5_0,
//    Q5_K -> Q5_1, Q6_K -> Q8_0, and to F16 when even that does not divide (llama.cpp refuses
//    the 32-block types there; we fall back to F16 too). Every fallback is reported.
//  * Types q4_k and q5_k are "pure" (llama-quantize --pure): every converted tensor gets the
//    default type (fallbacks still apply).
//
// Output: every metadata key of the input (HF input: architecture keys as the GGUF loader reads
// them and the tokenizer converted from tokenizer.json), general.file_type (llama.cpp's
// LLAMA_FTYPE number), general.quantization_version = 2, alignment 32. Memory stays bounded:
// tensors are read, converted (rows split across threads) and appended one at a time; the file
// is written to a temp name, fsynced and renamed.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "llm/quant/types.h"

namespace vigil::compress {

// A --type choice.
struct QuantType {
  std::string_view name;  // "q4_k_m"
  uint32_t ftype;         // LLAMA_FTYPE_* written to general.file_type
  GgmlType default_type;  // type of the converted tensors before the per-tensor rules
  bool pure;              // no per-tensor rules (q4_k, q5_k)
};

// The types `vigil quantize --type` accepts, in display order.
const std::vector<QuantType>& quant_types();
// Case-insensitive lookup; throws vigil::UsageError listing the valid names.
const QuantType& parse_quant_type(std::string_view name);

// What the per-tensor rules need to know about the model.
struct ModelShape {
  std::string arch;  // GGUF architecture name
  int32_t n_layers = 0;
  int32_t n_head = 0;
  int32_t n_head_kv = 0;
};

// One tensor to convert, in output order.
struct TensorChoice {
  std::string name;             // GGUF name
  std::vector<uint64_t> shape;  // ggml order (shape[0] = row length)
  GgmlType src_type = GgmlType::F32;
  GgmlType dst_type = GgmlType::F32;
  bool converted = false;  // false: copied as is (or only widened to F32 for HF 1-D)
  std::string note;        // fallback explanation, empty if none
};

// llama.cpp's tensor order (std::map by (layer, name), non-layer tensors first).
void sort_like_llama_cpp(std::vector<TensorChoice>& tensors);

// Applies the per-tensor rules to `tensors` (already in llama.cpp's order, src_type and shape
// set): fills dst_type, converted and note. `hf_input`: 1-D tensors become F32.
void choose_tensor_types(const QuantType& type, const ModelShape& model, bool has_imatrix,
                         bool hf_input, std::vector<TensorChoice>& tensors);

struct QuantizeOptions {
  std::string type = "q4_k_m";
  std::string imatrix_path;  // llama.cpp legacy imatrix.dat; empty = none
  int n_threads = 0;         // 0 = all hardware threads
  bool progress = true;      // progress line on stderr
};

struct QuantizeResult {
  std::vector<TensorChoice> tensors;  // in file order
  uint64_t input_bytes = 0;           // tensor data read
  uint64_t output_bytes = 0;          // size of the written file
  int n_fallback = 0;
  int n_imatrix_used = 0;  // tensors quantized with importance weights
  double seconds = 0;
};

// Converts `input` (a .gguf file, or a folder / .safetensors file of a HF checkpoint) into the
// GGUF `output`. Throws vigil::Error (one line) for a missing input, an unsupported tensor type
// or architecture, an imatrix that does not fit the model, or a write failure (no partial file
// is left under `output`).
QuantizeResult quantize_model(const std::string& input, const std::string& output,
                              const QuantizeOptions& options);

}  // namespace vigil::compress
