// AVX2 kernels (AVX2 + FMA + F16C). Compiled with -mavx2 -mfma -mf16c (flags.cmake); only
// reached through init_avx2_table(), which dispatch.cpp calls when CPUID reports the features.
// Same rules as kernels_avx512.cpp: anonymous namespace, no std:: templates.
//
// The scheme is the AVX-512 one on 256-bit registers (see kernels_avx512.cpp), with
// vpmaddubsw + vpmaddwd in place of vpdpbusd, and half groups (2 blocks) of the packed Q8_0/Q8_1
// activations. Q8_0 weights are signed, so they use the sign trick (|w| x sign(w) * y) instead of
// an offset. Tiles are at most 2 rows x 2 tokens (16 ymm registers).

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
#include <cstring>

#include "llm/kernels/cpu/act_layout.h"
#include "llm/kernels/cpu/drivers.h"
#include "llm/kernels/cpu/tables.h"

namespace vigil::kernels::cpu {
namespace {

inline __m256i load256(const void* p) {
  return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}
inline __m128i load128(const void* p) {
  return _mm_loadu_si128(static_cast<const __m128i*>(p));
}
inline __m256 loadps(const uint8_t* p) {
  return _mm256_loadu_ps(reinterpret_cast<const float*>(p));
}
inline uint16_t load_u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
inline uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
inline float half_at(const uint8_t* p) {
  return _cvtsh_ss(load_u16(p));
}

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Two 16-byte loads -> one ymm.
inline __m256i load2x16(const uint8_t* lo, const uint8_t* hi) {
  return _mm256_inserti128_si256(_mm256_castsi128_si256(load128(lo)), load128(hi), 1);
}
// [a x4, b x4]
inline __m256 pair4(float a, float b) {
  return _mm256_set_m128(_mm_set1_ps(b), _mm_set1_ps(a));
}

// 32 bits -> 32 bytes, 0xFF where the bit is set (bit i -> byte i).
inline __m256i bytes_from_bits(uint32_t bits) {
  const __m256i shuf = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101,
                                         0x0000000000000000);
  __m256i b = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(bits)), shuf);
  b = _mm256_or_si256(b, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe));
  return _mm256_cmpeq_epi8(b, _mm256_set1_epi64x(-1));
}

inline __m256i sum_pairs_i16(__m256i v) {
  return _mm256_madd_epi16(v, _mm256_set1_epi16(1));
}

// ---------------------------------------------------------------------------------------------
// Quantized kernels on half groups (2 blocks) / super-blocks. Packed activation half group g:
// lo at +0, hi at +64, d at +128, aux at +192 from act(base, g).

inline const uint8_t* half_group(const uint8_t* base, int64_t g) {
  return base + (g >> 1) * kGroupBytes + (g & 1) * 32;
}

struct Q4W {
  __m256i lo, hi;
  __m256 d;
};
struct Q4X {
  const uint8_t* p;
};

// Unsigned weight quants with an offset of 2^shift (Q4_0: 3, Q5_0: 4).
template <int kShift>
inline __m256 madd_q4(const Q4W& w, const Q4X& x, __m256 acc) {
  const __m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(w.lo, load256(x.p + kGroupLo)),
                                     _mm256_maddubs_epi16(w.hi, load256(x.p + kGroupHi)));
  const __m256i i =
      _mm256_add_epi32(sum_pairs_i16(p), _mm256_slli_epi32(load256(x.p + kGroupAux), kShift));
  return _mm256_fmadd_ps(_mm256_cvtepi32_ps(i), _mm256_mul_ps(w.d, loadps(x.p + kGroupD)), acc);
}

struct Q4_0K {
  static constexpr int kBlockValues = 32;
  static constexpr size_t kBlockBytes = 18;
  static constexpr int kBlocksPerGroup = 2;
  static constexpr size_t kActBlockBytes = 34;
  using W = Q4W;
  using X = Q4X;
  static inline const uint8_t* act(const uint8_t* base, int64_t g) { return half_group(base, g); }
  static inline void prepare(const uint8_t* b, W& w) {
    const __m256i q = load2x16(b + 2, b + 20);
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    w.lo = _mm256_and_si256(q, m4);
    w.hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
    w.d = pair4(half_at(b), half_at(b + 18));
  }
  static inline void load_x(const uint8_t* p, X& x) { x.p = p; }
  static inline __m256 madd(const W& w, const X& x, __m256 acc) { return madd_q4<3>(w, x, acc); }
};

struct Q5_0K {
  static constexpr int kBlockValues = 32;
  static constexpr size_t kBlockBytes = 22;
  static constexpr int kBlocksPerGroup = 2;
  static constexpr size_t kActBlockBytes = 34;
  using W = Q4W;
  using X = Q4X;
  static inline const uint8_t* act(const uint8_t* base, int64_t g) { return half_group(base, g); }
  static inline void prepare(const uint8_t* b, W& w) {
    const __m256i q = load2x16(b + 6, b + 28);
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    const __m256i bit4 = _mm256_set1_epi8(0x10);
    const uint32_t h0 = load_u32(b + 2), h1 = load_u32(b + 24);
    const uint32_t lo_bits = (h0 & 0xFFFFu) | (h1 << 16);
    const uint32_t hi_bits = (h0 >> 16) | (h1 & 0xFFFF0000u);
    w.lo =
        _mm256_or_si256(_mm256_and_si256(q, m4), _mm256_and_si256(bytes_from_bits(lo_bits), bit4));
    w.hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), m4),
                           _mm256_and_si256(bytes_from_bits(hi_bits), bit4));
    w.d = pair4(half_at(b), half_at(b + 22));
  }
  static inline void load_x(const uint8_t* p, X& x) { x.p = p; }
  static inline __m256 madd(const W& w, const X& x, __m256 acc) { return madd_q4<4>(w, x, acc); }
};

