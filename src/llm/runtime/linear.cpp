#include "llm/runtime/linear.h"

#include <algorithm>
#include <cstring>

#include "base/error.h"
#include "llm/kernels/kernels.h"
#include "llm/quant/blocks.h"
#include "llm/quant/reference.h"

namespace vigil {
namespace {

// Rows per task: enough to amortise dispatch, small enough to balance 2-16 threads.
constexpr int64_t kRowGrain = 16;

}  // namespace

void tensor_row_f32(const Tensor& t, int64_t r, float* out) {
  if (r < 0 || r >= t.rows) fail("tensor '{}': row {} out of range ({} rows)", t.name, r, t.rows);
  kernels::dequantize_row(t.type, t.row(r), out, t.cols);
}

void store_row(GgmlType type, const float* src, uint8_t* dst, int64_t n) {
  switch (type) {
    case GgmlType::F32:
      std::memcpy(dst, src, sizeof(float) * static_cast<size_t>(n));
      return;
    case GgmlType::F16: {
      auto* out = reinterpret_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) out[i] = quant::fp32_to_fp16(src[i]);
      return;
    }
    case GgmlType::Q8_0:
      quant::quantize_row_q8_0(src, reinterpret_cast<quant::BlockQ8_0*>(dst), n);
      return;
    default:
      fail("store_row: type {} is not a KV cache type", ggml_type_name(type));
  }
}

void load_row(GgmlType type, const uint8_t* src, float* dst, int64_t n) {
  if (type == GgmlType::F32) {
    std::memcpy(dst, src, sizeof(float) * static_cast<size_t>(n));
    return;
  }
  kernels::dequantize_row(type, src, dst, n);
}

void linear(const Tensor& W, const float* X, int64_t n_tokens, float* Y, ThreadPool& pool,
            std::vector<uint8_t>& scratch, bool exact) {
  const int64_t n_cols = W.cols;
  const int64_t n_rows = W.rows;
  const size_t row_bytes = W.row_bytes();
  const kernels::KernelTable& table = kernels::kernels();
  // Exact mode pairs every weight type with f32 activations; otherwise llama.cpp's pairing.
  const kernels::DotKernels& k = exact ? table.dot(W.type, GgmlType::F32) : table.dot(W.type);
  const void* x_act = X;
  size_t x_stride = static_cast<size_t>(n_cols) * sizeof(float);
  if (k.act_type != GgmlType::F32) {
    // Quantize the activations once per call (tokens split across threads).
    x_stride = kernels::activation_bytes(k.act_type, n_cols);
    const size_t need = x_stride * static_cast<size_t>(n_tokens);
    if (scratch.size() < need) scratch.resize(need);
    uint8_t* xq = scratch.data();
    pool.parallel_for(n_tokens, 1, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        kernels::quantize_activations(k.act_type, X + t * n_cols, xq + static_cast<size_t>(t) * x_stride, n_cols);
      }
    });
    x_act = xq;
  }
  pool.parallel_for(n_rows, kRowGrain, [&](int64_t r0, int64_t r1) {
    if (n_tokens == 1) {
      k.matvec(W.data, row_bytes, n_cols, r0, r1, x_act, Y);
    } else {
      k.matmul(W.data, row_bytes, n_cols, r0, r1, x_act, x_stride, n_tokens, Y, n_rows);
    }
  });
}

}  // namespace vigil
