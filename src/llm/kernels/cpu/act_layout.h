// Layout of the quantized activation rows (internal to the CPU kernels).
//
// A row of n activations of type Q8_0, Q8_1 or Q8_K is
//
//   [ggml blocks: what quantize_row_q8_0/_q8_1/_q8_K write] [zero padding to 64 bytes]
//   [packed copy: the same numbers rearranged for SIMD loads]
//
// The scalar kernels read the ggml blocks; the SIMD kernels read the packed copy. Both are
// written by quantize_activations (dispatch.cpp), once per row, whatever the ISA.
//
// Q8_0 / Q8_1 packed copy: one 256-byte group per 4 blocks (128 values); a last partial group is
// padded with zero blocks. Group g, block k = 4g + k' (k' = 0..3):
//   [0, 64)     int8 lo[64]:   lo[16k' + j] = qs_k[j]        (values 0..15 of each block)
//   [64, 128)   int8 hi[64]:   hi[16k' + j] = qs_k[16 + j]   (values 16..31 of each block)
//   [128, 192)  float d[16]:   d[4k' + m] = d_k              (the fp16 scale, as float)
//   [192, 256)  Q8_0: int32 negsum[16]: negsum[4k' + m] = -(sum of lo[16k'+4m .. +3] and
//                                        hi[16k'+4m .. +3]), the 8 quants a dword lane of a
//                                        dot-product instruction on lo and hi sees;
//               Q8_1: float s[16]:    s[4k'] = s_k (fp16 d*sum, as float), other lanes 0.
// This matches the weight layout of Q4_0/Q4_1/Q5_0/Q5_1 blocks (low nibbles = values 0..15), so a
// SIMD register holds the same 16-value half of 4 consecutive blocks on both sides, and the dword
// lanes of a dot product (vpdpbusd / vpmaddubsw+vpmaddwd) belong to one block each.
//
// Q8_K packed copy: one 384-byte record per 256-value super-block:
//   [0, 256)    int8 qs[256]   (value order)
//   [256, 288)  int16 bsums[16]
//   [288, 320)  float dsum[8]: d * (bsums[2j] + bsums[2j+1]), the scaled sum of each 32 values
//   [320, 384)  float d[16]:   d, repeated
//
// Everything here is static and constexpr: this header is included by the per-ISA translation
// units (see the note in llm/quant/blocks.h).
#pragma once

#include <cstddef>
#include <cstdint>

namespace vigil::kernels::cpu {

constexpr size_t kPackAlign = 64;

constexpr int kGroupBlocks = 4;
constexpr int kGroupValues = 128;
constexpr size_t kGroupBytes = 256;
constexpr size_t kGroupLo = 0;
constexpr size_t kGroupHi = 64;
constexpr size_t kGroupD = 128;
constexpr size_t kGroupAux = 192;

constexpr size_t kSuperBytes = 384;
constexpr size_t kSuperQs = 0;
constexpr size_t kSuperBsums = 256;
constexpr size_t kSuperDsum = 288;
constexpr size_t kSuperD = 320;

static constexpr size_t round_up_pack(size_t bytes) {
  return (bytes + kPackAlign - 1) / kPackAlign * kPackAlign;
}

// Byte offset of the packed copy in a Q8_0 (block_bytes 34) or Q8_1 (36) activation row.
static constexpr size_t packed_offset_q8(int64_t n, size_t block_bytes) {
  return round_up_pack(static_cast<size_t>(n / 32) * block_bytes);
}
static constexpr size_t packed_groups(int64_t n) {
  return static_cast<size_t>((n / 32 + kGroupBlocks - 1) / kGroupBlocks);
}
static constexpr size_t activation_bytes_q8(int64_t n, size_t block_bytes) {
  return packed_offset_q8(n, block_bytes) + packed_groups(n) * kGroupBytes;
}

// Byte offset of the packed copy in a Q8_K activation row.
static constexpr size_t packed_offset_q8_k(int64_t n) {
  return round_up_pack(static_cast<size_t>(n / 256) * 292);
}
static constexpr size_t activation_bytes_q8_k(int64_t n) {
  return packed_offset_q8_k(n) + static_cast<size_t>(n / 256) * kSuperBytes;
}

}  // namespace vigil::kernels::cpu
