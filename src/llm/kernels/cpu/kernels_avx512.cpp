// AVX-512 kernels (F/BW/VL/DQ + VNNI). Compiled with -mavx512* (flags.cmake); only reached
// through init_avx512_table(), which dispatch.cpp calls when CPUID reports the features.
//
// Everything is in an anonymous namespace and uses no std:: templates: an inline function or
// template instantiated here would be compiled with AVX-512 instructions, and if it were shared
// with other translation units the linker could keep this copy for everyone.
//
// Quantized weights x quantized activations, per "group" (4 blocks of the 32-value types, one
// super-block of the k-quants) and per (row, token) pair:
//  * Q4_0/Q5_0/Q8_0 x Q8_0: unsigned weight quants (nibble, 5-bit, or int8 + 128) times signed
//    activation quants with vpdpbusd; the offset (8, 16, 128) times the activation sum is
//    subtracted by starting the accumulator at offset * negsum (see act_layout.h). Each dword
//    lane belongs to one block, so one int->float conversion and one FMA per 128 values apply the
//    four block scales at once.
//  * Q4_1/Q5_1 x Q8_1: the same without offset, plus min * s.
//  * Q4_K/Q5_K/Q6_K x Q8_K: vpmaddubsw (u8 x s8 -> s16 pairs) then vpdpwssd with the sub-block
//    scales as 16-bit words; the mins (Q4_K/Q5_K) use the precomputed d * sum of the activation
//    sub-blocks; Q6_K's -32 offset is -32 * scale . bsums, one vpdpwssd.
// Tiles of R rows x T tokens load and unpack each weight group once for T tokens and each
// activation group once for R rows:
//  * decode (matvec): 4 rows x 1 token, the 4 rows taken from the 4 quarters of the thread's
//    slice, so the weights are read as 4 long sequential streams, each software-prefetched
//    kStreamAhead bytes ahead (see matvec_streams);
//  * prefill (matmul): 4 rows x 4 tokens; a 4-row tile unpacks its weights once per ~32 KiB chunk
//    of the row and reuses them for all token tiles (matmul_prepared).

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
#include "llm/quant/blocks.h"

namespace vigil::kernels::cpu {
namespace {

// ---------------------------------------------------------------------------------------------
// Helpers

inline __m512i load512(const void* p) {
  return _mm512_loadu_si512(p);
}
inline __m256i load256(const void* p) {
  return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}
inline __m128i load128(const void* p) {
  return _mm_loadu_si128(static_cast<const __m128i*>(p));
}
inline __m512 loadps(const uint8_t* p) {
  return _mm512_loadu_ps(reinterpret_cast<const float*>(p));
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

inline int64_t min64(int64_t a, int64_t b) {
  return a < b ? a : b;
}

// Word-index vectors for vpermw. Only the first 16 entries matter where the result is used as 16
// fp16 values.
struct alignas(64) WordIdx {
  uint16_t v[32];
};
inline __m512i idx(const WordIdx& w) {
  return _mm512_load_si512(w.v);
}

// fp16 scales of 4 blocks -> 16 floats [d0 x4, d1 x4, d2 x4, d3 x4].
constexpr WordIdx kIdxQ4_0 = {{0, 0, 0, 0, 9, 9, 9, 9, 18, 18, 18, 18, 27, 27, 27, 27}};
constexpr WordIdx kIdxQ4_1D = {{0, 0, 0, 0, 10, 10, 10, 10, 20, 20, 20, 20, 30, 30, 30, 30}};
constexpr WordIdx kIdxQ4_1M = {{1, 1, 1, 1, 11, 11, 11, 11, 21, 21, 21, 21, 31, 31, 31, 31}};
// Two-source (64-word) indices: words of load(b) are 0..31, words of load(b + off) are 32..63.
constexpr WordIdx kIdxQ5_0 = {
    {0, 0, 0, 0, 11, 11, 11, 11, 42, 42, 42, 42, 53, 53, 53, 53}};  // off 24
constexpr WordIdx kIdxQ5_1D = {
    {0, 0, 0, 0, 12, 12, 12, 12, 40, 40, 40, 40, 52, 52, 52, 52}};  // off 32
constexpr WordIdx kIdxQ5_1M = {{1, 1, 1, 1, 13, 13, 13, 13, 41, 41, 41, 41, 53, 53, 53, 53}};
constexpr WordIdx kIdxQ8_0 = {
    {0, 0, 0, 0, 17, 17, 17, 17, 34, 34, 34, 34, 51, 51, 51, 51}};  // off 64

inline __m512 halfs1(const uint8_t* b, const WordIdx& i) {
  return _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutexvar_epi16(idx(i), load512(b))));
}
inline __m512 halfs2(const uint8_t* b, size_t off, const WordIdx& i) {
  const __m512i w = _mm512_permutex2var_epi16(load512(b), idx(i), load512(b + off));
  return _mm512_cvtph_ps(_mm512_castsi512_si256(w));
}

// 16 bytes at each of 4 addresses -> one zmm (128-bit lane k from p + k * stride).
inline __m512i gather4x16(const uint8_t* p, size_t stride) {
  __m512i q = _mm512_castsi128_si512(load128(p));
  q = _mm512_inserti32x4(q, load128(p + stride), 1);
  q = _mm512_inserti32x4(q, load128(p + 2 * stride), 2);
  q = _mm512_inserti32x4(q, load128(p + 3 * stride), 3);
  return q;
}

// The 5th bits of 4 Q5 blocks as byte masks for the lo (values 0..15) and hi (16..31) registers.
inline void q5_high_masks(const uint8_t* qh, size_t stride, __mmask64* lo, __mmask64* hi) {
  uint64_t l = 0, h = 0;
  for (int k = 0; k < 4; ++k) {
    const uint64_t v = load_u32(qh + k * stride);
    l |= (v & 0xFFFFu) << (16 * k);
    h |= (v >> 16) << (16 * k);
  }
  *lo = _cvtu64_mask64(l);
  *hi = _cvtu64_mask64(h);
}

// ---------------------------------------------------------------------------------------------
// Weight-type kernels. Each K has:
//   kBlockValues, kBlockBytes, kBlocksPerGroup, kActBytes (ggml bytes of one activation block, to
//   find the packed copy), kActGroupBytes; struct W (one row's unpacked group), prepare(b, W&);
//   struct X (one token's group), load_x(p, X&); madd(W, X, acc) -> acc.

// -- Q4_0 x Q8_0 --
struct Q4_0K {
  static constexpr int kBlockValues = 32;
  static constexpr size_t kBlockBytes = 18;
  static constexpr int kBlocksPerGroup = 4;
  static constexpr size_t kActBlockBytes = 34;
  static constexpr size_t kActGroupBytes = kGroupBytes;
  struct W {
    __m512i lo, hi;
    __m512 d;
  };
  static inline void prepare(const uint8_t* b, W& w) {
    const __m512i q = gather4x16(b + 2, 18);
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    w.lo = _mm512_and_si512(q, m4);
    w.hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), m4);
    w.d = halfs1(b, kIdxQ4_0);
  }
  struct X {
    const uint8_t* p;
    __m512i init;
  };
  static inline void load_x(const uint8_t* p, X& x) {
    x.p = p;
    x.init = _mm512_slli_epi32(load512(p + kGroupAux), 3);  // -8 * sum
  }
  static inline __m512 madd(const W& w, const X& x, __m512 acc) {
    __m512i i = _mm512_dpbusd_epi32(x.init, w.lo, load512(x.p + kGroupLo));
    i = _mm512_dpbusd_epi32(i, w.hi, load512(x.p + kGroupHi));
    return _mm512_fmadd_ps(_mm512_cvtepi32_ps(i), _mm512_mul_ps(w.d, loadps(x.p + kGroupD)), acc);
  }
};

