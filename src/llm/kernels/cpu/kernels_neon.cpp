// NEON kernels for aarch64 (NEON is part of the baseline there, so no run-time check; the int8
// dot product instruction is used when the build targets it, e.g. -march=armv8.2-a+dotprod).
// A minimal set: Q4_0 and Q8_0 with Q8_0 activations, F16 and F32. Every other entry keeps the
// scalar kernels. These read the ggml blocks of the activation rows, not the packed copy.

#if defined(__aarch64__) && defined(__ARM_NEON)

#include <arm_neon.h>

#include <cstddef>
#include <cstdint>

#include "llm/kernels/cpu/drivers.h"
#include "llm/kernels/cpu/tables.h"
#include "llm/quant/blocks.h"

namespace vigil::kernels::cpu {
namespace {

using quant::BlockQ4_0;
using quant::BlockQ8_0;
using quant::fp16_to_fp32;

inline int32x4_t dot16(int32x4_t acc, int8x16_t a, int8x16_t b) {
#if defined(__ARM_FEATURE_DOTPROD)
  return vdotq_s32(acc, a, b);
#else
  const int16x8_t lo = vmull_s8(vget_low_s8(a), vget_low_s8(b));
  const int16x8_t hi = vmull_high_s8(a, b);
  return vpadalq_s16(vpadalq_s16(acc, lo), hi);
#endif
}

float dot_q4_0(int64_t n, const void* w, const void* x) {
  const auto* wb = static_cast<const BlockQ4_0*>(w);
  const auto* xb = static_cast<const BlockQ8_0*>(x);
  const uint8x16_t m4 = vdupq_n_u8(0x0F);
  const int8x16_t off = vdupq_n_s8(8);
  float sum = 0;
  for (int64_t i = 0; i < n / 32; ++i) {
    const uint8x16_t q = vld1q_u8(wb[i].qs);
    const int8x16_t lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(q, m4)), off);
    const int8x16_t hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(q, 4)), off);
    int32x4_t acc = vdupq_n_s32(0);
    acc = dot16(acc, lo, vld1q_s8(xb[i].qs));
    acc = dot16(acc, hi, vld1q_s8(xb[i].qs + 16));
    sum += static_cast<float>(vaddvq_s32(acc)) * (fp16_to_fp32(wb[i].d) * fp16_to_fp32(xb[i].d));
  }
  return sum;
}

float dot_q8_0(int64_t n, const void* w, const void* x) {
  const auto* wb = static_cast<const BlockQ8_0*>(w);
  const auto* xb = static_cast<const BlockQ8_0*>(x);
  float sum = 0;
  for (int64_t i = 0; i < n / 32; ++i) {
    int32x4_t acc = vdupq_n_s32(0);
    acc = dot16(acc, vld1q_s8(wb[i].qs), vld1q_s8(xb[i].qs));
    acc = dot16(acc, vld1q_s8(wb[i].qs + 16), vld1q_s8(xb[i].qs + 16));
    sum += static_cast<float>(vaddvq_s32(acc)) * (fp16_to_fp32(wb[i].d) * fp16_to_fp32(xb[i].d));
  }
  return sum;
}

inline float32x4_t f16x4(const uint16_t* p) {
  return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p)));
}

float dot_f16(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const uint16_t*>(w);
  const auto* b = static_cast<const uint16_t*>(x);
  float32x4_t acc0 = vdupq_n_f32(0), acc1 = vdupq_n_f32(0);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    acc0 = vfmaq_f32(acc0, f16x4(a + i), f16x4(b + i));
    acc1 = vfmaq_f32(acc1, f16x4(a + i + 4), f16x4(b + i + 4));
  }
  float sum = vaddvq_f32(vaddq_f32(acc0, acc1));
  for (; i < n; ++i) sum += fp16_to_fp32(a[i]) * fp16_to_fp32(b[i]);
  return sum;
}

float dot_f32(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const float*>(w);
  const auto* b = static_cast<const float*>(x);
  float32x4_t acc0 = vdupq_n_f32(0), acc1 = vdupq_n_f32(0);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    acc0 = vfmaq_f32(acc0, vld1q_f32(a + i), vld1q_f32(b + i));
    acc1 = vfmaq_f32(acc1, vld1q_f32(a + i + 4), vld1q_f32(b + i + 4));
  }
  float sum = vaddvq_f32(vaddq_f32(acc0, acc1));
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

}  // namespace

void init_neon_table(KernelTable& t) {
  t.isa = Isa::Neon;
  t.quantized[table_index(GgmlType::Q4_0)] = make_rows<dot_q4_0>(GgmlType::Q4_0, GgmlType::Q8_0);
  t.quantized[table_index(GgmlType::Q8_0)] = make_rows<dot_q8_0>(GgmlType::Q8_0, GgmlType::Q8_0);
  t.quantized[table_index(GgmlType::F16)] = make_rows<dot_f16>(GgmlType::F16, GgmlType::F16);
  t.quantized[table_index(GgmlType::F32)] = make_rows<dot_f32>(GgmlType::F32, GgmlType::F32);
  t.exact[table_index(GgmlType::F32)] = make_rows<dot_f32>(GgmlType::F32, GgmlType::F32);
}

}  // namespace vigil::kernels::cpu

#endif  // __aarch64__ && __ARM_NEON
