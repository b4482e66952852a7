// Block formats: half conversions, hand-made blocks with hand-computed values, quantizers.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "llm/kernels/kernels.h"
#include "llm/quant/blocks.h"
#include "llm/quant/reference.h"
#include "test_util.h"

namespace vigil {
namespace {

using namespace vigil::quant;
using testing::AlignedBuffer;

float as_float(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

TEST(Half, EveryHalfRoundTrips) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = fp16_to_fp32(static_cast<uint16_t>(h));
    if ((h & 0x7c00u) == 0x7c00u && (h & 0x3ffu) != 0) {
      EXPECT_TRUE(std::isnan(f)) << h;
      EXPECT_TRUE((fp32_to_fp16(f) & 0x7fffu) > 0x7c00u) << h;
    } else {
      ASSERT_EQ(fp32_to_fp16(f), h) << "half 0x" << std::hex << h;
    }
  }
}

TEST(Half, KnownValues) {
  EXPECT_EQ(fp16_to_fp32(0x3c00), 1.0f);
  EXPECT_EQ(fp16_to_fp32(0xc000), -2.0f);
  EXPECT_EQ(fp16_to_fp32(0x7bff), 65504.0f);
  EXPECT_EQ(fp16_to_fp32(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(fp16_to_fp32(0x03ff), std::ldexp(1023.0f, -24));
  EXPECT_TRUE(std::isinf(fp16_to_fp32(0xfc00)));
  EXPECT_EQ(fp32_to_fp16(65519.0f), 0x7bff);                          // rounds down to the max
  EXPECT_EQ(fp32_to_fp16(65520.0f), 0x7c00);                          // tie to even -> inf
  EXPECT_EQ(fp32_to_fp16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);      // tie -> even (1.0)
  EXPECT_EQ(fp32_to_fp16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);  // tie -> even (up)
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1.0f, -25)), 0x0000);             // half the smallest: tie -> 0
  EXPECT_EQ(fp32_to_fp16(3 * std::ldexp(1.0f, -25)), 0x0002);
  EXPECT_EQ(fp32_to_fp16(-std::ldexp(1.0f, -26)), 0x8000);                         // -0
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1.0f, -14) - std::ldexp(1.0f, -26)), 0x0400);  // to normal
  EXPECT_EQ(fp32_to_fp16(1e10f), 0x7c00);
}

// For random floats, the result is the nearest half (ties to even).
TEST(Half, RoundsToNearestEven) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<uint32_t> bits(0, 0x477fffffu);  // |f| < 65536
  for (int i = 0; i < 200000; ++i) {
    const uint32_t b = bits(rng) | ((i & 1) ? 0x80000000u : 0);
    const float f = as_float(b);
    const uint16_t h = fp32_to_fp16(f);
    const double v = fp16_to_fp32(h);
    const double err = std::fabs(v - f);
    for (int delta : {-1, 1}) {
      const uint16_t mag = h & 0x7fff;
      if ((delta < 0 && mag == 0) || (delta > 0 && mag >= 0x7bff)) continue;
      const uint16_t nb = static_cast<uint16_t>((h & 0x8000) | (mag + delta));
      const double nerr = std::fabs(double(fp16_to_fp32(nb)) - f);
      ASSERT_LE(err, nerr) << "f=" << f;
      if (err == nerr) {
        ASSERT_EQ(h & 1, 0) << "tie not to even, f=" << f;
      }
    }
  }
}