struct Q8_0K {
  static constexpr int kBlockValues = 32;
  static constexpr size_t kBlockBytes = 34;
  static constexpr int kBlocksPerGroup = 2;
  static constexpr size_t kActBlockBytes = 34;
  struct W {
    __m256i lo, hi;    // signed quants
    __m256i alo, ahi;  // their absolute values
    __m256 d;
  };
  using X = Q4X;
  static inline const uint8_t* act(const uint8_t* base, int64_t g) { return half_group(base, g); }
  static inline void prepare(const uint8_t* b, W& w) {
    const __m256i a = load256(b + 2), c = load256(b + 36);
    w.lo = _mm256_permute2x128_si256(a, c, 0x20);
    w.hi = _mm256_permute2x128_si256(a, c, 0x31);
    w.alo = _mm256_sign_epi8(w.lo, w.lo);
    w.ahi = _mm256_sign_epi8(w.hi, w.hi);
    w.d = pair4(half_at(b), half_at(b + 34));
  }
  static inline void load_x(const uint8_t* p, X& x) { x.p = p; }
  static inline __m256 madd(const W& w, const X& x, __m256 acc) {
    const __m256i ylo = _mm256_sign_epi8(load256(x.p + kGroupLo), w.lo);
    const __m256i yhi = _mm256_sign_epi8(load256(x.p + kGroupHi), w.hi);
    const __m256i i = _mm256_add_epi32(sum_pairs_i16(_mm256_maddubs_epi16(w.alo, ylo)),
                                       sum_pairs_i16(_mm256_maddubs_epi16(w.ahi, yhi)));
    return _mm256_fmadd_ps(_mm256_cvtepi32_ps(i), _mm256_mul_ps(w.d, loadps(x.p + kGroupD)), acc);
  }
};

struct Q1W {
  __m256i lo, hi;
  __m256 d, m;
};
inline __m256 madd_q1(const Q1W& w, const Q4X& x, __m256 acc) {
  const __m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(w.lo, load256(x.p + kGroupLo)),
                                     _mm256_maddubs_epi16(w.hi, load256(x.p + kGroupHi)));
  acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum_pairs_i16(p)),
                        _mm256_mul_ps(w.d, loadps(x.p + kGroupD)), acc);
  return _mm256_fmadd_ps(w.m, loadps(x.p + kGroupAux), acc);
}

struct Q4_1K {
  static constexpr int kBlockValues = 32;
  static constexpr size_t kBlockBytes = 20;
  static constexpr int kBlocksPerGroup = 2;
  static constexpr size_t kActBlockBytes = 36;
  using W = Q1W;
  using X = Q4X;
  static inline const uint8_t* act(const uint8_t* base, int64_t g) { return half_group(base, g); }
  static inline void prepare(const uint8_t* b, W& w) {
    const __m256i q = load2x16(b + 4, b + 24);
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    w.lo = _mm256_and_si256(q, m4);
    w.hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
    w.d = pair4(half_at(b), half_at(b + 20));
    w.m = pair4(half_at(b + 2), half_at(b + 22));
  }
  static inline void load_x(const uint8_t* p, X& x) { x.p = p; }
  static inline __m256 madd(const W& w, const X& x, __m256 acc) { return madd_q1(w, x, acc); }
};

struct Q5_1K {
  static constexpr int kBlockValues = 32;
  static constexpr size_t kBlockBytes = 24;
  static constexpr int kBlocksPerGroup = 2;
  static constexpr size_t kActBlockBytes = 36;
  using W = Q1W;
  using X = Q4X;
  static inline const uint8_t* act(const uint8_t* base, int64_t g) { return half_group(base, g); }
  static inline void prepare(const uint8_t* b, W& w) {
    const __m256i q = load2x16(b + 8, b + 32);
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    const __m256i bit4 = _mm256_set1_epi8(0x10);
    const uint32_t h0 = load_u32(b + 4), h1 = load_u32(b + 28);
    const uint32_t lo_bits = (h0 & 0xFFFFu) | (h1 << 16);
    const uint32_t hi_bits = (h0 >> 16) | (h1 & 0xFFFF0000u);
    w.lo =
        _mm256_or_si256(_mm256_and_si256(q, m4), _mm256_and_si256(bytes_from_bits(lo_bits), bit4));
    w.hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), m4),
                           _mm256_and_si256(bytes_from_bits(hi_bits), bit4));
    w.d = pair4(half_at(b), half_at(b + 24));
    w.m = pair4(half_at(b + 2), half_at(b + 26));
  }
  static inline void load_x(const uint8_t* p, X& x) { x.p = p; }
  static inline __m256 madd(const W& w, const X& x, __m256 acc) { return madd_q1(w, x, acc); }
};

