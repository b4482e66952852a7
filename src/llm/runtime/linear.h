// Matrix products of the forward pass: Y = X · Wᵀ for a batch of tokens, on the stored weight
// bytes. Activations are quantized once per call to the weight type's dot format (q8_0, q8_K …)
// and the rows of W are split across the thread pool.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/thread_pool.h"
#include "llm/model/weights.h"

namespace vigil {

// X: [n_tokens][W.cols] f32. Y: [n_tokens][W.rows] f32. `scratch` holds quantized activations
// (grown on first use, then reused). `exact`: dequantize each weight row to f32 and use f32
// activations (reference mode).
void linear(const Tensor& W, const float* X, int64_t n_tokens, float* Y, ThreadPool& pool,
            std::vector<uint8_t>& scratch, bool exact);

// Several products with the same input X (q/k/v, gate/up): Y_i = X · W_iᵀ. Equal to calling
// linear() for each, but X is quantized once per activation type and all rows of all matrices run
// in one parallel step, which saves a fork/join and keeps both cores streaming during decode.
// Prefill gives each thread the same slice of every matrix; decode (one token) hands the rows out
// in ~1 MiB chunks to whichever thread is free, with results identical on any thread count.
// At most 4 products.
struct LinearOut {
  const Tensor* W;
  float* Y;  // [n_tokens][W->rows]
};
void linear_group(std::span<const LinearOut> outs, const float* X, int64_t n_tokens,
                  ThreadPool& pool, std::vector<uint8_t>& scratch, bool exact);

// Reads row `r` of `t` as f32 (embedding lookup, small tensors).
void tensor_row_f32(const Tensor& t, int64_t r, float* out);

// Writes n f32 values into a row of `type` (F32, F16 or Q8_0: the KV cache types).
void store_row(GgmlType type, const float* src, uint8_t* dst, int64_t n);

}  // namespace vigil