// -- Q5_0 x Q8_0 --
struct Q5_0K {
  static constexpr int kBlockValues = 32;
  static constexpr size_t kBlockBytes = 22;
  static constexpr int kBlocksPerGroup = 4;
  static constexpr size_t kActBlockBytes = 34;
  static constexpr size_t kActGroupBytes = kGroupBytes;
  using W = Q4_0K::W;
  using X = Q4_0K::X;
  static inline void prepare(const uint8_t* b, W& w) {
    const __m512i q = gather4x16(b + 6, 22);
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    const __m512i bit4 = _mm512_set1_epi8(0x10);
    __mmask64 hl, hh;
    q5_high_masks(b + 2, 22, &hl, &hh);
    const __m512i lo = _mm512_and_si512(q, m4);
    const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), m4);
    w.lo = _mm512_mask_add_epi8(lo, hl, lo, bit4);
    w.hi = _mm512_mask_add_epi8(hi, hh, hi, bit4);
    w.d = halfs2(b, 24, kIdxQ5_0);
  }
  static inline void load_x(const uint8_t* p, X& x) {
    x.p = p;
    x.init = _mm512_slli_epi32(load512(p + kGroupAux), 4);  // -16 * sum
  }
  static inline __m512 madd(const W& w, const X& x, __m512 acc) { return Q4_0K::madd(w, x, acc); }
};

// -- Q8_0 x Q8_0 --
struct Q8_0K {
  static constexpr int kBlockValues = 32;
  static constexpr size_t kBlockBytes = 34;
  static constexpr int kBlocksPerGroup = 4;
  static constexpr size_t kActBlockBytes = 34;
  static constexpr size_t kActGroupBytes = kGroupBytes;
  using W = Q4_0K::W;
  using X = Q4_0K::X;
  static inline void prepare(const uint8_t* b, W& w) {
    const __m512i z01 =
        _mm512_inserti64x4(_mm512_castsi256_si512(load256(b + 2)), load256(b + 36), 1);
    const __m512i z23 =
        _mm512_inserti64x4(_mm512_castsi256_si512(load256(b + 70)), load256(b + 104), 1);
    const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));  // int8 -> uint8 + 128
    w.lo = _mm512_xor_si512(_mm512_shuffle_i64x2(z01, z23, 0x88), flip);
    w.hi = _mm512_xor_si512(_mm512_shuffle_i64x2(z01, z23, 0xDD), flip);
    w.d = halfs2(b, 64, kIdxQ8_0);
  }
  static inline void load_x(const uint8_t* p, X& x) {
    x.p = p;
    x.init = _mm512_slli_epi32(load512(p + kGroupAux), 7);  // -128 * sum
  }
  static inline __m512 madd(const W& w, const X& x, __m512 acc) { return Q4_0K::madd(w, x, acc); }
};

// -- Q4_1 / Q5_1 x Q8_1 --
struct Q1W {
  __m512i lo, hi;
  __m512 d, m;
};
struct Q1X {
  const uint8_t* p;
};
inline __m512 madd_q1(const Q1W& w, const Q1X& x, __m512 acc) {
  __m512i i = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w.lo, load512(x.p + kGroupLo));
  i = _mm512_dpbusd_epi32(i, w.hi, load512(x.p + kGroupHi));
  acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i), _mm512_mul_ps(w.d, loadps(x.p + kGroupD)), acc);
  return _mm512_fmadd_ps(w.m, loadps(x.p + kGroupAux), acc);
}

struct Q4_1K {
  static constexpr int kBlockValues = 32;
  static constexpr size_t kBlockBytes = 20;
  static constexpr int kBlocksPerGroup = 4;
  static constexpr size_t kActBlockBytes = 36;
  static constexpr size_t kActGroupBytes = kGroupBytes;
  using W = Q1W;
  using X = Q1X;
  static inline void prepare(const uint8_t* b, W& w) {
    const __m512i q = gather4x16(b + 4, 20);
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    w.lo = _mm512_and_si512(q, m4);
    w.hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), m4);
    w.d = halfs1(b, kIdxQ4_1D);
    w.m = halfs1(b, kIdxQ4_1M);
  }
  static inline void load_x(const uint8_t* p, X& x) { x.p = p; }
  static inline __m512 madd(const W& w, const X& x, __m512 acc) { return madd_q1(w, x, acc); }
};