// -- k-quants x Q8_K --
struct KX {
  const uint8_t* p;
  __m256 dy;
};
inline void load_kx(const uint8_t* p, KX& x) {
  x.p = p;
  x.dy = loadps(p + kSuperD);
}

inline void unpack_k4_scales(const uint8_t* s, uint64_t* sc, uint64_t* mn) {
  const uint32_t w0 = load_u32(s), w1 = load_u32(s + 4), w2 = load_u32(s + 8);
  const uint32_t sc_hi = (w2 & 0x0f0f0f0fu) | ((w0 >> 2) & 0x30303030u);
  const uint32_t mn_hi = ((w2 >> 4) & 0x0f0f0f0fu) | ((w1 >> 2) & 0x30303030u);
  *sc = (w0 & 0x3f3f3f3fu) | (static_cast<uint64_t>(sc_hi) << 32);
  *mn = (w1 & 0x3f3f3f3fu) | (static_cast<uint64_t>(mn_hi) << 32);
}

struct K4W {
  __m256i q[8];   // 32 quants of sub-block j (value order)
  __m256i sc[8];  // scale_j as 16 words
  __m256 d;
  __m256 dm;  // dmin * min_j
};

inline void k4_scales(const uint8_t* b, K4W& w) {
  uint64_t sc, mn;
  unpack_k4_scales(b + 4, &sc, &mn);
  for (int j = 0; j < 8; ++j) {
    w.sc[j] = _mm256_set1_epi16(static_cast<int16_t>((sc >> (8 * j)) & 0xFF));
  }
  const __m256 mins =
      _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128(static_cast<long long>(mn))));
  w.dm = _mm256_mul_ps(mins, _mm256_set1_ps(half_at(b + 2)));
  w.d = _mm256_set1_ps(half_at(b));
}

inline __m256 madd_k4(const K4W& w, const KX& x, __m256 acc) {
  __m256i a = _mm256_setzero_si256();
  for (int j = 0; j < 8; ++j) {
    const __m256i p = _mm256_maddubs_epi16(w.q[j], load256(x.p + 32 * j));
    a = _mm256_add_epi32(a, _mm256_madd_epi16(p, w.sc[j]));
  }
  acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(a), _mm256_mul_ps(w.d, x.dy), acc);
  return _mm256_fnmadd_ps(w.dm, loadps(x.p + kSuperDsum), acc);
}

struct Q4_KK {
  static constexpr int kBlockValues = 256;
  static constexpr size_t kBlockBytes = 144;
  static constexpr int kBlocksPerGroup = 1;
  using W = K4W;
  using X = KX;
  static inline const uint8_t* act(const uint8_t* base, int64_t g) {
    return base + g * kSuperBytes;
  }
  static inline void prepare(const uint8_t* b, W& w) {
    k4_scales(b, w);
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    for (int c = 0; c < 4; ++c) {
      const __m256i q = load256(b + 16 + 32 * c);
      w.q[2 * c] = _mm256_and_si256(q, m4);
      w.q[2 * c + 1] = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
    }
  }
  static inline void load_x(const uint8_t* p, X& x) { load_kx(p, x); }
  static inline __m256 madd(const W& w, const X& x, __m256 acc) { return madd_k4(w, x, acc); }
};

struct Q5_KK {
  static constexpr int kBlockValues = 256;
  static constexpr size_t kBlockBytes = 176;
  static constexpr int kBlocksPerGroup = 1;
  using W = K4W;
  using X = KX;
  static inline const uint8_t* act(const uint8_t* base, int64_t g) {
    return base + g * kSuperBytes;
  }
  static inline void prepare(const uint8_t* b, W& w) {
    k4_scales(b, w);
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    const __m256i bit4 = _mm256_set1_epi8(0x10);
    const __m256i qh = load256(b + 16);
    for (int c = 0; c < 4; ++c) {
      const __m256i q = load256(b + 48 + 32 * c);
      const __m256i b0 = _mm256_set1_epi8(static_cast<char>(1 << (2 * c)));
      const __m256i b1 = _mm256_set1_epi8(static_cast<char>(2 << (2 * c)));
      const __m256i h0 = _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(qh, b0), b0), bit4);
      const __m256i h1 = _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(qh, b1), b1), bit4);
      w.q[2 * c] = _mm256_or_si256(_mm256_and_si256(q, m4), h0);
      w.q[2 * c + 1] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), m4), h1);
    }
  }
  static inline void load_x(const uint8_t* p, X& x) { load_kx(p, x); }
  static inline __m256 madd(const W& w, const X& x, __m256 acc) { return madd_k4(w, x, acc); }
};