TEST(Bf16, RoundsToNearestEven) {
  EXPECT_EQ(fp32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(bf16_to_fp32(0x3f80), 1.0f);
  EXPECT_EQ(fp32_to_bf16(as_float(0x3f808000u)), 0x3f80);  // tie -> even
  EXPECT_EQ(fp32_to_bf16(as_float(0x3f818000u)), 0x3f82);  // tie -> even (up)
  EXPECT_EQ(fp32_to_bf16(as_float(0x3f808001u)), 0x3f81);
  EXPECT_TRUE(std::isnan(bf16_to_fp32(fp32_to_bf16(std::nanf("")))));
}

// ---- hand-made blocks ----

// Dequantizes with the reference and with every available ISA; all must equal `expected` exactly.
void expect_dequant(GgmlType type, const std::vector<uint8_t>& block, int64_t n,
                    const std::vector<float>& expected) {
  std::vector<float> out(static_cast<size_t>(n));
  dequantize_row_ref(type, block.data(), out.data(), n);
  for (int64_t i = 0; i < n; ++i) ASSERT_EQ(out[i], expected[i]) << "reference, value " << i;
  for (auto isa : testing::available_isas()) {
    std::vector<float> o(static_cast<size_t>(n), -999.0f);
    kernels::kernel_table(isa).dequantize_row(type, block.data(), o.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_EQ(o[i], expected[i]) << kernels::isa_name(isa) << ", value " << i;
    }
  }
}

std::vector<uint8_t> bytes_of(const void* p, size_t n) {
  const auto* b = static_cast<const uint8_t*>(p);
  return std::vector<uint8_t>(b, b + n);
}

TEST(Blocks, Q4_0NibbleOrder) {
  BlockQ4_0 b{};
  b.d = fp32_to_fp16(0.5f);
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  std::vector<float> want(32);
  for (int j = 0; j < 16; ++j) {
    want[j] = (j - 8) * 0.5f;       // low nibbles: values 0..15
    want[16 + j] = (7 - j) * 0.5f;  // high nibbles: values 16..31
  }
  expect_dequant(GgmlType::Q4_0, bytes_of(&b, sizeof(b)), 32, want);
}

TEST(Blocks, Q4_1ScaleAndMin) {
  BlockQ4_1 b{};
  b.d = fp32_to_fp16(0.25f);
  b.m = fp32_to_fp16(-1.0f);
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  std::vector<float> want(32);
  for (int j = 0; j < 16; ++j) {
    want[j] = j * 0.25f - 1.0f;
    want[16 + j] = (15 - j) * 0.25f - 1.0f;
  }
  expect_dequant(GgmlType::Q4_1, bytes_of(&b, sizeof(b)), 32, want);
}

TEST(Blocks, Q5FifthBits) {
  const uint32_t qh = 0xA5C35A3Cu;
  BlockQ5_0 b0{};
  b0.d = fp32_to_fp16(1.0f);
  std::memcpy(b0.qh, &qh, 4);
  BlockQ5_1 b1{};
  b1.d = fp32_to_fp16(0.5f);
  b1.m = fp32_to_fp16(2.0f);
  std::memcpy(b1.qh, &qh, 4);
  for (int j = 0; j < 16; ++j) {
    b0.qs[j] = b1.qs[j] = static_cast<uint8_t>(((3 * j) & 15) | ((15 - j) << 4));
  }
  std::vector<float> want0(32), want1(32);
  for (int v = 0; v < 32; ++v) {
    const int nib = v < 16 ? (3 * v) & 15 : 15 - (v - 16);
    const int q = nib | (((qh >> v) & 1) << 4);
    want0[v] = static_cast<float>(q - 16);
    want1[v] = q * 0.5f + 2.0f;
  }
  expect_dequant(GgmlType::Q5_0, bytes_of(&b0, sizeof(b0)), 32, want0);
  expect_dequant(GgmlType::Q5_1, bytes_of(&b1, sizeof(b1)), 32, want1);
}

TEST(Blocks, Q8_0) {
  BlockQ8_0 b{};
  b.d = fp32_to_fp16(0.125f);
  std::vector<float> want(32);
  for (int j = 0; j < 32; ++j) {
    b.qs[j] = static_cast<int8_t>(j * 8 - 128);
    want[j] = (j * 8 - 128) * 0.125f;
  }
  expect_dequant(GgmlType::Q8_0, bytes_of(&b, sizeof(b)), 32, want);
}

// Packs 8 six-bit scales and mins the way the k-quant format documents it (written from the
// format description, independently of the unpacking code under test).
void pack_k4_scales(const uint8_t sc[8], const uint8_t mn[8], uint8_t out[12]) {
  std::memset(out, 0, 12);
  for (int j = 0; j < 8; ++j) {
    if (j < 4) {
      out[j] = sc[j];
      out[j + 4] = mn[j];
    } else {
      out[j + 4] = static_cast<uint8_t>((sc[j] & 0xF) | ((mn[j] & 0xF) << 4));
      out[j - 4] |= static_cast<uint8_t>((sc[j] >> 4) << 6);
      out[j] |= static_cast<uint8_t>((mn[j] >> 4) << 6);
    }
  }
}

const uint8_t kScales[8] = {63, 17, 40, 5, 33, 62, 1, 48};
const uint8_t kMins[8] = {0, 63, 9, 31, 32, 16, 47, 2};

TEST(Blocks, K4ScaleUnpacking) {
  uint8_t packed[12], sc[8], mn[8];
  pack_k4_scales(kScales, kMins, packed);
  unpack_q4_k_scales(packed, sc, mn);
  for (int j = 0; j < 8; ++j) {
    EXPECT_EQ(sc[j], kScales[j]) << j;
    EXPECT_EQ(mn[j], kMins[j]) << j;
  }
}

TEST(Blocks, Q4_KLayout) {
  BlockQ4_K b{};
  b.d = fp32_to_fp16(1.0f);
  b.dmin = fp32_to_fp16(0.5f);
  pack_k4_scales(kScales, kMins, b.scales);
  for (int c = 0; c < 4; ++c) {
    for (int l = 0; l < 32; ++l) {
      b.qs[32 * c + l] = static_cast<uint8_t>(((l + c) & 15) | (((3 * l + c) & 15) << 4));
    }
  }
  std::vector<float> want(256);
  for (int v = 0; v < 256; ++v) {
    const int c = v / 64, l = v % 32, sub = v / 32;  // sub-block = 2c or 2c+1
    const int q = (v % 64) < 32 ? (l + c) & 15 : (3 * l + c) & 15;
    want[v] = 1.0f * kScales[sub] * q - 0.5f * kMins[sub];
  }
  expect_dequant(GgmlType::Q4_K, bytes_of(&b, sizeof(b)), 256, want);
}

TEST(Blocks, Q5_KLayout) {
  BlockQ5_K b{};
  b.d = fp32_to_fp16(0.5f);
  b.dmin = fp32_to_fp16(0.25f);
  pack_k4_scales(kScales, kMins, b.scales);
  for (int l = 0; l < 32; ++l) b.qh[l] = static_cast<uint8_t>(l * 37 + 11);
  for (int i = 0; i < 128; ++i) b.qs[i] = static_cast<uint8_t>(i * 29 + 3);
  std::vector<float> want(256);
  for (int v = 0; v < 256; ++v) {
    const int c = v / 64, l = v % 32, upper = (v % 64) >= 32, sub = v / 32;
    const uint8_t byte = b.qs[32 * c + l];
    const int nib = upper ? byte >> 4 : byte & 15;
    const int bit = (b.qh[l] >> (2 * c + upper)) & 1;
    want[v] = (0.5f * kScales[sub]) * static_cast<float>(nib + 16 * bit) - 0.25f * kMins[sub];
  }
  expect_dequant(GgmlType::Q5_K, bytes_of(&b, sizeof(b)), 256, want);
}

TEST(Blocks, Q6_KLayout) {
  BlockQ6_K b{};
  b.d = fp32_to_fp16(0.25f);
  for (int i = 0; i < 128; ++i) b.ql[i] = static_cast<uint8_t>(i * 53 + 7);
  for (int i = 0; i < 64; ++i) b.qh[i] = static_cast<uint8_t>(i * 101 + 5);
  const int8_t scales[16] = {-128, 127, 1, -1, 64, -64, 3, 100, -77, 5, 0, 42, -3, 9, 17, -20};
  std::memcpy(b.scales, scales, 16);
  std::vector<float> want(256);
  for (int v = 0; v < 256; ++v) {
    const int h = v / 128, r = v % 128, k = r / 32, l = r % 32;
    const uint8_t lbyte = b.ql[64 * h + l + 32 * (k & 1)];
    const int nib = k >= 2 ? lbyte >> 4 : lbyte & 15;
    const int hb = (b.qh[32 * h + l] >> (2 * k)) & 3;
    const int q = (nib | (hb << 4)) - 32;
    want[v] = 0.25f * static_cast<float>(scales[v / 16]) * static_cast<float>(q);
  }
  expect_dequant(GgmlType::Q6_K, bytes_of(&b, sizeof(b)), 256, want);
}

TEST(Blocks, PlainTypes) {
  const std::vector<float> v = {1.0f, -2.5f, 65504.0f, 3.0e-8f, 0.0f, -0.0f, 1e-3f};
  std::vector<uint8_t> f16(v.size() * 2), bf16(v.size() * 2);
  std::vector<float> want16, want_bf;
  for (size_t i = 0; i < v.size(); ++i) {
    const uint16_t h = fp32_to_fp16(v[i]), b = fp32_to_bf16(v[i]);
    std::memcpy(&f16[2 * i], &h, 2);
    std::memcpy(&bf16[2 * i], &b, 2);
    want16.push_back(fp16_to_fp32(h));
    want_bf.push_back(bf16_to_fp32(b));
  }
  expect_dequant(GgmlType::F16, f16, static_cast<int64_t>(v.size()), want16);
  expect_dequant(GgmlType::BF16, bf16, static_cast<int64_t>(v.size()), want_bf);
  expect_dequant(GgmlType::F32, bytes_of(v.data(), v.size() * 4), static_cast<int64_t>(v.size()),
                 v);
}

// ---- quantizers ----

TEST(Quantize, Q8_0RoundsHalfToEvenLikeTheSimdPath) {
  std::vector<float> x(32, 0.0f);
  x[0] = 127.0f;  // amax = 127: d = 1, id = 1
  x[1] = 2.5f;
  x[2] = 3.5f;
  x[3] = -2.5f;
  x[4] = 0.5f;
  x[5] = -126.5f;
  BlockQ8_0 b;
  quantize_row_q8_0(x.data(), &b, 32);
  EXPECT_EQ(fp16_to_fp32(b.d), 1.0f);
  EXPECT_EQ(b.qs[0], 127);
  EXPECT_EQ(b.qs[1], 2);
  EXPECT_EQ(b.qs[2], 4);
  EXPECT_EQ(b.qs[3], -2);
  EXPECT_EQ(b.qs[4], 0);
  EXPECT_EQ(b.qs[5], -126);
  // ggml's reference quantizer rounds ties away from zero.
  BlockQ8_0 r;
  quantize_row_q8_0_ref(x.data(), &r, 32);
  EXPECT_EQ(r.qs[1], 3);
  EXPECT_EQ(r.qs[3], -3);
  EXPECT_EQ(r.qs[5], -127);
}

TEST(Quantize, Q8_0ErrorIsHalfAStep) {
  std::mt19937 rng(3);
  const auto x = testing::random_floats(32 * 64, rng, 2.0f);
  std::vector<BlockQ8_0> b(64);
  quantize_row_q8_0(x.data(), b.data(), static_cast<int64_t>(x.size()));
  std::vector<float> y(x.size());
  dequantize_row_ref(GgmlType::Q8_0, b.data(), y.data(), static_cast<int64_t>(x.size()));
  for (size_t i = 0; i < x.size(); ++i) {
    const float d = fp16_to_fp32(b[i / 32].d);
    EXPECT_LE(std::fabs(x[i] - y[i]), 0.57f * d + 1e-7f) << i;
  }
  std::vector<float> zeros(32, 0.0f);
  quantize_row_q8_0(zeros.data(), b.data(), 32);
  EXPECT_EQ(b[0].d, 0);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(b[0].qs[j], 0);
}

TEST(Quantize, Q8_1SumIsScaledSumOfQuants) {
  std::mt19937 rng(4);
  const auto x = testing::random_floats(32 * 8, rng);
  std::vector<BlockQ8_1> b(8);
  quantize_row_q8_1(x.data(), b.data(), 256);
  std::vector<BlockQ8_0> b0(8);
  quantize_row_q8_0(x.data(), b0.data(), 256);
  for (int i = 0; i < 8; ++i) {
    int sum = 0;
    for (int j = 0; j < 32; ++j) {
      sum += b[i].qs[j];
      EXPECT_EQ(b[i].qs[j], b0[i].qs[j]);
    }
    EXPECT_EQ(b[i].d, b0[i].d);
    // s = fp16(d * sum) where d is the unrounded amax / 127.
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[32 * i + j]));
    EXPECT_EQ(b[i].s, fp32_to_fp16(amax / 127.f * static_cast<float>(sum)));
  }
}

