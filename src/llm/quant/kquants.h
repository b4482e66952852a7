// Weight quantizers for the k-quant types (Q4_K, Q5_K, Q6_K) and the importance-weighted
// variants of every type llama.cpp quantizes with an importance matrix, byte-identical to
// ggml's: quantize_row_{q4,q5,q6}_K_ref without importance, quantize_row_*_impl with it.
//
// How the k-quants choose their numbers (all in ggml's float operation order, no FMA, ggml's
// nearest_int rounding, fp16 round-to-nearest-even of the stored scales):
//  * Q4_K / Q5_K: a 256-value super-block of eight 32-value sub-blocks. Each sub-block gets an
//    affine fit x ~ scale * q - min (q in [0, 15] or [0, 31]) by a grid search over the inverse
//    scale (make_qkx2_quants, or make_qkx3_quants with importance) that minimises a weighted
//    squared error. The eight scales and mins are then quantized to 6 bits against the
//    super-block's fp16 d and dmin (max / 63, or the weighted fit make_qp_quants with
//    importance), and the values are requantized with the rounded scales.
//  * Q6_K: sixteen 16-value sub-blocks with a symmetric fit (make_qx_quants, q in [-32, 31]),
//    the sixteen scales stored as int8 against an fp16 d = max_scale / -128.
// With importance weights w[j] (the imatrix mean of squared activations of input column j), the
// error of value j is weighted by w[j] * sqrt(sigma2 + x[j]^2) for the types that use it.
#pragma once

#include <cstddef>
#include <cstdint>

#include "llm/quant/blocks.h"
#include "llm/quant/types.h"

namespace vigil::quant {

// ggml's reference quantizers (no importance); n a multiple of 256.
void quantize_row_q4_K_ref(const float* x, BlockQ4_K* y, int64_t n);
void quantize_row_q5_K_ref(const float* x, BlockQ5_K* y, int64_t n);
void quantize_row_q6_K_ref(const float* x, BlockQ6_K* y, int64_t n);

// ggml's importance-weighted quantizers of ONE row of `n_per_row` values; `quant_weights` holds
// n_per_row weights (one per column). A null `quant_weights` falls back to the reference
// quantizer for the 32-block types, and to ggml's unweighted search for the k-quants (what
// ggml's *_impl functions do; llama.cpp itself only calls them with weights).
void quantize_row_q4_0_imatrix(const float* x, BlockQ4_0* y, int64_t n_per_row,
                               const float* quant_weights);
void quantize_row_q4_1_imatrix(const float* x, BlockQ4_1* y, int64_t n_per_row,
                               const float* quant_weights);
void quantize_row_q5_0_imatrix(const float* x, BlockQ5_0* y, int64_t n_per_row,
                               const float* quant_weights);
void quantize_row_q5_1_imatrix(const float* x, BlockQ5_1* y, int64_t n_per_row,
                               const float* quant_weights);
void quantize_row_q4_K_imatrix(const float* x, BlockQ4_K* y, int64_t n_per_row,
                               const float* quant_weights);
void quantize_row_q5_K_imatrix(const float* x, BlockQ5_K* y, int64_t n_per_row,
                               const float* quant_weights);
void quantize_row_q6_K_imatrix(const float* x, BlockQ6_K* y, int64_t n_per_row,
                               const float* quant_weights);

// Types quantize_rows can produce: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K,
// Q6_K.
bool can_quantize(GgmlType type);

// ggml_quantize_chunk: quantizes `n_rows` rows of `n_per_row` values from `src` into `dst`
// (n_rows * ggml_row_bytes(type, n_per_row) bytes) and returns the bytes written.
// `quant_weights` (n_per_row floats, or null) is the importance of each column; Q8_0 and the
// plain types ignore it, as ggml does. F16 and BF16 round to nearest even. Throws vigil::Error
// for a type it cannot produce or a row length that is not a multiple of the block size.
size_t quantize_rows(GgmlType type, const float* src, void* dst, int64_t n_rows, int64_t n_per_row,
                     const float* quant_weights);

}  // namespace vigil::quant