struct Q6_KK {
  static constexpr int kBlockValues = 256;
  static constexpr size_t kBlockBytes = 210;
  static constexpr int kBlocksPerGroup = 1;
  struct W {
    __m256i q[8];   // unsigned 6-bit quants of values 32j .. 32j+31
    __m256i sc[8];  // words 0..7: scale 2j, words 8..15: scale 2j+1
    __m256i bias;   // -32 * scale_j as 16 words
    __m256 d;
  };
  using X = KX;
  static inline const uint8_t* act(const uint8_t* base, int64_t g) {
    return base + g * kSuperBytes;
  }
  static inline void prepare(const uint8_t* b, W& w) {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    const __m256i m30 = _mm256_set1_epi8(0x30);
    for (int h = 0; h < 2; ++h) {
      const __m256i ql0 = load256(b + 64 * h), ql1 = load256(b + 64 * h + 32);
      const __m256i qh = load256(b + 128 + 32 * h);
      w.q[4 * h + 0] = _mm256_or_si256(_mm256_and_si256(ql0, m4),
                                       _mm256_and_si256(_mm256_slli_epi16(qh, 4), m30));
      w.q[4 * h + 1] = _mm256_or_si256(_mm256_and_si256(ql1, m4),
                                       _mm256_and_si256(_mm256_slli_epi16(qh, 2), m30));
      w.q[4 * h + 2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4),
                                       _mm256_and_si256(qh, m30));
      w.q[4 * h + 3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4),
                                       _mm256_and_si256(_mm256_srli_epi16(qh, 2), m30));
    }
    const auto* s = reinterpret_cast<const int8_t*>(b + 192);
    for (int j = 0; j < 8; ++j) {
      w.sc[j] = _mm256_set_m128i(_mm_set1_epi16(s[2 * j + 1]), _mm_set1_epi16(s[2 * j]));
    }
    const __m256i s16 = _mm256_cvtepi8_epi16(load128(b + 192));
    w.bias = _mm256_sub_epi16(_mm256_setzero_si256(), _mm256_slli_epi16(s16, 5));
    w.d = _mm256_set1_ps(half_at(b + 208));
  }
  static inline void load_x(const uint8_t* p, X& x) { load_kx(p, x); }
  static inline __m256 madd(const W& w, const X& x, __m256 acc) {
    __m256i a = _mm256_madd_epi16(w.bias, load256(x.p + kSuperBsums));
    for (int j = 0; j < 8; ++j) {
      const __m256i p = _mm256_maddubs_epi16(w.q[j], load256(x.p + 32 * j));
      a = _mm256_add_epi32(a, _mm256_madd_epi16(p, w.sc[j]));
    }
    return _mm256_fmadd_ps(_mm256_cvtepi32_ps(a), _mm256_mul_ps(w.d, x.dy), acc);
  }
};

// ---------------------------------------------------------------------------------------------
// Tiles

template <class K>
constexpr size_t act_packed_offset(int64_t n) {
  if constexpr (K::kBlockValues == 256) {
    return packed_offset_q8_k(n);
  } else {
    return packed_offset_q8(n, K::kActBlockBytes);
  }
}

template <class K, int R, int T>
inline void group(const uint8_t* w, size_t row_bytes, const uint8_t* xp, int64_t g, size_t x_stride,
                  __m256 (&acc)[R][T]) {
  typename K::W wv[R];
  for (int r = 0; r < R; ++r) K::prepare(w + r * row_bytes, wv[r]);
  for (int t = 0; t < T; ++t) {
    typename K::X xv;
    K::load_x(K::act(xp + t * x_stride, g), xv);
    for (int r = 0; r < R; ++r) acc[r][t] = K::madd(wv[r], xv, acc[r][t]);
  }
}

// R <= 2 rows (at w, w + row_bytes) x T <= 2 tokens; results at res[r * res_stride + t]. With
// ahead > 0 each row is prefetched `ahead` bytes beyond the group being read (decode; see
// kernels_avx512.cpp, tile()).
template <class K, int R, int T>
void sub_tile(const uint8_t* w, size_t row_bytes, int64_t n_cols, const uint8_t* x, size_t x_stride,
              float* res, int res_stride, size_t ahead = 0) {
  const int64_t nb = n_cols / K::kBlockValues;
  const int64_t ng = nb / K::kBlocksPerGroup;
  const int64_t rem = nb % K::kBlocksPerGroup;
  constexpr size_t kGroupW = K::kBlocksPerGroup * K::kBlockBytes;
  const uint8_t* xp = x + act_packed_offset<K>(n_cols);
  __m256 acc[R][T];
  for (int r = 0; r < R; ++r) {
    for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
  }
  for (int64_t g = 0; g < ng; ++g) {
    const uint8_t* gw = w + g * kGroupW;
    if (ahead > 0) {
      for (int r = 0; r < R; ++r) {
        for (size_t o = 0; o < kGroupW; o += 64)
          _mm_prefetch(reinterpret_cast<const char*>(gw + r * row_bytes + ahead + o), _MM_HINT_T0);
      }
    }
    group<K, R, T>(gw, row_bytes, xp, g, x_stride, acc);
  }
  if (rem != 0) {
    alignas(32) uint8_t buf[R][kGroupW + 32];
    for (int r = 0; r < R; ++r) {
      std::memset(buf[r], 0, sizeof(buf[r]));
      std::memcpy(buf[r], w + r * row_bytes + ng * kGroupW, rem * K::kBlockBytes);
    }
    group<K, R, T>(buf[0], sizeof(buf[0]), xp, ng, x_stride, acc);
  }
  for (int r = 0; r < R; ++r) {
    for (int t = 0; t < T; ++t) res[r * res_stride + t] = hsum(acc[r][t]);
  }
}

