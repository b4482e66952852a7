// ggml quantization blocks, byte for byte as they are stored in GGUF files (ggml-common.h), and
// the scalar half-precision conversions they need.
//
// Every block is a plain struct of bytes with 2-byte alignment at most (4 for BlockQ8_K, which
// only ever lives in our own activation buffers), so a GGUF tensor row (32-byte aligned, every
// row a whole number of blocks) can be read in place without conversion.
//
// Value order inside a block (what dequantization produces):
//   Q4_0/Q4_1   qs[j] & 0xF -> value j, qs[j] >> 4 -> value j + 16 (j < 16).
//   Q5_0/Q5_1   as Q4_x; bit j of qh (little-endian uint32) is bit 4 of value j (j < 32).
//   Q8_0/Q8_1   qs[j] -> value j.
//   Q4_K        four 64-value chunks c: qs[32c + l] & 0xF -> value 64c + l,
//               qs[32c + l] >> 4 -> value 64c + 32 + l; sub-block j (32 values) has a 6-bit
//               scale and a 6-bit min packed in scales[12] (see unpack_q4_k_scales).
//   Q5_K        as Q4_K; bit 2c of qh[l] is bit 4 of value 64c + l, bit 2c+1 of value 64c+32+l.
//   Q6_K        two 128-value halves h (ql += 64h, qh += 32h, scales += 8h), l < 32:
//               value l      = (ql[l] & 0xF)      | ((qh[l] >> 0) & 3) << 4
//               value l + 32 = (ql[l + 32] & 0xF) | ((qh[l] >> 2) & 3) << 4
//               value l + 64 = (ql[l] >> 4)       | ((qh[l] >> 4) & 3) << 4
//               value l + 96 = (ql[l + 32] >> 4)  | ((qh[l] >> 6) & 3) << 4
//               minus 32, times d * scales[value / 16].
//
// The helpers here are `static inline` on purpose: this header is included by translation units
// compiled with -mavx2 / -mavx512f, and a non-static inline function would be emitted by every
// one of them as a COMDAT copy; the linker may then keep the AVX-512 copy and run it on a CPU
// without AVX-512.
#pragma once

#include <cstdint>
#include <cstring>

namespace vigil::quant {

constexpr int kQK = 32;     // values per block of the *_0 / *_1 types
constexpr int kQK_K = 256;  // values per super-block of the k-quants

struct BlockQ4_0 {
  uint16_t d;           // fp16 scale
  uint8_t qs[kQK / 2];  // 4-bit quants, value = (q - 8) * d
};
struct BlockQ4_1 {
  uint16_t d;  // fp16 scale
  uint16_t m;  // fp16 minimum, value = q * d + m
  uint8_t qs[kQK / 2];
};
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];        // 5th bits, little-endian uint32
  uint8_t qs[kQK / 2];  // value = (q - 16) * d
};
struct BlockQ5_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qh[4];
  uint8_t qs[kQK / 2];  // value = q * d + m
};
struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[kQK];  // value = q * d
};
struct BlockQ8_1 {
  uint16_t d;
  uint16_t s;  // fp16 of d * sum(qs): the block sum, for the min term of Q4_1/Q5_1
  int8_t qs[kQK];
};
struct BlockQ4_K {
  uint16_t d;             // fp16 scale of the 6-bit sub-block scales
  uint16_t dmin;          // fp16 scale of the 6-bit sub-block mins
  uint8_t scales[12];     // 8 scales + 8 mins, 6 bits each
  uint8_t qs[kQK_K / 2];  // value = d * scale_j * q - dmin * min_j
};
struct BlockQ5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qh[kQK_K / 8];
  uint8_t qs[kQK_K / 2];
};
struct BlockQ6_K {
  uint8_t ql[kQK_K / 2];      // low 4 bits
  uint8_t qh[kQK_K / 4];      // high 2 bits
  int8_t scales[kQK_K / 16];  // signed 8-bit scale per 16 values
  uint16_t d;                 // fp16 super-block scale
};
struct BlockQ8_K {
  float d;  // f32 scale (not fp16)
  int8_t qs[kQK_K];
  int16_t bsums[kQK_K / 16];  // sum of each 16 quants
};

