// CPU tensor kernels: dot products, matrix-vector and matrix-matrix products of ggml-typed weight
// rows (read in place from GGUF) with activations, plus row dequantization.
//
// Usage (one linear layer, y = W x, W has n_rows rows of n_cols values of type `wt`):
//
//   const kernels::KernelTable& k = kernels::kernels();   // best ISA (or VIGIL_ISA)
//   const kernels::DotKernels& dot = k.dot(wt);           // the llama.cpp pairing
//   // xq: kernels::activation_bytes(dot.act_type, n_cols) bytes, 64-byte aligned
//   kernels::quantize_activations(dot.act_type, x, xq, n_cols);             // once per x
//   dot.matvec(W, row_bytes, n_cols, row_begin, row_end, xq, y);            // per thread
//   // prefill, T tokens: quantize each into xq + t * stride, then
//   dot.matmul(W, row_bytes, n_cols, row_begin, row_end, xq, stride, T, Y, n_rows);
//
// Activations: every weight type has a fixed activation type, chosen as llama.cpp does, so the
// results match llama.cpp's up to float summation order:
//   Q4_0, Q5_0, Q8_0 -> Q8_0;  Q4_1, Q5_1 -> Q8_1;  Q4_K, Q5_K, Q6_K -> Q8_K;
//   F16 -> F16;  BF16 -> BF16;  F32 -> F32.
// Every weight type can also be paired with F32 activations ("exact" mode: the dot product of the
// exactly dequantized weights with unrounded activations; slower).
// A quantized activation buffer (act types Q8_0, Q8_1, Q8_K) holds the ggml blocks followed by a
// SIMD-friendly copy of the same numbers; its layout is private to the kernels: size it with
// activation_bytes() and fill it with quantize_activations(). F16/BF16/F32 activations are plain
// arrays.
//
// Alignment: activation rows must be 4-byte aligned (kActivationAlignment = 64 is faster); weight
// rows 2-byte aligned (F32 weights 4-byte), which GGUF's 32-byte tensor alignment guarantees.
//
// Threading is the caller's: every function works on a row range and touches nothing else, so
// threads may call them concurrently on disjoint row ranges. All functions are pure (no state).
//
// Row counts and lengths: n_cols must be a multiple of the weight type's block size (32 or 256;
// the GGUF reader guarantees it), rows are `row_bytes` apart (>= ggml_row_bytes(type, n_cols)).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "llm/quant/types.h"

namespace vigil::kernels {

// Instruction sets with their own kernels. Avx2 needs AVX2+FMA+F16C; Avx512 needs AVX-512
// F/BW/VL/DQ plus VNNI (Ice Lake / Cascade Lake and later, Zen 4); AVX512_BF16 is used for BF16
// dot products when the CPU has it. Neon is ARMv8 (aarch64) builds only.
enum class Isa { Scalar, Avx2, Avx512, Neon };

std::string_view isa_name(Isa isa);  // "scalar", "avx2", "avx512", "neon"
bool isa_available(Isa isa);         // compiled in and supported by this CPU
Isa best_isa();                      // the fastest available one

constexpr size_t kActivationAlignment = 64;

// Dot product of one weight row with one activation row of n values.
using VecDotFn = float (*)(int64_t n, const void* w_row, const void* x_act);

// y[r] = dot(row r of W, x) for r in [row_begin, row_end). W points at row 0; y is indexed by the
// absolute row number.
using MatvecFn = void (*)(const uint8_t* w, size_t row_bytes, int64_t n_cols, int64_t row_begin,
                          int64_t row_end, const void* x_act, float* y);

// Y[t * y_stride + r] = dot(row r of W, activation row t) for r in [row_begin, row_end) and t in
// [0, n_tokens). Activation row t starts at x_act + t * x_stride (bytes). Loads each weight tile
// once for several tokens: this is the prefill path. Equal to n_tokens matvec calls up to float
// summation order.
using MatmulFn = void (*)(const uint8_t* w, size_t row_bytes, int64_t n_cols, int64_t row_begin,
                          int64_t row_end, const void* x_act, size_t x_stride, int64_t n_tokens,
                          float* y, int64_t y_stride);

// Writes the n values of one row, dequantized exactly (bit-identical on every ISA).
using DequantizeRowFn = void (*)(const void* src, float* dst, int64_t n);

// out[i] = sum over j < n_rows of weights[j] * row_j[i] for i < n_cols, where row j holds n_cols
// values of the table's type at rows + j * row_stride (bytes); n_rows 0 gives zeros. The attention
// step that mixes the cached V rows by their probabilities. n_cols must be a multiple of the
// type's block size. Equal to dequantize-then-accumulate up to float rounding.
using WeightedRowSumFn = void (*)(const uint8_t* rows, size_t row_stride, int64_t n_rows,
                                  const float* weights, int64_t n_cols, float* out);

// Kernels for one (weight type, activation type) pair.
struct DotKernels {
  GgmlType weight_type = GgmlType::F32;
  GgmlType act_type = GgmlType::F32;
  VecDotFn vec_dot = nullptr;
  MatvecFn matvec = nullptr;
  MatmulFn matmul = nullptr;
};

// Weight types with kernels: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K.
constexpr int kNumWeightTypes = 11;
// Index of a weight type in the tables below, or -1 if it has no kernels.
int weight_type_index(GgmlType type);
bool has_kernels(GgmlType weight_type);

// All kernels of one ISA. Obtain with kernel_table() / kernels(); never build one yourself.
struct KernelTable {
  Isa isa = Isa::Scalar;
  DotKernels quantized[kNumWeightTypes];  // with activations of vec_dot_type(weight type)
  DotKernels exact[kNumWeightTypes];      // with F32 activations
  DequantizeRowFn dequantize[kNumWeightTypes] = {};
  WeightedRowSumFn weighted_row_sum[kNumWeightTypes] = {};