// Splits an R x T tile (R in {1, 4}, T in 1..4) into sub-tiles of at most 2 x 2.
template <class Sub>
struct SplitTile {
  template <int R, int T>
  static void rows(const uint8_t* w, size_t rb, int64_t n, const uint8_t* x, size_t xs, float* res,
                   int stride) {
    if constexpr (T <= 2) {
      Sub::template run<R, T>(w, rb, n, x, xs, res, stride);
    } else {
      Sub::template run<R, 2>(w, rb, n, x, xs, res, stride);
      Sub::template run<R, T - 2>(w, rb, n, x + 2 * xs, xs, res + 2, stride);
    }
  }
  template <int R, int T>
  static void run(const uint8_t* w, size_t rb, int64_t n, const uint8_t* x, size_t xs, float* res) {
    if constexpr (R == 1) {
      rows<1, T>(w, rb, n, x, xs, res, T);
    } else {
      static_assert(R == 4);
      rows<2, T>(w, rb, n, x, xs, res, T);
      rows<2, T>(w + 2 * rb, rb, n, x, xs, res + 2 * T, T);
    }
  }
};

template <class K>
struct QuantSub {
  template <int R, int T>
  static void run(const uint8_t* w, size_t rb, int64_t n, const uint8_t* x, size_t xs, float* res,
                  int stride) {
    sub_tile<K, R, T>(w, rb, n, x, xs, res, stride);
  }
};

// ---------------------------------------------------------------------------------------------
// Plain types: 16 values per step; the last partial step goes through zero-padded copies.

struct V16 {
  __m256 a, b;
};
inline V16 f16x16(const uint8_t* p) {
  return {_mm256_cvtph_ps(load128(p)), _mm256_cvtph_ps(load128(p + 16))};
}
inline V16 bf16x16(const uint8_t* p) {
  const __m256i lo = _mm256_cvtepu16_epi32(load128(p));
  const __m256i hi = _mm256_cvtepu16_epi32(load128(p + 16));
  return {_mm256_castsi256_ps(_mm256_slli_epi32(lo, 16)),
          _mm256_castsi256_ps(_mm256_slli_epi32(hi, 16))};
}
inline V16 f32x16(const uint8_t* p) {
  return {loadps(p), loadps(p + 32)};
}

struct F16K {
  static constexpr size_t kWBytes = 2, kXBytes = 2;
  static inline V16 w(const uint8_t* p) { return f16x16(p); }
  static inline V16 x(const uint8_t* p) { return f16x16(p); }
};
struct F16F32K {
  static constexpr size_t kWBytes = 2, kXBytes = 4;
  static inline V16 w(const uint8_t* p) { return f16x16(p); }
  static inline V16 x(const uint8_t* p) { return f32x16(p); }
};
struct BF16K {
  static constexpr size_t kWBytes = 2, kXBytes = 2;
  static inline V16 w(const uint8_t* p) { return bf16x16(p); }
  static inline V16 x(const uint8_t* p) { return bf16x16(p); }
};
struct BF16F32K {
  static constexpr size_t kWBytes = 2, kXBytes = 4;
  static inline V16 w(const uint8_t* p) { return bf16x16(p); }
  static inline V16 x(const uint8_t* p) { return f32x16(p); }
};
struct F32K {
  static constexpr size_t kWBytes = 4, kXBytes = 4;
  static inline V16 w(const uint8_t* p) { return f32x16(p); }
  static inline V16 x(const uint8_t* p) { return f32x16(p); }
};

template <class K, int R, int T>
inline void plain_step(const uint8_t* w, size_t row_bytes, const uint8_t* x, size_t x_stride,
                       __m256 (&acc)[R][T]) {
  V16 wv[R];
  for (int r = 0; r < R; ++r) wv[r] = K::w(w + r * row_bytes);
  for (int t = 0; t < T; ++t) {
    const V16 xv = K::x(x + t * x_stride);
    for (int r = 0; r < R; ++r) {
      acc[r][t] = _mm256_fmadd_ps(wv[r].a, xv.a, _mm256_fmadd_ps(wv[r].b, xv.b, acc[r][t]));
    }
  }
}

template <class K, int R, int T>
void plain_sub_tile(const uint8_t* w, size_t row_bytes, int64_t n, const uint8_t* x,
                    size_t x_stride, float* res, int res_stride) {
  __m256 acc[R][T];
  for (int r = 0; r < R; ++r) {
    for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
  }
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    plain_step<K, R, T>(w + i * K::kWBytes, row_bytes, x + i * K::kXBytes, x_stride, acc);
  }
  if (i < n) {
    const size_t left = static_cast<size_t>(n - i);
    alignas(32) uint8_t wbuf[R][64];
    alignas(32) uint8_t xbuf[T][64];
    for (int r = 0; r < R; ++r) {
      std::memset(wbuf[r], 0, 64);
      std::memcpy(wbuf[r], w + r * row_bytes + i * K::kWBytes, left * K::kWBytes);
    }
    for (int t = 0; t < T; ++t) {
      std::memset(xbuf[t], 0, 64);
      std::memcpy(xbuf[t], x + t * x_stride + i * K::kXBytes, left * K::kXBytes);
    }
    plain_step<K, R, T>(wbuf[0], 64, xbuf[0], 64, acc);
  }
  for (int r = 0; r < R; ++r) {
    for (int t = 0; t < T; ++t) res[r * res_stride + t] = hsum(acc[r][t]);
  }
}