struct Q5_1K {
  static constexpr int kBlockValues = 32;
  static constexpr size_t kBlockBytes = 24;
  static constexpr int kBlocksPerGroup = 4;
  static constexpr size_t kActBlockBytes = 36;
  static constexpr size_t kActGroupBytes = kGroupBytes;
  using W = Q1W;
  using X = Q1X;
  static inline void prepare(const uint8_t* b, W& w) {
    const __m512i q = gather4x16(b + 8, 24);
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    const __m512i bit4 = _mm512_set1_epi8(0x10);
    __mmask64 hl, hh;
    q5_high_masks(b + 4, 24, &hl, &hh);
    const __m512i lo = _mm512_and_si512(q, m4);
    const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), m4);
    w.lo = _mm512_mask_add_epi8(lo, hl, lo, bit4);
    w.hi = _mm512_mask_add_epi8(hi, hh, hi, bit4);
    w.d = halfs2(b, 32, kIdxQ5_1D);
    w.m = halfs2(b, 32, kIdxQ5_1M);
  }
  static inline void load_x(const uint8_t* p, X& x) { x.p = p; }
  static inline __m512 madd(const W& w, const X& x, __m512 acc) { return madd_q1(w, x, acc); }
};

// -- k-quants x Q8_K --
struct KX {
  const uint8_t* p;  // packed super-block record (act_layout.h)
  __m512 dy;
};
inline void load_kx(const uint8_t* p, KX& x) {
  x.p = p;
  x.dy = loadps(p + kSuperD);
}

// Word indices: chunk c of Q4_K/Q5_K uses scale 2c for its first 32 values, 2c+1 for the rest.
constexpr WordIdx kIdxQ4K[4] = {
    {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
      1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}},
    {{2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
      3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3}},
    {{4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
      5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5}},
    {{6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6,
      7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7}},
};
// Chunk c of Q6_K (64 values) covers the 16-value sub-blocks 4c .. 4c+3.
constexpr WordIdx kIdxQ6K[4] = {
    {{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
      2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3}},
    {{4, 4, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 5, 5,
      6, 6, 6, 6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7}},
    {{8,  8,  8,  8,  8,  8,  8,  8,  9,  9,  9,  9,  9,  9,  9,  9,
      10, 10, 10, 10, 10, 10, 10, 10, 11, 11, 11, 11, 11, 11, 11, 11}},
    {{12, 12, 12, 12, 12, 12, 12, 12, 13, 13, 13, 13, 13, 13, 13, 13,
      14, 14, 14, 14, 14, 14, 14, 14, 15, 15, 15, 15, 15, 15, 15, 15}},
};

// Scales (sc) and mins (mn) of a Q4_K/Q5_K super-block as 8 bytes each (see
// quant::unpack_q4_k_scales; this is the same unpacking on 32-bit words).
inline void unpack_k4_scales(const uint8_t* s, uint64_t* sc, uint64_t* mn) {
  const uint32_t w0 = load_u32(s), w1 = load_u32(s + 4), w2 = load_u32(s + 8);
  const uint32_t sc_lo = w0 & 0x3f3f3f3fu;
  const uint32_t mn_lo = w1 & 0x3f3f3f3fu;
  const uint32_t sc_hi = (w2 & 0x0f0f0f0fu) | ((w0 >> 2) & 0x30303030u);
  const uint32_t mn_hi = ((w2 >> 4) & 0x0f0f0f0fu) | ((w1 >> 2) & 0x30303030u);
  *sc = sc_lo | (static_cast<uint64_t>(sc_hi) << 32);
  *mn = mn_lo | (static_cast<uint64_t>(mn_hi) << 32);
}

struct K4W {
  __m512i q[4];   // quants of chunk c (64 values, value order), unsigned
  __m512i sc[4];  // 16-bit scales matching q[c]
  __m512 d;       // super-block scale
  __m512 dm;      // dmin * min_j, j < 8 (lanes 8..15 zero)
};

inline void k4_scales(const uint8_t* b, K4W& w) {
  uint64_t sc, mn;
  unpack_k4_scales(b + 4, &sc, &mn);
  const __m512i scw =
      _mm512_castsi128_si512(_mm_cvtepu8_epi16(_mm_cvtsi64_si128(static_cast<long long>(sc))));
  for (int c = 0; c < 4; ++c) w.sc[c] = _mm512_permutexvar_epi16(idx(kIdxQ4K[c]), scw);
  const __m256 mins =
      _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128(static_cast<long long>(mn))));
  w.dm = _mm512_zextps256_ps512(_mm256_mul_ps(mins, _mm256_set1_ps(half_at(b + 2))));
  w.d = _mm512_set1_ps(half_at(b));
}

inline __m512 madd_k4(const K4W& w, const KX& x, __m512 acc) {
  __m512i a = _mm512_setzero_si512();
  for (int c = 0; c < 4; ++c) {
    a = _mm512_dpwssd_epi32(a, _mm512_maddubs_epi16(w.q[c], load512(x.p + 64 * c)), w.sc[c]);
  }
  acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(a), _mm512_mul_ps(w.d, x.dy), acc);
  return _mm512_fnmadd_ps(w.dm, loadps(x.p + kSuperDsum), acc);
}

struct Q4_KK {
  static constexpr int kBlockValues = 256;
  static constexpr size_t kBlockBytes = 144;
  static constexpr int kBlocksPerGroup = 1;
  static constexpr size_t kActGroupBytes = kSuperBytes;
  using W = K4W;
  using X = KX;
  static inline void prepare(const uint8_t* b, W& w) {
    k4_scales(b, w);
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    for (int c = 0; c < 4; ++c) {
      // [32 bytes, same 32 bytes >> 4]: low nibbles are values 64c..+31, high ones 64c+32..+63.
      __m512i q = _mm512_broadcast_i64x4(load256(b + 16 + 32 * c));
      q = _mm512_mask_srli_epi16(q, 0xFFFF0000u, q, 4);
      w.q[c] = _mm512_and_si512(q, m4);
    }
  }
  static inline void load_x(const uint8_t* p, X& x) { load_kx(p, x); }
  static inline __m512 madd(const W& w, const X& x, __m512 acc) { return madd_k4(w, x, acc); }
};