static_assert(sizeof(BlockQ4_0) == 18);
static_assert(sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ5_0) == 22);
static_assert(sizeof(BlockQ5_1) == 24);
static_assert(sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ8_1) == 36);
static_assert(sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ5_K) == 176);
static_assert(sizeof(BlockQ6_K) == 210);
static_assert(sizeof(BlockQ8_K) == 292);

// IEEE binary16 -> binary32, exact (subnormals, inf, NaN payload kept).
static inline float fp16_to_fp32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t em = h & 0x7fffu;
  uint32_t bits;
  if (em >= 0x7c00u) {
    bits = sign | 0x7f800000u | ((em & 0x3ffu) << 13);  // inf / NaN
  } else if (em >= 0x0400u) {
    bits = sign | ((em << 13) + (112u << 23));  // normal: rebias exponent 15 -> 127
  } else {
    // Subnormal or zero: em * 2^-24 is exact in binary32.
    const float f = static_cast<float>(em) * 5.9604644775390625e-8f;
    return sign ? -f : f;
  }
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

// binary32 -> binary16, round to nearest even (what F16C's vcvtps2ph with imm 0 and ggml's
// GGML_FP32_TO_FP16 do). Overflow gives inf; NaN stays a quiet NaN.
static inline uint16_t fp32_to_fp16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, sizeof(x));
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t a = x & 0x7fffffffu;
  if (a > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u | ((a >> 13) & 0x3ffu));
  if (a >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // >= 65520 -> inf
  if (a >= 0x38800000u) {
    // Normal half: drop 13 mantissa bits with round-to-nearest-even; a carry into the exponent
    // is the correct result.
    const uint32_t odd = (a >> 13) & 1u;
    return static_cast<uint16_t>(sign | ((a - (112u << 23) + 0xfffu + odd) >> 13));
  }
  // Subnormal half (or zero): adding 0.5 puts the value's multiple of 2^-24 in the low mantissa
  // bits, rounded to nearest even by the FPU.
  float v;
  std::memcpy(&v, &a, sizeof(v));
  v += 0.5f;
  uint32_t r;
  std::memcpy(&r, &v, sizeof(r));
  return static_cast<uint16_t>(sign | (r - 0x3f000000u));
}

static inline float bf16_to_fp32(uint16_t h) {
  const uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

// binary32 -> bfloat16, round to nearest even; NaN forced quiet (as ggml_compute_fp32_to_bf16).
static inline uint16_t fp32_to_bf16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, sizeof(x));
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 64u);
  return static_cast<uint16_t>((x + (0x7fffu + ((x >> 16) & 1u))) >> 16);
}

// Round to nearest, ties to even, for |v| < 2^22 (ggml's nearest_int): adding 1.5 * 2^23 leaves
// the rounded integer in the low mantissa bits. Needs the default rounding mode and no
// -ffast-math (both hold in this project).
static inline int nearest_int(float v) {
  float t = v + 12582912.f;
  int32_t i;
  std::memcpy(&i, &t, sizeof(i));
  return (i & 0x007fffff) - 0x00400000;
}

// The 6-bit scales and mins of a Q4_K / Q5_K super-block, unpacked from its 12 bytes:
//   j < 4:  scale_j = s[j] & 63,                       min_j = s[j + 4] & 63
//   j >= 4: scale_j = (s[j + 4] & 15) | (s[j - 4] >> 6) << 4,
//           min_j   = (s[j + 4] >> 4) | (s[j] >> 6) << 4
static inline void unpack_q4_k_scales(const uint8_t* s, uint8_t scale[8], uint8_t min[8]) {
  for (int j = 0; j < 4; ++j) {
    scale[j] = s[j] & 63;
    min[j] = s[j + 4] & 63;
  }
  for (int j = 4; j < 8; ++j) {
    scale[j] = static_cast<uint8_t>((s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4));
    min[j] = static_cast<uint8_t>((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
  }
}

}  // namespace vigil::quant