  // The kernels for `weight_type` with its llama.cpp activation type. Throws vigil::Error naming
  // the type if it has no kernels.
  const DotKernels& dot(GgmlType weight_type) const;
  // The kernels for `weight_type` with `act_type` activations: act_type must be
  // vec_dot_type(weight_type) or F32. Throws otherwise.
  const DotKernels& dot(GgmlType weight_type, GgmlType act_type) const;
  // Dequantizes one row (throws for a type without kernels or n not a multiple of its block).
  void dequantize_row(GgmlType type, const void* src, float* dst, int64_t n) const;
  // The WeightedRowSumFn of `type` (throws for a type without kernels). No length check: the
  // caller knows its rows (this sits on the attention's inner loop).
  WeightedRowSumFn row_sum(GgmlType type) const;
};

// The table of one ISA; throws vigil::Error if !isa_available(isa).
const KernelTable& kernel_table(Isa isa);
// The table to use: best_isa(), unless the environment variable VIGIL_ISA (scalar, avx2, avx512,
// neon) names another available ISA (for benchmarks and tests). Decided once, at the first call;
// an unknown or unavailable VIGIL_ISA throws vigil::Error.
const KernelTable& kernels();

// The activation type llama.cpp pairs with `weight_type` (see the top of this file). Throws for a
// type without kernels.
GgmlType vec_dot_type(GgmlType weight_type);
// Bytes of one activation row of n values of `act_type` (Q8_0, Q8_1, Q8_K, F16, BF16, F32).
size_t activation_bytes(GgmlType act_type, int64_t n);
// Quantizes (or converts) n floats into an activation row of `act_type`, exactly as llama.cpp's
// CPU backend does (see llm/quant/reference.h); bit-identical whatever the ISA.
void quantize_activations(GgmlType act_type, const float* x, void* out, int64_t n);

// Convenience wrappers over kernels() with the llama.cpp pairing.
float vec_dot(GgmlType weight_type, int64_t n, const void* w_row, const void* x_act);
void matvec(GgmlType weight_type, const uint8_t* w, size_t row_bytes, int64_t n_cols,
            int64_t row_begin, int64_t row_end, const void* x_act, float* y);
void matmul(GgmlType weight_type, const uint8_t* w, size_t row_bytes, int64_t n_cols,
            int64_t row_begin, int64_t row_end, const void* x_act, size_t x_stride,
            int64_t n_tokens, float* y, int64_t y_stride);
void dequantize_row(GgmlType type, const void* src, float* dst, int64_t n);

}  // namespace vigil::kernels