struct alignas(64) ByteVec {
  uint8_t v[64];
};
// Bit of qh that holds the 5th bit of chunk c's values: 1 << 2c for its first 32, 2 << 2c after.
constexpr ByteVec kQ5KBits[4] = {
    {{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
      1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
      2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2}},
    {{4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
      4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8,
      8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8}},
    {{16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
      16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32,
      32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32}},
    {{64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,
      64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,
      128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128,
      128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128}},
};

struct Q5_KK {
  static constexpr int kBlockValues = 256;
  static constexpr size_t kBlockBytes = 176;
  static constexpr int kBlocksPerGroup = 1;
  static constexpr size_t kActGroupBytes = kSuperBytes;
  using W = K4W;
  using X = KX;
  static inline void prepare(const uint8_t* b, W& w) {
    k4_scales(b, w);
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    const __m512i bit4 = _mm512_set1_epi8(0x10);
    const __m512i qh = _mm512_broadcast_i64x4(load256(b + 16));
    for (int c = 0; c < 4; ++c) {
      __m512i q = _mm512_broadcast_i64x4(load256(b + 48 + 32 * c));
      q = _mm512_and_si512(_mm512_mask_srli_epi16(q, 0xFFFF0000u, q, 4), m4);
      const __mmask64 h = _mm512_test_epi8_mask(qh, _mm512_load_si512(kQ5KBits[c].v));
      w.q[c] = _mm512_mask_add_epi8(q, h, q, bit4);
    }
  }
  static inline void load_x(const uint8_t* p, X& x) { load_kx(p, x); }
  static inline __m512 madd(const W& w, const X& x, __m512 acc) { return madd_k4(w, x, acc); }
};

struct Q6_KK {
  static constexpr int kBlockValues = 256;
  static constexpr size_t kBlockBytes = 210;
  static constexpr int kBlocksPerGroup = 1;
  static constexpr size_t kActGroupBytes = kSuperBytes;
  struct W {
    __m512i q[4];   // 6-bit quants (unsigned, 0..63) of values 64c .. 64c+63
    __m512i sc[4];  // 16-bit scales matching q[c]
    __m512i bias;   // words 0..15: -32 * scale_j; 16..31: 0
    __m512 d;
  };
  using X = KX;
  static inline void prepare(const uint8_t* b, W& w) {
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    const __m512i m30 = _mm512_set1_epi8(0x30);
    // Shift counts per 16-bit word: the first 256 bits take qh bits 0-1 (4-5), the rest 2-3 (6-7).
    const __m512i shl = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(2), 1);
    const __m512i shr = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(2), 1);
    for (int h = 0; h < 2; ++h) {
      const __m512i ql = load512(b + 64 * h);
      const __m512i qh = _mm512_broadcast_i64x4(load256(b + 128 + 32 * h));
      const __m512i hi_a = _mm512_and_si512(_mm512_sllv_epi16(qh, shl), m30);
      const __m512i hi_b = _mm512_and_si512(_mm512_srlv_epi16(qh, shr), m30);
      w.q[2 * h] = _mm512_or_si512(_mm512_and_si512(ql, m4), hi_a);
      w.q[2 * h + 1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), m4), hi_b);
    }
    const __m256i s16 = _mm256_cvtepi8_epi16(load128(b + 192));
    const __m512i s = _mm512_castsi256_si512(s16);
    for (int c = 0; c < 4; ++c) w.sc[c] = _mm512_permutexvar_epi16(idx(kIdxQ6K[c]), s);
    w.bias =
        _mm512_zextsi256_si512(_mm256_sub_epi16(_mm256_setzero_si256(), _mm256_slli_epi16(s16, 5)));
    w.d = _mm512_set1_ps(half_at(b + 208));
  }
  static inline void load_x(const uint8_t* p, X& x) { load_kx(p, x); }
  static inline __m512 madd(const W& w, const X& x, __m512 acc) {
    // -32 * sum_j scale_j * bsum_j (bsums are words 0..15 of the load; words 16..31 meet zeros).
    __m512i a = _mm512_dpwssd_epi32(_mm512_setzero_si512(), w.bias, load512(x.p + kSuperBsums));
    for (int c = 0; c < 4; ++c) {
      a = _mm512_dpwssd_epi32(a, _mm512_maddubs_epi16(w.q[c], load512(x.p + 64 * c)), w.sc[c]);
    }
    return _mm512_fmadd_ps(_mm512_cvtepi32_ps(a), _mm512_mul_ps(w.d, x.dy), acc);
  }
};

// ---------------------------------------------------------------------------------------------
// Tiles over quantized groups.

template <class K>
constexpr size_t act_packed_offset(int64_t n) {
  if constexpr (K::kBlockValues == 256) {
    return packed_offset_q8_k(n);
  } else {
    return packed_offset_q8(n, K::kActBlockBytes);
  }
}

template <class K, int R, int T>
inline void group(const uint8_t* w, size_t row_bytes, const uint8_t* x, size_t x_stride,
                  __m512 (&acc)[R][T]) {
  typename K::W wv[R];
  for (int r = 0; r < R; ++r) K::prepare(w + r * row_bytes, wv[r]);
  for (int t = 0; t < T; ++t) {
    typename K::X xv;
    K::load_x(x + t * x_stride, xv);
    for (int r = 0; r < R; ++r) acc[r][t] = K::madd(wv[r], xv, acc[r][t]);
  }
}

