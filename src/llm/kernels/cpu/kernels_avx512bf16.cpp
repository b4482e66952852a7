// BF16 x BF16 dot products with AVX512_BF16's vdpbf16ps (32 products per instruction, f32
// accumulation), as llama.cpp uses them. Compiled with -mavx512bf16 on top of the AVX-512 flags;
// only reached through init_avx512_bf16_entries() when CPUID reports AVX512_BF16.
// vdpbf16ps treats subnormal inputs as zero; weights and activations of real models are far from
// the subnormal range.

#if defined(__x86_64__)

// GCC 12's AVX-512 headers implement _mm512_undefined_*() as a self-initialised variable, which
// -Wuninitialized reports wherever such an intrinsic is inlined (GCC bug 105593).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "llm/kernels/cpu/drivers.h"
#include "llm/kernels/cpu/tables.h"

namespace vigil::kernels::cpu {
namespace {

inline __m512bh bf16x32(const uint8_t* row, int64_t i, __mmask32 m) {
  return (__m512bh)_mm512_maskz_loadu_epi16(m, row + 2 * i);
}

template <int R, int T>
inline void step(const uint8_t* w, size_t row_bytes, const uint8_t* x, size_t x_stride, int64_t i,
                 __mmask32 m, __m512 (&acc)[R][T]) {
  __m512bh wv[R];
  for (int r = 0; r < R; ++r) wv[r] = bf16x32(w + r * row_bytes, i, m);
  for (int t = 0; t < T; ++t) {
    const __m512bh xv = bf16x32(x + t * x_stride, i, m);
    for (int r = 0; r < R; ++r) acc[r][t] = _mm512_dpbf16_ps(acc[r][t], wv[r], xv);
  }
}

struct Bf16Tile {
  template <int R, int T>
  static void run(const uint8_t* w, size_t row_bytes, int64_t n, const uint8_t* x, size_t x_stride,
                  float* res) {
    __m512 acc[R][T];
    for (int r = 0; r < R; ++r) {
      for (int t = 0; t < T; ++t) acc[r][t] = _mm512_setzero_ps();
    }
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) step<R, T>(w, row_bytes, x, x_stride, i, 0xFFFFFFFFu, acc);
    if (i < n) {
      step<R, T>(w, row_bytes, x, x_stride, i, _cvtu32_mask32((1u << (n - i)) - 1u), acc);
    }
    for (int r = 0; r < R; ++r) {
      for (int t = 0; t < T; ++t) res[r * T + t] = _mm512_reduce_add_ps(acc[r][t]);
    }
  }
};

}  // namespace

void init_avx512_bf16_entries(KernelTable& t) {
  t.quantized[table_index(GgmlType::BF16)] = make_tiled<Bf16Tile>(GgmlType::BF16, GgmlType::BF16);
}

}  // namespace vigil::kernels::cpu

#endif  // __x86_64__
