// The scalar kernel table: the reference code of llm/quant/reference.h behind the KernelTable
// interface. Portable; the baseline every SIMD table is tested against.

#include <vector>

#include "llm/kernels/cpu/tables.h"
#include "llm/quant/reference.h"

namespace vigil::kernels::cpu {
namespace {

using namespace vigil::quant;

template <typename W, typename X, float (*F)(int64_t, const W*, const X*)>
float dot(int64_t n, const void* w, const void* x) {
  return F(n, static_cast<const W*>(w), static_cast<const X*>(x));
}

template <GgmlType T>
float dot_exact(int64_t n, const void* w, const void* x) {
  return vec_dot_f32_ref(T, n, w, static_cast<const float*>(x));
}

template <VecDotFn F>
void matvec_rows(const uint8_t* w, size_t row_bytes, int64_t n_cols, int64_t row_begin,
                 int64_t row_end, const void* x, float* y) {
  for (int64_t r = row_begin; r < row_end; ++r) y[r] = F(n_cols, w + r * row_bytes, x);
}

template <VecDotFn F>
void matmul_rows(const uint8_t* w, size_t row_bytes, int64_t n_cols, int64_t row_begin,
                 int64_t row_end, const void* x, size_t x_stride, int64_t n_tokens, float* y,
                 int64_t y_stride) {
  const auto* xb = static_cast<const uint8_t*>(x);
  for (int64_t r = row_begin; r < row_end; ++r) {
    for (int64_t t = 0; t < n_tokens; ++t) {
      y[t * y_stride + r] = F(n_cols, w + r * row_bytes, xb + t * x_stride);
    }
  }
}

template <GgmlType T>
void dequant(const void* src, float* dst, int64_t n) {
  dequantize_row_ref(T, src, dst, n);
}

// Reference: dequantize each row, then multiply and add (no fused multiply-add).
template <GgmlType T>
void weighted_sum(const uint8_t* rows, size_t row_stride, int64_t n_rows, const float* weights,
                  int64_t n_cols, float* out) {
  thread_local std::vector<float> row;
  row.resize(static_cast<size_t>(n_cols));
  for (int64_t i = 0; i < n_cols; ++i) out[i] = 0.0f;
  for (int64_t j = 0; j < n_rows; ++j) {
    dequantize_row_ref(T, rows + static_cast<size_t>(j) * row_stride, row.data(), n_cols);
    const float w = weights[j];
    for (int64_t i = 0; i < n_cols; ++i) {
      const float p = w * row[static_cast<size_t>(i)];
      out[i] = out[i] + p;
    }
  }
}

template <VecDotFn F>
DotKernels make(GgmlType w, GgmlType x) {
  return DotKernels{w, x, F, matvec_rows<F>, matmul_rows<F>};
}

template <GgmlType T>
void set_common(KernelTable& t, DotKernels quantized) {
  const int i = table_index(T);
  t.quantized[i] = quantized;
  t.exact[i] = make<dot_exact<T>>(T, GgmlType::F32);
  t.dequantize[i] = dequant<T>;
  t.weighted_row_sum[i] = weighted_sum<T>;
}

}  // namespace

void init_scalar_table(KernelTable& t) {
  t.isa = Isa::Scalar;
  set_common<GgmlType::F32>(
      t, make<dot<float, float, vec_dot_f32_f32_ref>>(GgmlType::F32, GgmlType::F32));
  set_common<GgmlType::F16>(
      t, make<dot<uint16_t, uint16_t, vec_dot_f16_f16_ref>>(GgmlType::F16, GgmlType::F16));
  set_common<GgmlType::BF16>(
      t, make<dot<uint16_t, uint16_t, vec_dot_bf16_bf16_ref>>(GgmlType::BF16, GgmlType::BF16));
  set_common<GgmlType::Q4_0>(
      t, make<dot<BlockQ4_0, BlockQ8_0, vec_dot_q4_0_q8_0_ref>>(GgmlType::Q4_0, GgmlType::Q8_0));
  set_common<GgmlType::Q4_1>(
      t, make<dot<BlockQ4_1, BlockQ8_1, vec_dot_q4_1_q8_1_ref>>(GgmlType::Q4_1, GgmlType::Q8_1));
  set_common<GgmlType::Q5_0>(
      t, make<dot<BlockQ5_0, BlockQ8_0, vec_dot_q5_0_q8_0_ref>>(GgmlType::Q5_0, GgmlType::Q8_0));
  set_common<GgmlType::Q5_1>(
      t, make<dot<BlockQ5_1, BlockQ8_1, vec_dot_q5_1_q8_1_ref>>(GgmlType::Q5_1, GgmlType::Q8_1));
  set_common<GgmlType::Q8_0>(
      t, make<dot<BlockQ8_0, BlockQ8_0, vec_dot_q8_0_q8_0_ref>>(GgmlType::Q8_0, GgmlType::Q8_0));
  set_common<GgmlType::Q4_K>(
      t, make<dot<BlockQ4_K, BlockQ8_K, vec_dot_q4_K_q8_K_ref>>(GgmlType::Q4_K, GgmlType::Q8_K));
  set_common<GgmlType::Q5_K>(
      t, make<dot<BlockQ5_K, BlockQ8_K, vec_dot_q5_K_q8_K_ref>>(GgmlType::Q5_K, GgmlType::Q8_K));
  set_common<GgmlType::Q6_K>(
      t, make<dot<BlockQ6_K, BlockQ8_K, vec_dot_q6_K_q8_K_ref>>(GgmlType::Q6_K, GgmlType::Q8_K));
}

}  // namespace vigil::kernels::cpu