// res[r * T + t] = dot(row r, token t) for the R rows at w, w + row_bytes, ... and the T
// activation rows at x. With ahead > 0 each row is software-prefetched `ahead` bytes beyond the
// group being read (decode; prefetches never fault, so reading past the rows' end is harmless).
template <class K, int R, int T>
void tile(const uint8_t* w, size_t row_bytes, int64_t n_cols, const uint8_t* x, size_t x_stride,
          float* res, size_t ahead = 0) {
  const int64_t nb = n_cols / K::kBlockValues;
  const int64_t ng = nb / K::kBlocksPerGroup;
  const int64_t rem = nb % K::kBlocksPerGroup;
  constexpr size_t kGroupW = K::kBlocksPerGroup * K::kBlockBytes;
  const uint8_t* xp = x + act_packed_offset<K>(n_cols);
  __m512 acc[R][T];
  for (int r = 0; r < R; ++r) {
    for (int t = 0; t < T; ++t) acc[r][t] = _mm512_setzero_ps();
  }
  for (int64_t g = 0; g < ng; ++g) {
    const uint8_t* gw = w + g * kGroupW;
    if (ahead > 0) {
      for (int r = 0; r < R; ++r) {
        // One probe per 64 bytes of the group `ahead` bytes on; a line holding only the end of
        // that group is probed as the start of the next.
        for (size_t o = 0; o < kGroupW; o += 64)
          _mm_prefetch(reinterpret_cast<const char*>(gw + r * row_bytes + ahead + o), _MM_HINT_T0);
      }
    }
    group<K, R, T>(gw, row_bytes, xp + g * K::kActGroupBytes, x_stride, acc);
  }
  if (rem != 0) {
    // A last partial group: copy its blocks into zeroed buffers (zero blocks contribute 0; the
    // packed activations are zero-padded the same way) so the loads stay inside our memory.
    alignas(64) uint8_t buf[R][kGroupW + 64];
    for (int r = 0; r < R; ++r) {
      std::memset(buf[r], 0, sizeof(buf[r]));
      std::memcpy(buf[r], w + r * row_bytes + ng * kGroupW, rem * K::kBlockBytes);
    }
    group<K, R, T>(buf[0], sizeof(buf[0]), xp + ng * K::kActGroupBytes, x_stride, acc);
  }
  for (int r = 0; r < R; ++r) {
    for (int t = 0; t < T; ++t) res[r * T + t] = _mm512_reduce_add_ps(acc[r][t]);
  }
}

// ---------------------------------------------------------------------------------------------
// Plain types (F32, F16, BF16 weights), 32 values per step, masked last step.

struct F16W {
  __m512 a, b;
};
inline F16W f16_load(const uint8_t* p, int64_t i, __mmask32 m) {
  const __m512i h = _mm512_maskz_loadu_epi16(m, p + 2 * i);
  return {_mm512_cvtph_ps(_mm512_castsi512_si256(h)),
          _mm512_cvtph_ps(_mm512_extracti64x4_epi64(h, 1))};
}
inline F16W bf16_load(const uint8_t* p, int64_t i, __mmask32 m) {
  const __m512i h = _mm512_maskz_loadu_epi16(m, p + 2 * i);
  const __m512i lo = _mm512_cvtepu16_epi32(_mm512_castsi512_si256(h));
  const __m512i hi = _mm512_cvtepu16_epi32(_mm512_extracti64x4_epi64(h, 1));
  return {_mm512_castsi512_ps(_mm512_slli_epi32(lo, 16)),
          _mm512_castsi512_ps(_mm512_slli_epi32(hi, 16))};
}
inline F16W f32_load(const uint8_t* p, int64_t i, __mmask32 m) {
  const float* f = reinterpret_cast<const float*>(p) + i;
  return {_mm512_maskz_loadu_ps(static_cast<__mmask16>(m), f),
          _mm512_maskz_loadu_ps(static_cast<__mmask16>(m >> 16), f + 16)};
}

struct F16K {  // F16 weights x F16 activations
  static inline F16W w(const uint8_t* p, int64_t i, __mmask32 m) { return f16_load(p, i, m); }
  static inline F16W x(const uint8_t* p, int64_t i, __mmask32 m) { return f16_load(p, i, m); }
};
struct F16F32K {  // F16 weights x F32 activations
  static inline F16W w(const uint8_t* p, int64_t i, __mmask32 m) { return f16_load(p, i, m); }
  static inline F16W x(const uint8_t* p, int64_t i, __mmask32 m) { return f32_load(p, i, m); }
};
struct BF16K {
  static inline F16W w(const uint8_t* p, int64_t i, __mmask32 m) { return bf16_load(p, i, m); }
  static inline F16W x(const uint8_t* p, int64_t i, __mmask32 m) { return bf16_load(p, i, m); }
};
struct BF16F32K {
  static inline F16W w(const uint8_t* p, int64_t i, __mmask32 m) { return bf16_load(p, i, m); }
  static inline F16W x(const uint8_t* p, int64_t i, __mmask32 m) { return f32_load(p, i, m); }
};
struct F32K {
  static inline F16W w(const uint8_t* p, int64_t i, __mmask32 m) { return f32_load(p, i, m); }
  static inline F16W x(const uint8_t* p, int64_t i, __mmask32 m) { return f32_load(p, i, m); }
};

template <class K, int R, int T>
inline void plain_step(const uint8_t* w, size_t row_bytes, const uint8_t* x, size_t x_stride,
                       int64_t i, __mmask32 m, __m512 (&acc)[R][T]) {
  F16W wv[R];
  for (int r = 0; r < R; ++r) wv[r] = K::w(w + r * row_bytes, i, m);
  for (int t = 0; t < T; ++t) {
    const F16W xv = K::x(x + t * x_stride, i, m);
    for (int r = 0; r < R; ++r) {
      acc[r][t] = _mm512_fmadd_ps(wv[r].a, xv.a, _mm512_fmadd_ps(wv[r].b, xv.b, acc[r][t]));
    }
  }
}

template <class K, int R, int T>
void plain_tile(const uint8_t* w, size_t row_bytes, int64_t n, const uint8_t* x, size_t x_stride,
                float* res) {
  __m512 acc[R][T];
  for (int r = 0; r < R; ++r) {
    for (int t = 0; t < T; ++t) acc[r][t] = _mm512_setzero_ps();
  }
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) plain_step<K, R, T>(w, row_bytes, x, x_stride, i, 0xFFFFFFFFu, acc);
  if (i < n) {
    const __mmask32 m = _cvtu32_mask32((1u << (n - i)) - 1u);
    plain_step<K, R, T>(w, row_bytes, x, x_stride, i, m, acc);
  }
  for (int r = 0; r < R; ++r) {
    for (int t = 0; t < T; ++t) res[r * T + t] = _mm512_reduce_add_ps(acc[r][t]);
  }
}