template <class K>
struct PlainSub {
  template <int R, int T>
  static void run(const uint8_t* w, size_t rb, int64_t n, const uint8_t* x, size_t xs, float* res,
                  int stride) {
    plain_sub_tile<K, R, T>(w, rb, n, x, xs, res, stride);
  }
};

// ---------------------------------------------------------------------------------------------
// Dequantization (bit-identical to quant::dequantize_row_ref: same operations, no FMA).

inline void store8_i8(__m128i q8, __m256 scale, float* y) {
  _mm256_storeu_ps(y, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q8)), scale));
}
inline void store16_i8(__m128i q16, __m256 scale, float* y) {
  store8_i8(q16, scale, y);
  store8_i8(_mm_srli_si128(q16, 8), scale, y + 8);
}
inline void store8_u8_sub(__m128i q8, __m256 scale, __m256 sub, float* y) {
  const __m256 f = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(q8));
  _mm256_storeu_ps(y, _mm256_sub_ps(_mm256_mul_ps(f, scale), sub));
}

void dequant_q4_0(const void* src, float* y, int64_t n) {
  const auto* b = static_cast<const uint8_t*>(src);
  const __m128i m4 = _mm_set1_epi8(0x0F), off = _mm_set1_epi8(8);
  for (int64_t i = 0; i < n / 32; ++i, b += 18, y += 32) {
    const __m256 d = _mm256_set1_ps(half_at(b));
    const __m128i q = load128(b + 2);
    store16_i8(_mm_sub_epi8(_mm_and_si128(q, m4), off), d, y);
    store16_i8(_mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(q, 4), m4), off), d, y + 16);
  }
}

void dequant_q8_0(const void* src, float* y, int64_t n) {
  const auto* b = static_cast<const uint8_t*>(src);
  for (int64_t i = 0; i < n / 32; ++i, b += 34, y += 32) {
    const __m256 d = _mm256_set1_ps(half_at(b));
    store16_i8(load128(b + 2), d, y);
    store16_i8(load128(b + 18), d, y + 16);
  }
}

void dequant_q4_k(const void* src, float* y, int64_t n) {
  const auto* b = static_cast<const uint8_t*>(src);
  const __m128i m4 = _mm_set1_epi8(0x0F);
  for (int64_t i = 0; i < n / 256; ++i, b += 144) {
    const float d = half_at(b), dmin = half_at(b + 2);
    uint64_t sc8, mn8;
    unpack_k4_scales(b + 4, &sc8, &mn8);
    for (int c = 0; c < 4; ++c, y += 64) {
      const float s1 = static_cast<float>((sc8 >> (16 * c)) & 0xFF);
      const float s2 = static_cast<float>((sc8 >> (16 * c + 8)) & 0xFF);
      const float m1 = static_cast<float>((mn8 >> (16 * c)) & 0xFF);
      const float m2 = static_cast<float>((mn8 >> (16 * c + 8)) & 0xFF);
      const __m256 d1 = _mm256_set1_ps(d * s1), d2 = _mm256_set1_ps(d * s2);
      const __m256 n1 = _mm256_set1_ps(dmin * m1), n2 = _mm256_set1_ps(dmin * m2);
      for (int k = 0; k < 4; ++k) {
        const __m128i q =
            _mm_loadl_epi64(reinterpret_cast<const __m128i*>(b + 16 + 32 * c + 8 * k));
        store8_u8_sub(_mm_and_si128(q, m4), d1, n1, y + 8 * k);
        store8_u8_sub(_mm_and_si128(_mm_srli_epi16(q, 4), m4), d2, n2, y + 32 + 8 * k);
      }
    }
  }
}

void dequant_q6_k(const void* src, float* y, int64_t n) {
  const auto* b = static_cast<const uint8_t*>(src);
  for (int64_t i = 0; i < n / 256; ++i, b += 210) {
    const float d = half_at(b + 208);
    const auto* sc = reinterpret_cast<const int8_t*>(b + 192);
    Q6_KK::W w;
    Q6_KK::prepare(b, w);
    alignas(32) int8_t q[256];  // quants - 32 in value order
    const __m256i off = _mm256_set1_epi8(32);
    for (int j = 0; j < 8; ++j) {
      _mm256_store_si256(reinterpret_cast<__m256i*>(q + 32 * j), _mm256_sub_epi8(w.q[j], off));
    }
    for (int j = 0; j < 16; ++j, y += 16) {
      const __m256 dsc = _mm256_set1_ps(d * static_cast<float>(sc[j]));
      store16_i8(_mm_load_si128(reinterpret_cast<const __m128i*>(q + 16 * j)), dsc, y);
    }
  }
}