TEST(Quantize, Q8_KScaleCarriesTheSignOfTheLargestValue) {
  std::vector<float> x(256);
  for (int j = 0; j < 256; ++j) x[j] = static_cast<float>((j * 37) % 101 - 50) * 0.01f;
  x[17] = 2.0f;  // largest magnitude, positive
  BlockQ8_K b;
  quantize_row_q8_K(x.data(), &b, 256);
  EXPECT_EQ(b.qs[17], -127);
  EXPECT_FLOAT_EQ(b.d, -2.0f / 127.0f);
  for (int j = 0; j < 256; ++j) {
    EXPECT_LE(std::fabs(b.d * b.qs[j] - x[j]), 0.5f * std::fabs(b.d) + 1e-6f) << j;
  }
  for (int g = 0; g < 16; ++g) {
    int sum = 0;
    for (int l = 0; l < 16; ++l) sum += b.qs[16 * g + l];
    EXPECT_EQ(b.bsums[g], sum) << g;
  }
  std::vector<float> zeros(256, 0.0f);
  quantize_row_q8_K(zeros.data(), &b, 256);
  EXPECT_EQ(b.d, 0.0f);
  for (int g = 0; g < 16; ++g) EXPECT_EQ(b.bsums[g], 0);
}

TEST(Quantize, ActivationRowsHoldTheGgmlBlocks) {
  std::mt19937 rng(5);
  const int64_t n = 32 * 13;  // not a whole number of packed groups
  const auto x = testing::random_floats(n, rng);
  AlignedBuffer act(kernels::activation_bytes(GgmlType::Q8_0, n));
  kernels::quantize_activations(GgmlType::Q8_0, x.data(), act.data(), n);
  std::vector<BlockQ8_0> want(13);
  quantize_row_q8_0(x.data(), want.data(), n);
  EXPECT_EQ(std::memcmp(act.data(), want.data(), want.size() * sizeof(BlockQ8_0)), 0);

  const int64_t nk = 512;
  const auto xk = testing::random_floats(nk, rng);
  AlignedBuffer actk(kernels::activation_bytes(GgmlType::Q8_K, nk));
  kernels::quantize_activations(GgmlType::Q8_K, xk.data(), actk.data(), nk);
  std::vector<BlockQ8_K> wantk(2);
  quantize_row_q8_K(xk.data(), wantk.data(), nk);
  EXPECT_EQ(std::memcmp(actk.data(), wantk.data(), wantk.size() * sizeof(BlockQ8_K)), 0);

  AlignedBuffer act16(kernels::activation_bytes(GgmlType::F16, 5));
  kernels::quantize_activations(GgmlType::F16, x.data(), act16.data(), 5);
  for (int i = 0; i < 5; ++i) {
    uint16_t h;
    std::memcpy(&h, act16.data() + 2 * i, 2);
    EXPECT_EQ(h, fp32_to_fp16(x[i]));
  }
}