// Adapters so both tile kinds share the drivers below.
template <class K>
struct QuantTile {
  template <int R, int T>
  static void run(const uint8_t* w, size_t rb, int64_t n, const uint8_t* x, size_t xs, float* r) {
    tile<K, R, T>(w, rb, n, x, xs, r);
  }
};
template <class K>
struct PlainTile {
  template <int R, int T>
  static void run(const uint8_t* w, size_t rb, int64_t n, const uint8_t* x, size_t xs, float* r) {
    plain_tile<K, R, T>(w, rb, n, x, xs, r);
  }
};

// Prefill: a 4-row tile unpacks its weights once per K-chunk into a buffer (about 32 KiB, so it
// stays in L1/L2) and reuses them for every 4-token tile, instead of unpacking them again for each
// token tile. Partial sums of the chunks are added into Y.

template <class K>
constexpr int kPreparedGroups = 32768 / (4 * sizeof(typename K::W)) > 0
                                    ? static_cast<int>(32768 / (4 * sizeof(typename K::W)))
                                    : 1;

template <class K, int T>
inline void prepared_tokens(const typename K::W (*wbuf)[4], int gn, const uint8_t* xg,
                            size_t x_stride, float* y, int64_t y_stride, bool first) {
  __m512 acc[4][T];
  for (int r = 0; r < 4; ++r) {
    for (int t = 0; t < T; ++t) acc[r][t] = _mm512_setzero_ps();
  }
  for (int g = 0; g < gn; ++g) {
    for (int t = 0; t < T; ++t) {
      typename K::X xv;
      K::load_x(xg + t * x_stride + g * K::kActGroupBytes, xv);
      for (int r = 0; r < 4; ++r) acc[r][t] = K::madd(wbuf[g][r], xv, acc[r][t]);
    }
  }
  for (int t = 0; t < T; ++t) {
    for (int r = 0; r < 4; ++r) {
      const float v = _mm512_reduce_add_ps(acc[r][t]);
      float& out = y[t * y_stride + r];
      out = first ? v : out + v;
    }
  }
}

// Rows [r, r + 4) for all tokens; y points at row r of token 0.
template <class K>
void prepared_rows(const uint8_t* w, size_t row_bytes, int64_t n_cols, const uint8_t* x,
                   size_t x_stride, int64_t n_tokens, float* y, int64_t y_stride) {
  constexpr int G = kPreparedGroups<K>;
  constexpr size_t kGroupW = K::kBlocksPerGroup * K::kBlockBytes;
  alignas(64) typename K::W wbuf[G][4];
  const int64_t nb = n_cols / K::kBlockValues;
  const int64_t full = nb / K::kBlocksPerGroup;
  const int64_t rem = nb % K::kBlocksPerGroup;
  const int64_t groups = full + (rem != 0 ? 1 : 0);
  const uint8_t* xp = x + act_packed_offset<K>(n_cols);
  for (int64_t g0 = 0; g0 < groups; g0 += G) {
    const int gn = static_cast<int>(groups - g0 < G ? groups - g0 : G);
    for (int g = 0; g < gn; ++g) {
      for (int r = 0; r < 4; ++r) {
        const uint8_t* src = w + r * row_bytes + (g0 + g) * kGroupW;
        if (g0 + g < full) {
          K::prepare(src, wbuf[g][r]);
        } else {
          alignas(64) uint8_t buf[kGroupW + 64] = {};
          std::memcpy(buf, src, rem * K::kBlockBytes);
          K::prepare(buf, wbuf[g][r]);
        }
      }
    }
    const uint8_t* xg = xp + g0 * K::kActGroupBytes;
    for (int64_t t = 0; t < n_tokens; t += 4) {
      const uint8_t* xt = xg + t * x_stride;
      float* yt = y + t * y_stride;
      const bool first = g0 == 0;
      switch (n_tokens - t < 4 ? n_tokens - t : 4) {
        case 4:
          prepared_tokens<K, 4>(wbuf, gn, xt, x_stride, yt, y_stride, first);
          break;
        case 3:
          prepared_tokens<K, 3>(wbuf, gn, xt, x_stride, yt, y_stride, first);
          break;
        case 2:
          prepared_tokens<K, 2>(wbuf, gn, xt, x_stride, yt, y_stride, first);
          break;
        default:
          prepared_tokens<K, 1>(wbuf, gn, xt, x_stride, yt, y_stride, first);
          break;
      }
    }
  }
}

template <class K>
void matmul_prepared(const uint8_t* w, size_t row_bytes, int64_t n_cols, int64_t row_begin,
                     int64_t row_end, const void* x, size_t x_stride, int64_t n_tokens, float* y,
                     int64_t y_stride) {
  const auto* xb = static_cast<const uint8_t*>(x);
  int64_t r = row_begin;
  for (; r + 4 <= row_end; r += 4) {
    prepared_rows<K>(w + r * row_bytes, row_bytes, n_cols, xb, x_stride, n_tokens, y + r, y_stride);
  }
  for (; r < row_end; ++r) {
    drive_matmul_rows<QuantTile<K>, 1>(w, row_bytes, n_cols, r, xb, x_stride, n_tokens, y,
                                       y_stride);
  }
}

// Decode. Each weight byte is read once, so the speed is how fast the core pulls its slice of W
// from DRAM. Tiles of 4 adjacent rows make 4 short interleaved streams (a row is a few KiB) that
// the hardware prefetchers follow poorly; instead the slice is split into quarters and a tile
// takes row i of each quarter, so W is read as 4 long sequential streams, each prefetched
// kStreamAhead bytes ahead. On the project machine (Zen 5, 2 cores) this read Q4_0 at +25 % and
// Q8_0 at +38 % of the adjacent-row tiles' rate (docs/PERFORMANCE.md). The 0-3 rows left over
// after 4 equal quarters are done one by one.
constexpr size_t kStreamAhead = 2048;

