// ggml tensor types: ids as stored in GGUF, block sizes and bytes per block.
// This table is the single source of truth for "how many bytes does a row of N values take".
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace vigil {

// Values are the ggml_type ids written in GGUF tensor infos (ggml.h). Gaps are ids that were
// removed upstream (Q4_2 = 4, Q4_3 = 5) or types we do not know.
enum class GgmlType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
};

struct GgmlTypeTraits {
  GgmlType type;
  std::string_view name;      // as llama.cpp prints it: "q4_0", "f16", "q4_K"
  uint32_t block_values;      // values per block (1 for plain types)
  uint32_t block_bytes;       // bytes per block
};

// Traits of a known type id; std::nullopt for ids that are not ggml types.
std::optional<GgmlTypeTraits> ggml_type_traits(uint32_t type_id);
const GgmlTypeTraits& ggml_traits(GgmlType type);
std::string_view ggml_type_name(GgmlType type);
// Parses "q4_0", "Q4_K", "f16", ... ; std::nullopt if unknown.
std::optional<GgmlType> ggml_type_from_name(std::string_view name);

// Bytes of one row of `n_values` values; n_values must be a multiple of the block size
// (checked by callers that read files; see row_size_checked).
inline uint64_t ggml_row_bytes(GgmlType type, uint64_t n_values) {
  const auto& t = ggml_traits(type);
  return n_values / t.block_values * t.block_bytes;
}

}  // namespace vigil