void dequant_f16(const void* src, float* y, int64_t n) {
  const auto* h = static_cast<const uint8_t*>(src);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_cvtph_ps(load128(h + 2 * i)));
  for (; i < n; ++i) y[i] = half_at(h + 2 * i);
}

void dequant_bf16(const void* src, float* y, int64_t n) {
  const auto* h = static_cast<const uint8_t*>(src);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i v = _mm256_slli_epi32(_mm256_cvtepu16_epi32(load128(h + 2 * i)), 16);
    _mm256_storeu_ps(y + i, _mm256_castsi256_ps(v));
  }
  for (; i < n; ++i) {
    const uint32_t bits = static_cast<uint32_t>(load_u16(h + 2 * i)) << 16;
    std::memcpy(y + i, &bits, sizeof(float));
  }
}

template <DequantizeRowFn Dequant, int kBlockValues, size_t kBlockBytes>
float dot_exact(int64_t n, const void* w, const void* x) {
  constexpr int64_t kChunk = 256;
  alignas(32) float buf[kChunk];
  const auto* wb = static_cast<const uint8_t*>(w);
  const auto* xf = static_cast<const float*>(x);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n; i += kChunk) {
    const int64_t len = n - i < kChunk ? n - i : kChunk;  // a multiple of the block size
    Dequant(wb + (i / kBlockValues) * kBlockBytes, buf, len);
    for (int64_t j = 0; j < len; j += 8) {
      acc = _mm256_fmadd_ps(_mm256_load_ps(buf + j), _mm256_loadu_ps(xf + i + j), acc);
    }
  }
  return hsum(acc);
}

template <class K>
using QTile = SplitTile<QuantSub<K>>;

// Decode: the thread's slice is read as 2 long sequential streams (its halves), a tile taking row
// i of each, each stream prefetched kStreamAhead bytes ahead (see kernels_avx512.cpp,
// matvec_streams; 2 rows because 16 ymm registers hold no more). The odd row left over is done
// alone.
constexpr size_t kStreamAhead = 2048;

template <class K>
void matvec_streams(const uint8_t* w, size_t row_bytes, int64_t n_cols, int64_t row_begin,
                    int64_t row_end, const void* x, float* y) {
  const auto* xb = static_cast<const uint8_t*>(x);
  const int64_t half = (row_end - row_begin) / 2;
  const size_t stride = static_cast<size_t>(half) * row_bytes;
  float res[2];
  for (int64_t i = 0; i < half; ++i) {
    const int64_t r = row_begin + i;
    sub_tile<K, 2, 1>(w + r * row_bytes, stride, n_cols, xb, 0, res, 1, kStreamAhead);
    y[r] = res[0];
    y[r + half] = res[1];
  }
  if (row_begin + 2 * half < row_end) {
    const int64_t r = row_end - 1;
    sub_tile<K, 1, 1>(w + r * row_bytes, row_bytes, n_cols, xb, 0, res, 1, kStreamAhead);
    y[r] = res[0];
  }
}

template <class K>
DotKernels make_quant(GgmlType weight_type, GgmlType act_type) {
  return DotKernels{weight_type, act_type, drive_vec_dot<QTile<K>>, matvec_streams<K>,
                    drive_matmul<QTile<K>>};
}
template <class K>
using PTile = SplitTile<PlainSub<K>>;

// ---------------------------------------------------------------------------------------------
// Weighted sums of rows (see kernels_avx512.cpp): 8 columns per load, up to 8 accumulators (64
// columns) in registers; a tail of n_cols % 8 columns (plain types only) is done one by one.

struct RowF32 {
  static inline __m256 load(const uint8_t* row, int64_t c) {
    return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + c);
  }
  static inline float at(const uint8_t* row, int64_t c) {
    float v;
    std::memcpy(&v, row + 4 * c, sizeof(v));
    return v;
  }
};
struct RowF16 {
  static inline __m256 load(const uint8_t* row, int64_t c) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * c)));
  }
  static inline float at(const uint8_t* row, int64_t c) { return half_at(row + 2 * c); }
};
struct RowBF16 {
  static inline __m256 load(const uint8_t* row, int64_t c) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * c));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
  static inline float at(const uint8_t* row, int64_t c) {
    const uint32_t bits = static_cast<uint32_t>(load_u16(row + 2 * c)) << 16;
    float v;
    std::memcpy(&v, &bits, sizeof(v));
    return v;
  }
};
struct RowQ8_0 {  // n_cols is a multiple of 32: never a tail
  static inline __m256 load(const uint8_t* row, int64_t c) {
    const uint8_t* b = row + (c / 32) * 34;
    const __m128i q8 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(b + 2 + (c % 32)));
    const __m256 q = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q8));
    return _mm256_mul_ps(q, _mm256_set1_ps(half_at(b)));
  }
  static inline float at(const uint8_t*, int64_t) { return 0.0f; }
};