template <class K>
void matvec_streams(const uint8_t* w, size_t row_bytes, int64_t n_cols, int64_t row_begin,
                    int64_t row_end, const void* x, float* y) {
  const auto* xb = static_cast<const uint8_t*>(x);
  const int64_t quarter = (row_end - row_begin) / 4;
  const size_t stride = static_cast<size_t>(quarter) * row_bytes;
  float res[4];
  for (int64_t i = 0; i < quarter; ++i) {
    const int64_t r = row_begin + i;
    tile<K, 4, 1>(w + r * row_bytes, stride, n_cols, xb, 0, res, kStreamAhead);
    for (int k = 0; k < 4; ++k) y[r + k * quarter] = res[k];
  }
  for (int64_t r = row_begin + 4 * quarter; r < row_end; ++r) {
    tile<K, 1, 1>(w + r * row_bytes, row_bytes, n_cols, xb, 0, res, kStreamAhead);
    y[r] = res[0];
  }
}

template <class K>
DotKernels make_quant(GgmlType weight_type, GgmlType act_type) {
  return DotKernels{weight_type, act_type, drive_vec_dot<QuantTile<K>>, matvec_streams<K>,
                    matmul_prepared<K>};
}

// ---------------------------------------------------------------------------------------------
// Dequantization (bit-identical to quant::dequantize_row_ref: same operations, no FMA).

inline void store_scaled_u8(const __m128i q16, __m512 scale, __m512 sub, float* y) {
  // 16 unsigned bytes -> q * scale - sub
  const __m512 f = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(q16));
  _mm512_storeu_ps(y, _mm512_sub_ps(_mm512_mul_ps(f, scale), sub));
}
inline void store_scaled_i8(const __m128i q16, __m512 scale, float* y) {
  const __m512 f = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q16));
  _mm512_storeu_ps(y, _mm512_mul_ps(f, scale));
}

void dequant_q4_0(const void* src, float* y, int64_t n) {
  const auto* b = static_cast<const uint8_t*>(src);
  const __m128i m4 = _mm_set1_epi8(0x0F), off = _mm_set1_epi8(8);
  for (int64_t i = 0; i < n / 32; ++i, b += 18, y += 32) {
    const __m512 d = _mm512_set1_ps(half_at(b));
    const __m128i q = load128(b + 2);
    store_scaled_i8(_mm_sub_epi8(_mm_and_si128(q, m4), off), d, y);
    store_scaled_i8(_mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(q, 4), m4), off), d, y + 16);
  }
}

void dequant_q8_0(const void* src, float* y, int64_t n) {
  const auto* b = static_cast<const uint8_t*>(src);
  for (int64_t i = 0; i < n / 32; ++i, b += 34, y += 32) {
    const __m512 d = _mm512_set1_ps(half_at(b));
    store_scaled_i8(load128(b + 2), d, y);
    store_scaled_i8(load128(b + 18), d, y + 16);
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
      const int s1 = static_cast<int>((sc8 >> (16 * c)) & 0xFF);
      const int s2 = static_cast<int>((sc8 >> (16 * c + 8)) & 0xFF);
      const int m1 = static_cast<int>((mn8 >> (16 * c)) & 0xFF);
      const int m2 = static_cast<int>((mn8 >> (16 * c + 8)) & 0xFF);
      const __m512 d1 = _mm512_set1_ps(d * static_cast<float>(s1));
      const __m512 d2 = _mm512_set1_ps(d * static_cast<float>(s2));
      const __m512 n1 = _mm512_set1_ps(dmin * static_cast<float>(m1));
      const __m512 n2 = _mm512_set1_ps(dmin * static_cast<float>(m2));
      for (int h = 0; h < 2; ++h) {
        const __m128i q = load128(b + 16 + 32 * c + 16 * h);
        store_scaled_u8(_mm_and_si128(q, m4), d1, n1, y + 16 * h);
        store_scaled_u8(_mm_and_si128(_mm_srli_epi16(q, 4), m4), d2, n2, y + 32 + 16 * h);
      }
    }
  }
}

void dequant_q6_k(const void* src, float* y, int64_t n) {
  const auto* b = static_cast<const uint8_t*>(src);
  for (int64_t i = 0; i < n / 256; ++i, b += 210) {
    const float d = half_at(b + 208);
    const auto* sc = reinterpret_cast<const int8_t*>(b + 192);
    alignas(64) int8_t q[256];  // quants - 32 in value order
    Q6_KK::W w;
    Q6_KK::prepare(b, w);
    const __m512i off = _mm512_set1_epi8(32);
    for (int c = 0; c < 4; ++c) _mm512_store_si512(q + 64 * c, _mm512_sub_epi8(w.q[c], off));
    for (int j = 0; j < 16; ++j, y += 16) {
      const __m512 dsc = _mm512_set1_ps(d * static_cast<float>(sc[j]));
      store_scaled_i8(_mm_load_si128(reinterpret_cast<const __m128i*>(q + 16 * j)), dsc, y);
    }
  }
}

void dequant_f16(const void* src, float* y, int64_t n) {
  const auto* h = static_cast<const uint8_t*>(src);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_cvtph_ps(load256(h + 2 * i)));
  if (i < n) {
    const __mmask16 m = _cvtu32_mask16((1u << (n - i)) - 1u);
    _mm512_mask_storeu_ps(y + i, m, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, h + 2 * i)));
  }
}

void dequant_bf16(const void* src, float* y, int64_t n) {
  const auto* h = static_cast<const uint8_t*>(src);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512i v = _mm512_slli_epi32(_mm512_cvtepu16_epi32(load256(h + 2 * i)), 16);
    _mm512_storeu_ps(y + i, _mm512_castsi512_ps(v));
  }
  if (i < n) {
    const __mmask16 m = _cvtu32_mask16((1u << (n - i)) - 1u);
    const __m512i v =
        _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, h + 2 * i)), 16);
    _mm512_mask_storeu_ps(y + i, m, _mm512_castsi512_ps(v));
  }
}

// ---------------------------------------------------------------------------------------------
// Exact mode for quantized weights: dequantize 256 values at a time, then an f32 dot product.

