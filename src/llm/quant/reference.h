// Scalar reference code for the ggml block formats: dequantization, the quantizers that produce
// the activation blocks of the dot products, ggml's reference weight quantizers for the simple
// block types, and dot products written for clarity. The SIMD kernels (llm/kernels) are tested
// against these.
//
// Numerics follow ggml exactly where that matters:
//  * dequantize_row_ref gives bit-identical results to ggml's dequantize_row_* (same operation
//    order, no fused multiply-add).
//  * quantize_row_q8_0 / q8_1 are the activation quantizers llama.cpp's CPU backend runs on x86
//    (AVX/AVX2/AVX-512) and ARM (NEON): d = amax / 127 stored as fp16, q = round-half-even(x *
//    (127 / amax)). ggml's portable C fallback (quantize_row_q8_0_ref: q = roundf(x * (1 / d)),
//    ties away from zero) differs in the last bit for a few values; it is what llama-quantize
//    writes into Q8_0 model files, so it is provided separately.
//  * quantize_row_q8_K is ggml's quantize_row_q8_K_ref, which every CPU backend uses.
#pragma once

#include <cstdint>

#include "llm/quant/blocks.h"
#include "llm/quant/types.h"

namespace vigil::quant {

// Types dequantize_row_ref handles: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1, Q4_K,
// Q5_K, Q6_K, Q8_K (Q8_1 and Q8_K are activation types; dequantizing them is for tests).
bool can_dequantize(GgmlType type);

// Writes the `n` values of one row stored at `src` to `dst`. `n` must be a multiple of the
// type's block size; throws vigil::Error for an unsupported type or a bad `n`.
void dequantize_row_ref(GgmlType type, const void* src, float* dst, int64_t n);

// Activation quantizers (n a multiple of 32, or of 256 for Q8_K; unchecked).
void quantize_row_q8_0(const float* x, BlockQ8_0* y, int64_t n);
void quantize_row_q8_1(const float* x, BlockQ8_1* y, int64_t n);
void quantize_row_q8_K(const float* x, BlockQ8_K* y, int64_t n);

// ggml's reference weight quantizers (quantize_row_*_ref), byte-identical to llama-quantize
// without an importance matrix.
void quantize_row_q8_0_ref(const float* x, BlockQ8_0* y, int64_t n);
void quantize_row_q8_1_ref(const float* x, BlockQ8_1* y, int64_t n);
void quantize_row_q4_0_ref(const float* x, BlockQ4_0* y, int64_t n);
void quantize_row_q4_1_ref(const float* x, BlockQ4_1* y, int64_t n);
void quantize_row_q5_0_ref(const float* x, BlockQ5_0* y, int64_t n);
void quantize_row_q5_1_ref(const float* x, BlockQ5_1* y, int64_t n);

// Reference dot products of one weight row with one row of activations (n values).
float vec_dot_q4_0_q8_0_ref(int64_t n, const BlockQ4_0* w, const BlockQ8_0* x);
float vec_dot_q4_1_q8_1_ref(int64_t n, const BlockQ4_1* w, const BlockQ8_1* x);
float vec_dot_q5_0_q8_0_ref(int64_t n, const BlockQ5_0* w, const BlockQ8_0* x);
float vec_dot_q5_1_q8_1_ref(int64_t n, const BlockQ5_1* w, const BlockQ8_1* x);
float vec_dot_q8_0_q8_0_ref(int64_t n, const BlockQ8_0* w, const BlockQ8_0* x);
float vec_dot_q4_K_q8_K_ref(int64_t n, const BlockQ4_K* w, const BlockQ8_K* x);
float vec_dot_q5_K_q8_K_ref(int64_t n, const BlockQ5_K* w, const BlockQ8_K* x);
float vec_dot_q6_K_q8_K_ref(int64_t n, const BlockQ6_K* w, const BlockQ8_K* x);
// Plain types accumulate in double.
float vec_dot_f16_f16_ref(int64_t n, const uint16_t* w, const uint16_t* x);
float vec_dot_bf16_bf16_ref(int64_t n, const uint16_t* w, const uint16_t* x);
float vec_dot_f32_f32_ref(int64_t n, const float* w, const float* x);
// Any dequantizable weight type with f32 activations: the exact dot of the dequantized row
// (accumulated in double).
float vec_dot_f32_ref(GgmlType weight_type, int64_t n, const void* w, const float* x);

}  // namespace vigil::quant