template <class L>
void weighted_row_sum(const uint8_t* rows, size_t row_stride, int64_t n_rows, const float* weights,
                      int64_t n_cols, float* out) {
  constexpr int kVecs = 8;
  const int64_t full = n_cols / 8 * 8;
  for (int64_t c0 = 0; c0 < full; c0 += 8 * kVecs) {
    const int64_t nc = full - c0 < 8 * kVecs ? full - c0 : 8 * kVecs;
    __m256 acc[kVecs];
    for (int v = 0; v < kVecs; ++v) acc[v] = _mm256_setzero_ps();
    for (int64_t j = 0; j < n_rows; ++j) {
      const uint8_t* row = rows + static_cast<size_t>(j) * row_stride;
      const __m256 w = _mm256_set1_ps(weights[j]);
      for (int v = 0; v < kVecs; ++v) {
        if (8 * v < nc) acc[v] = _mm256_fmadd_ps(L::load(row, c0 + 8 * v), w, acc[v]);
      }
    }
    for (int v = 0; v < kVecs; ++v) {
      if (8 * v < nc) _mm256_storeu_ps(out + c0 + 8 * v, acc[v]);
    }
  }
  for (int64_t c = full; c < n_cols; ++c) {
    float sum = 0.0f;
    for (int64_t j = 0; j < n_rows; ++j) {
      sum += weights[j] * L::at(rows + static_cast<size_t>(j) * row_stride, c);
    }
    out[c] = sum;
  }
}

}  // namespace

void init_avx2_table(KernelTable& t) {
  t.isa = Isa::Avx2;
  DotKernels* q = t.quantized;
  q[table_index(GgmlType::F32)] = make_tiled<PTile<F32K>>(GgmlType::F32, GgmlType::F32);
  q[table_index(GgmlType::F16)] = make_tiled<PTile<F16K>>(GgmlType::F16, GgmlType::F16);
  q[table_index(GgmlType::BF16)] = make_tiled<PTile<BF16K>>(GgmlType::BF16, GgmlType::BF16);
  q[table_index(GgmlType::Q4_0)] = make_quant<Q4_0K>(GgmlType::Q4_0, GgmlType::Q8_0);
  q[table_index(GgmlType::Q5_0)] = make_quant<Q5_0K>(GgmlType::Q5_0, GgmlType::Q8_0);
  q[table_index(GgmlType::Q8_0)] = make_quant<Q8_0K>(GgmlType::Q8_0, GgmlType::Q8_0);
  q[table_index(GgmlType::Q4_1)] = make_quant<Q4_1K>(GgmlType::Q4_1, GgmlType::Q8_1);
  q[table_index(GgmlType::Q5_1)] = make_quant<Q5_1K>(GgmlType::Q5_1, GgmlType::Q8_1);
  q[table_index(GgmlType::Q4_K)] = make_quant<Q4_KK>(GgmlType::Q4_K, GgmlType::Q8_K);
  q[table_index(GgmlType::Q5_K)] = make_quant<Q5_KK>(GgmlType::Q5_K, GgmlType::Q8_K);
  q[table_index(GgmlType::Q6_K)] = make_quant<Q6_KK>(GgmlType::Q6_K, GgmlType::Q8_K);

  DotKernels* e = t.exact;
  e[table_index(GgmlType::F32)] = make_tiled<PTile<F32K>>(GgmlType::F32, GgmlType::F32);
  e[table_index(GgmlType::F16)] = make_tiled<PTile<F16F32K>>(GgmlType::F16, GgmlType::F32);
  e[table_index(GgmlType::BF16)] = make_tiled<PTile<BF16F32K>>(GgmlType::BF16, GgmlType::F32);
  e[table_index(GgmlType::Q4_0)] =
      make_rows<dot_exact<dequant_q4_0, 32, 18>>(GgmlType::Q4_0, GgmlType::F32);
  e[table_index(GgmlType::Q8_0)] =
      make_rows<dot_exact<dequant_q8_0, 32, 34>>(GgmlType::Q8_0, GgmlType::F32);
  e[table_index(GgmlType::Q4_K)] =
      make_rows<dot_exact<dequant_q4_k, 256, 144>>(GgmlType::Q4_K, GgmlType::F32);
  e[table_index(GgmlType::Q6_K)] =
      make_rows<dot_exact<dequant_q6_k, 256, 210>>(GgmlType::Q6_K, GgmlType::F32);

  t.weighted_row_sum[table_index(GgmlType::F32)] = weighted_row_sum<RowF32>;
  t.weighted_row_sum[table_index(GgmlType::F16)] = weighted_row_sum<RowF16>;
  t.weighted_row_sum[table_index(GgmlType::BF16)] = weighted_row_sum<RowBF16>;
  t.weighted_row_sum[table_index(GgmlType::Q8_0)] = weighted_row_sum<RowQ8_0>;

  t.dequantize[table_index(GgmlType::F16)] = dequant_f16;
  t.dequantize[table_index(GgmlType::BF16)] = dequant_bf16;
  t.dequantize[table_index(GgmlType::Q4_0)] = dequant_q4_0;
  t.dequantize[table_index(GgmlType::Q8_0)] = dequant_q8_0;
  t.dequantize[table_index(GgmlType::Q4_K)] = dequant_q4_k;
  t.dequantize[table_index(GgmlType::Q6_K)] = dequant_q6_k;
}

}  // namespace vigil::kernels::cpu

#endif  // __x86_64__