template <DequantizeRowFn Dequant, int kBlockValues, size_t kBlockBytes>
float dot_exact(int64_t n, const void* w, const void* x) {
  constexpr int64_t kChunk = 256;
  alignas(64) float buf[kChunk];
  const auto* wb = static_cast<const uint8_t*>(w);
  const auto* xf = static_cast<const float*>(x);
  __m512 acc = _mm512_setzero_ps();
  for (int64_t i = 0; i < n; i += kChunk) {
    const int64_t len = min64(kChunk, n - i);  // a multiple of the block size
    Dequant(wb + (i / kBlockValues) * kBlockBytes, buf, len);
    for (int64_t j = 0; j < len; j += 16) {
      acc = _mm512_fmadd_ps(_mm512_load_ps(buf + j), _mm512_loadu_ps(xf + i + j), acc);
    }
  }
  return _mm512_reduce_add_ps(acc);
}

// ---------------------------------------------------------------------------------------------
// Weighted sums of rows (attention: V rows mixed by their probabilities). 16 columns per load;
// up to 8 accumulators (128 columns) stay in registers while the rows stream past.

struct RowF32 {
  static inline __m512 load(const uint8_t* row, int64_t c, __mmask16 m) {
    return _mm512_maskz_loadu_ps(m, reinterpret_cast<const float*>(row) + c);
  }
};
struct RowF16 {
  static inline __m512 load(const uint8_t* row, int64_t c, __mmask16 m) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, row + 2 * c));
  }
};
struct RowBF16 {
  static inline __m512 load(const uint8_t* row, int64_t c, __mmask16 m) {
    const __m256i h = _mm256_maskz_loadu_epi16(m, row + 2 * c);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
};
struct RowQ8_0 {  // c is a multiple of 16 and n_cols of 32: whole halves of blocks, no mask
  static inline __m512 load(const uint8_t* row, int64_t c, __mmask16) {
    const uint8_t* b = row + (c / 32) * 34;
    const __m512 q = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(load128(b + 2 + (c % 32))));
    return _mm512_mul_ps(q, _mm512_set1_ps(half_at(b)));
  }
};

template <class L>
void weighted_row_sum(const uint8_t* rows, size_t row_stride, int64_t n_rows, const float* weights,
                      int64_t n_cols, float* out) {
  constexpr int kVecs = 8;
  for (int64_t c0 = 0; c0 < n_cols; c0 += 16 * kVecs) {
    const int64_t nc = min64(16 * kVecs, n_cols - c0);
    __mmask16 mask[kVecs];
    for (int v = 0; v < kVecs; ++v) {
      const int64_t left = nc - 16 * v;
      mask[v] = _cvtu32_mask16(left >= 16 ? 0xFFFFu : left > 0 ? (1u << left) - 1u : 0u);
    }
    __m512 acc[kVecs];
    for (int v = 0; v < kVecs; ++v) acc[v] = _mm512_setzero_ps();
    for (int64_t j = 0; j < n_rows; ++j) {
      const uint8_t* row = rows + static_cast<size_t>(j) * row_stride;
      const __m512 w = _mm512_set1_ps(weights[j]);
      for (int v = 0; v < kVecs; ++v) {
        if (16 * v < nc) acc[v] = _mm512_fmadd_ps(L::load(row, c0 + 16 * v, mask[v]), w, acc[v]);
      }
    }
    for (int v = 0; v < kVecs; ++v) {
      if (16 * v < nc) _mm512_mask_storeu_ps(out + c0 + 16 * v, mask[v], acc[v]);
    }
  }
}

}  // namespace

void init_avx512_table(KernelTable& t) {
  t.isa = Isa::Avx512;
  DotKernels* q = t.quantized;
  q[table_index(GgmlType::F32)] = make_tiled<PlainTile<F32K>>(GgmlType::F32, GgmlType::F32);
  q[table_index(GgmlType::F16)] = make_tiled<PlainTile<F16K>>(GgmlType::F16, GgmlType::F16);
  q[table_index(GgmlType::BF16)] = make_tiled<PlainTile<BF16K>>(GgmlType::BF16, GgmlType::BF16);
  q[table_index(GgmlType::Q4_0)] = make_quant<Q4_0K>(GgmlType::Q4_0, GgmlType::Q8_0);
  q[table_index(GgmlType::Q5_0)] = make_quant<Q5_0K>(GgmlType::Q5_0, GgmlType::Q8_0);
  q[table_index(GgmlType::Q8_0)] = make_quant<Q8_0K>(GgmlType::Q8_0, GgmlType::Q8_0);
  q[table_index(GgmlType::Q4_1)] = make_quant<Q4_1K>(GgmlType::Q4_1, GgmlType::Q8_1);
  q[table_index(GgmlType::Q5_1)] = make_quant<Q5_1K>(GgmlType::Q5_1, GgmlType::Q8_1);
  q[table_index(GgmlType::Q4_K)] = make_quant<Q4_KK>(GgmlType::Q4_K, GgmlType::Q8_K);
  q[table_index(GgmlType::Q5_K)] = make_quant<Q5_KK>(GgmlType::Q5_K, GgmlType::Q8_K);
  q[table_index(GgmlType::Q6_K)] = make_quant<Q6_KK>(GgmlType::Q6_K, GgmlType::Q8_K);

  t.exact[table_index(GgmlType::F32)] = make_tiled<PlainTile<F32K>>(GgmlType::F32, GgmlType::F32);
  t.exact[table_index(GgmlType::F16)] =
      make_tiled<PlainTile<F16F32K>>(GgmlType::F16, GgmlType::F32);
  t.exact[table_index(GgmlType::BF16)] =
      make_tiled<PlainTile<BF16F32K>>(GgmlType::BF16, GgmlType::F32);
  t.exact[table_index(GgmlType::Q4_0)] =
      make_rows<dot_exact<dequant_q4_0, 32, 18>>(GgmlType::Q4_0, GgmlType::F32);
  t.exact[table_index(GgmlType::Q8_0)] =
      make_rows<dot_exact<dequant_q8_0, 32, 34>>(GgmlType::Q8_0, GgmlType::F32);
  t.exact[table_index(GgmlType::Q4_K)] =
      make_rows<dot_exact<dequant_q4_k, 256, 144>>(GgmlType::Q4_K, GgmlType::F32);
  t.exact[table_index(GgmlType::Q6_K)] =
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