TEST(Quantize, ReferenceWeightQuantizersRoundTrip) {
  std::mt19937 rng(6);
  const auto x = testing::random_floats(32 * 16, rng, 0.05f);
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<float> y(x.size());
  auto check = [&](GgmlType type, const void* blocks, float steps_per_range) {
    dequantize_row_ref(type, blocks, y.data(), n);
    for (int64_t b = 0; b < n / 32; ++b) {
      float lo = x[32 * b], hi = x[32 * b];
      for (int j = 0; j < 32; ++j) {
        lo = std::min(lo, x[32 * b + j]);
        hi = std::max(hi, x[32 * b + j]);
      }
      const float step = std::max(std::fabs(lo), std::fabs(hi)) * 2 / steps_per_range;
      for (int j = 0; j < 32; ++j) {
        EXPECT_LE(std::fabs(y[32 * b + j] - x[32 * b + j]), 1.01f * step)
            << ggml_type_name(type) << " value " << 32 * b + j;
      }
    }
  };
  std::vector<BlockQ4_0> q40(16);
  quantize_row_q4_0_ref(x.data(), q40.data(), n);
  check(GgmlType::Q4_0, q40.data(), 16);
  std::vector<BlockQ4_1> q41(16);
  quantize_row_q4_1_ref(x.data(), q41.data(), n);
  check(GgmlType::Q4_1, q41.data(), 15);
  std::vector<BlockQ5_0> q50(16);
  quantize_row_q5_0_ref(x.data(), q50.data(), n);
  check(GgmlType::Q5_0, q50.data(), 32);
  std::vector<BlockQ5_1> q51(16);
  quantize_row_q5_1_ref(x.data(), q51.data(), n);
  check(GgmlType::Q5_1, q51.data(), 31);
  std::vector<BlockQ8_0> q80(16);
  quantize_row_q8_0_ref(x.data(), q80.data(), n);
  check(GgmlType::Q8_0, q80.data(), 254);
}

}  // namespace
}  // namespace vigil
