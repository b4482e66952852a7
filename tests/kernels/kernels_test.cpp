// Every weight type on every ISA this CPU has, against the scalar reference: dequantization
// bit-exact, dot products within a tight relative tolerance, matvec / matmul row ranges, the
// exact (f32 activation) mode, and the API's error reporting.

#include "llm/kernels/kernels.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "base/error.h"
#include "llm/quant/reference.h"
#include "test_util.h"

namespace vigil {
namespace {

using kernels::Isa;
using testing::AlignedBuffer;

struct Shape {
  int64_t rows;
  int64_t cols;
};

// Column counts that exercise whole groups, partial groups, a lone block, and rows long enough to
// span several of the chunks in which the AVX-512 matmul unpacks weights (32 KiB of unpacked
// weights: 12 k-quant super-blocks, 32..42 groups of 4 blocks), ending in a partial group.
std::vector<int64_t> test_cols(GgmlType type) {
  const int64_t block = ggml_traits(type).block_values;
  if (block == 1) return {1, 15, 77, 256, 1000};
  if (block == 32) return {32, 64, 96, 128, 352, 1024, 32 * (4 * 43 + 3)};
  return {256, 768, 1280, 256 * 25};
}

// Activations of `n_tokens` rows for weights of `type` in mode (quantized or f32), 64-byte strided.
struct Acts {
  GgmlType act_type;
  size_t stride;
  AlignedBuffer buf;
  std::vector<std::vector<float>> floats;  // the original activations
  std::vector<std::vector<float>> values;  // what the kernels see (dequantized activations)
};

Acts make_acts(GgmlType act_type, int64_t n, int64_t n_tokens, std::mt19937& rng) {
  Acts a;
  a.act_type = act_type;
  const size_t bytes = kernels::activation_bytes(act_type, n);
  a.stride = (bytes + 63) / 64 * 64;
  a.buf.resize(a.stride * static_cast<size_t>(n_tokens));
  for (int64_t t = 0; t < n_tokens; ++t) {
    auto x = testing::random_floats(n, rng);
    uint8_t* row = a.buf.data() + t * a.stride;
    kernels::quantize_activations(act_type, x.data(), row, n);
    std::vector<float> v(static_cast<size_t>(n));
    quant::dequantize_row_ref(act_type, row, v.data(), n);  // ggml blocks come first
    a.floats.push_back(std::move(x));
    a.values.push_back(std::move(v));
  }
  return a;
}

// sum |w_i x_i| in double: the scale for a relative tolerance that cancellation cannot fool.
double magnitude(const std::vector<float>& w, const std::vector<float>& x) {
  double m = 0;
  for (size_t i = 0; i < w.size(); ++i) m += std::fabs(double(w[i]) * double(x[i]));
  return m;
}
double exact_dot(const std::vector<float>& w, const std::vector<float>& x) {
  double s = 0;
  for (size_t i = 0; i < w.size(); ++i) s += double(w[i]) * double(x[i]);
  return s;
}

class KernelTypeTest : public ::testing::TestWithParam<GgmlType> {};

TEST_P(KernelTypeTest, DequantizeIsBitExactOnEveryIsa) {
  const GgmlType type = GetParam();
  std::mt19937 rng(100 + static_cast<int>(type));
  for (int64_t cols : test_cols(type)) {
    const size_t rb = ggml_row_bytes(type, cols);
    const int64_t rows = 3;
    auto w = testing::random_rows(type, rows, cols, rb, rng);
    for (int64_t r = 0; r < rows; ++r) {
      std::vector<float> want(static_cast<size_t>(cols));
      quant::dequantize_row_ref(type, w.data() + r * rb, want.data(), cols);
      for (Isa isa : testing::available_isas()) {
        std::vector<float> got(static_cast<size_t>(cols), std::nanf(""));
        kernels::kernel_table(isa).dequantize_row(type, w.data() + r * rb, got.data(), cols);
        for (int64_t i = 0; i < cols; ++i) {
          // Compare bits, so that -0 vs +0 or NaN payloads would show too.
          uint32_t a, b;
          std::memcpy(&a, &want[i], 4);
          std::memcpy(&b, &got[i], 4);
          ASSERT_EQ(a, b) << kernels::isa_name(isa) << " cols " << cols << " row " << r << " value "
                          << i << ": " << want[i] << " vs " << got[i];
        }
      }
    }
  }
}

// The scalar reference equals the double-precision dot product of what it dequantizes.
TEST_P(KernelTypeTest, ScalarDotMatchesDequantizedMath) {
  const GgmlType type = GetParam();
  std::mt19937 rng(200 + static_cast<int>(type));
  const auto& scalar = kernels::kernel_table(Isa::Scalar);
  for (bool exact : {false, true}) {
    const auto& dot = exact ? scalar.dot(type, GgmlType::F32) : scalar.dot(type);
    for (int64_t cols : test_cols(type)) {
      const size_t rb = ggml_row_bytes(type, cols);
      auto w = testing::random_rows(type, 2, cols, rb, rng);
      Acts a = make_acts(dot.act_type, cols, 1, rng);
      for (int64_t r = 0; r < 2; ++r) {
        std::vector<float> wf(static_cast<size_t>(cols));
        quant::dequantize_row_ref(type, w.data() + r * rb, wf.data(), cols);
        const double want = exact_dot(wf, a.values[0]);
        const double mag = magnitude(wf, a.values[0]);
        const float got = dot.vec_dot(cols, w.data() + r * rb, a.buf.data());
        // Q4_1/Q5_1 use the fp16-rounded block sum s of the activations (as llama.cpp does), so
        // they differ from the exact math by up to |m| * |s| * 2^-11 per block.
        const bool uses_s = !exact && (type == GgmlType::Q4_1 || type == GgmlType::Q5_1);
        const double tol = (uses_s ? 2e-3 : 2e-6) * mag + 1e-6;
        EXPECT_NEAR(got, want, tol)
            << ggml_type_name(type) << (exact ? " exact" : "") << " cols " << cols << " row " << r;
      }
    }
  }
}

// vec_dot, matvec and matmul of every ISA against the scalar vec_dot, in both modes.
TEST_P(KernelTypeTest, EveryIsaMatchesScalar) {
  const GgmlType type = GetParam();
  std::mt19937 rng(300 + static_cast<int>(type));
  const auto& scalar = kernels::kernel_table(Isa::Scalar);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (bool exact : {false, true}) {
    const GgmlType act_type = exact ? GgmlType::F32 : kernels::vec_dot_type(type);
    for (int64_t cols : test_cols(type)) {
      const int64_t rows = 11, n_tokens = 7;
      const size_t rb = ggml_row_bytes(type, cols) + (type == GgmlType::F32 ? 4 : 2);  // padded
      auto w = testing::random_rows(type, rows, cols, rb, rng);
      Acts a = make_acts(act_type, cols, n_tokens, rng);
      // Reference results and tolerances per (row, token).
      std::vector<float> ref(static_cast<size_t>(rows * n_tokens));
      std::vector<double> tol(ref.size());
      for (int64_t r = 0; r < rows; ++r) {
        std::vector<float> wf(static_cast<size_t>(cols));
        quant::dequantize_row_ref(type, w.data() + r * rb, wf.data(), cols);
        for (int64_t t = 0; t < n_tokens; ++t) {
          ref[t * rows + r] = scalar.dot(type, act_type)
                                  .vec_dot(cols, w.data() + r * rb, a.buf.data() + t * a.stride);
          tol[t * rows + r] = 1e-5 * magnitude(wf, a.values[t]) + 1e-6;
        }
      }
      for (Isa isa : testing::available_isas()) {
        const auto& dot = kernels::kernel_table(isa).dot(type, act_type);
        ASSERT_EQ(dot.weight_type, type);
        ASSERT_EQ(dot.act_type, act_type);
        const std::string what = std::string(kernels::isa_name(isa)) + " " +
                                 std::string(ggml_type_name(type)) + (exact ? " exact" : "") +
                                 " cols " + std::to_string(cols);
        for (int64_t r = 0; r < rows; ++r) {
          for (int64_t t = 0; t < n_tokens; ++t) {
            const float got = dot.vec_dot(cols, w.data() + r * rb, a.buf.data() + t * a.stride);
            ASSERT_NEAR(got, ref[t * rows + r], tol[t * rows + r])
                << what << " vec_dot row " << r << " token " << t;
          }
        }
        // matvec on row ranges that split into equal streams with 0-3 rows left over (the decode
        // kernels read a range as 2 or 4 interleaved streams): the rows outside stay untouched.
        const std::pair<int64_t, int64_t> ranges[] = {{1, rows - 1}, {0, rows}, {2, 10}, {3, 4}};
        for (const auto& [first, end] : ranges) {
          for (int64_t t = 0; t < n_tokens; t += 3) {
            std::vector<float> y(static_cast<size_t>(rows), nan);
            dot.matvec(w.data(), rb, cols, first, end, a.buf.data() + t * a.stride, y.data());
            for (int64_t r = 0; r < rows; ++r) {
              if (r < first || r >= end) {
                EXPECT_TRUE(std::isnan(y[r])) << what << " matvec wrote row " << r << " outside ["
                                              << first << ", " << end << ")";
                continue;
              }
              ASSERT_NEAR(y[r], ref[t * rows + r], tol[t * rows + r])
                  << what << " matvec [" << first << ", " << end << ") row " << r << " token " << t;
            }
          }
        }
        // matmul on rows [2, rows) for 1..7 tokens, output rows strided by rows + 3.
        for (int64_t nt : {int64_t{1}, int64_t{4}, int64_t{5}, n_tokens}) {
          const int64_t ys = rows + 3;
          std::vector<float> y(static_cast<size_t>(ys * nt), nan);
          dot.matmul(w.data(), rb, cols, 2, rows, a.buf.data(), a.stride, nt, y.data(), ys);
          for (int64_t t = 0; t < nt; ++t) {
            for (int64_t r = 0; r < ys; ++r) {
              const float v = y[t * ys + r];
              if (r < 2 || r >= rows) {
                ASSERT_TRUE(std::isnan(v)) << what << " matmul wrote outside its rows";
              } else {
                ASSERT_NEAR(v, ref[t * rows + r], tol[t * rows + r])
                    << what << " matmul " << nt << " tokens, row " << r << " token " << t;
              }
            }
          }
        }
      }
    }
  }
}

// matmul equals matvec repeated per token (same ISA), up to summation order.
// The weighted row sum (attention's mix of V rows) of every ISA against dequantize-then-add in
// double, for 0, 1 and several rows (the 0-row sum is zeros), rows padded apart.
TEST_P(KernelTypeTest, WeightedRowSumMatchesDequantizedMath) {
  const GgmlType type = GetParam();
  std::mt19937 rng(500 + static_cast<int>(type));
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (int64_t cols : test_cols(type)) {
    for (int64_t rows : {int64_t{0}, int64_t{1}, int64_t{5}, int64_t{37}}) {
      const size_t rb = ggml_row_bytes(type, cols) + 6;
      auto w = testing::random_rows(type, std::max<int64_t>(rows, 1), cols, rb, rng);
      const std::vector<float> p = testing::random_floats(std::max<int64_t>(rows, 1), rng);
      std::vector<double> want(static_cast<size_t>(cols), 0.0), mag(want.size(), 0.0);
      std::vector<float> row(static_cast<size_t>(cols));
      for (int64_t j = 0; j < rows; ++j) {
        quant::dequantize_row_ref(type, w.data() + j * rb, row.data(), cols);
        for (int64_t i = 0; i < cols; ++i) {
          want[i] += static_cast<double>(p[j]) * row[i];
          mag[i] += std::fabs(static_cast<double>(p[j]) * row[i]);
        }
      }
      for (Isa isa : testing::available_isas()) {
        const std::string what = std::string(kernels::isa_name(isa)) + " " +
                                 std::string(ggml_type_name(type)) + " cols " +
                                 std::to_string(cols) + " rows " + std::to_string(rows);
        std::vector<float> out(static_cast<size_t>(cols) + 1, nan);
        kernels::kernel_table(isa).row_sum(type)(w.data(), rb, rows, p.data(), cols, out.data());
        EXPECT_TRUE(std::isnan(out[cols])) << what << ": wrote past n_cols";
        for (int64_t i = 0; i < cols; ++i) {
          ASSERT_NEAR(out[i], want[i], 1e-5 * mag[i] + 1e-6) << what << " column " << i;
        }
      }
    }
  }
}

TEST_P(KernelTypeTest, MatmulEqualsRepeatedMatvec) {
  const GgmlType type = GetParam();
  std::mt19937 rng(400 + static_cast<int>(type));
  const int64_t cols = ggml_traits(type).block_values == 256 ? 256 * 25 : 32 * (4 * 43 + 3);
  const int64_t rows = 9, n_tokens = 6;
  const size_t rb = ggml_row_bytes(type, cols);
  auto w = testing::random_rows(type, rows, cols, rb, rng);
  Acts a = make_acts(kernels::vec_dot_type(type), cols, n_tokens, rng);
  std::vector<double> tol(static_cast<size_t>(rows * n_tokens));
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<float> wf(static_cast<size_t>(cols));
    quant::dequantize_row_ref(type, w.data() + r * rb, wf.data(), cols);
    for (int64_t t = 0; t < n_tokens; ++t) tol[t * rows + r] = 1e-6 * magnitude(wf, a.values[t]);
  }
  for (Isa isa : testing::available_isas()) {
    const auto& dot = kernels::kernel_table(isa).dot(type);
    std::vector<float> ymm(static_cast<size_t>(rows * n_tokens));
    dot.matmul(w.data(), rb, cols, 0, rows, a.buf.data(), a.stride, n_tokens, ymm.data(), rows);
    for (int64_t t = 0; t < n_tokens; ++t) {
      std::vector<float> y(static_cast<size_t>(rows));
      dot.matvec(w.data(), rb, cols, 0, rows, a.buf.data() + t * a.stride, y.data());
      for (int64_t r = 0; r < rows; ++r) {
        EXPECT_NEAR(ymm[t * rows + r], y[r], tol[t * rows + r])
            << kernels::isa_name(isa) << " " << ggml_type_name(type) << " row " << r << " token "
            << t;
      }
    }
  }
}

// Quantized activations are close to the exact result: the pairing is sane end to end.
TEST_P(KernelTypeTest, QuantizedModeApproximatesExactMode) {
  const GgmlType type = GetParam();
  std::mt19937 rng(500 + static_cast<int>(type));
  const int64_t cols = 1024;
  const size_t rb = ggml_row_bytes(type, cols);
  auto w = testing::random_rows(type, 4, cols, rb, rng);
  const auto x = testing::random_floats(cols, rng);
  const auto& k = kernels::kernels();
  const auto& q = k.dot(type);
  AlignedBuffer xq(kernels::activation_bytes(q.act_type, cols));
  kernels::quantize_activations(q.act_type, x.data(), xq.data(), cols);
  for (int64_t r = 0; r < 4; ++r) {
    std::vector<float> wf(static_cast<size_t>(cols));
    k.dequantize_row(type, w.data() + r * rb, wf.data(), cols);
    const float e = k.dot(type, GgmlType::F32).vec_dot(cols, w.data() + r * rb, x.data());
    const float approx = q.vec_dot(cols, w.data() + r * rb, xq.data());
    EXPECT_NEAR(approx, e, 0.02 * magnitude(wf, x) + 1e-6) << ggml_type_name(type);
  }
}

std::string type_name(const ::testing::TestParamInfo<GgmlType>& info) {
  return std::string(ggml_type_name(info.param));
}

INSTANTIATE_TEST_SUITE_P(AllTypes, KernelTypeTest, ::testing::ValuesIn(testing::all_weight_types()),
                         type_name);

TEST(KernelApi, IsaSelection) {
  EXPECT_TRUE(kernels::isa_available(Isa::Scalar));
  EXPECT_TRUE(kernels::isa_available(kernels::best_isa()));
  EXPECT_EQ(kernels::kernel_table(Isa::Scalar).isa, Isa::Scalar);
  EXPECT_EQ(kernels::kernel_table(kernels::best_isa()).isa, kernels::best_isa());
#if defined(__x86_64__)
  EXPECT_FALSE(kernels::isa_available(Isa::Neon));
  EXPECT_THROW(kernels::kernel_table(Isa::Neon), Error);
#endif
  EXPECT_EQ(kernels::isa_name(Isa::Avx512), "avx512");
}

TEST(KernelApi, Pairings) {
  EXPECT_EQ(kernels::vec_dot_type(GgmlType::Q4_0), GgmlType::Q8_0);
  EXPECT_EQ(kernels::vec_dot_type(GgmlType::Q5_0), GgmlType::Q8_0);
  EXPECT_EQ(kernels::vec_dot_type(GgmlType::Q8_0), GgmlType::Q8_0);
  EXPECT_EQ(kernels::vec_dot_type(GgmlType::Q4_1), GgmlType::Q8_1);
  EXPECT_EQ(kernels::vec_dot_type(GgmlType::Q5_1), GgmlType::Q8_1);
  EXPECT_EQ(kernels::vec_dot_type(GgmlType::Q4_K), GgmlType::Q8_K);
  EXPECT_EQ(kernels::vec_dot_type(GgmlType::Q5_K), GgmlType::Q8_K);
  EXPECT_EQ(kernels::vec_dot_type(GgmlType::Q6_K), GgmlType::Q8_K);
  EXPECT_EQ(kernels::vec_dot_type(GgmlType::F16), GgmlType::F16);
  EXPECT_EQ(kernels::vec_dot_type(GgmlType::BF16), GgmlType::BF16);
  EXPECT_EQ(kernels::vec_dot_type(GgmlType::F32), GgmlType::F32);
  for (GgmlType t : testing::all_weight_types()) {
    EXPECT_TRUE(kernels::has_kernels(t));
    EXPECT_GE(kernels::weight_type_index(t), 0);
  }
}

TEST(KernelApi, ErrorsNameTheProblem) {
  const auto& k = kernels::kernels();
  try {
    k.dot(GgmlType::Q2_K);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("q2_K"), std::string::npos) << e.what();
  }
  EXPECT_THROW(k.dot(GgmlType::Q4_0, GgmlType::F16), Error);
  EXPECT_THROW(kernels::vec_dot_type(GgmlType::IQ2_XS), Error);
  EXPECT_THROW(kernels::activation_bytes(GgmlType::Q8_0, 33), Error);
  EXPECT_THROW(kernels::activation_bytes(GgmlType::Q4_0, 32), Error);  // not an activation type
  std::vector<float> out(64);
  std::vector<uint8_t> in(64);
  EXPECT_THROW(k.dequantize_row(GgmlType::Q4_0, in.data(), out.data(), 33), Error);
  EXPECT_THROW(k.dequantize_row(GgmlType::IQ4_NL, in.data(), out.data(), 32), Error);
  EXPECT_FALSE(kernels::has_kernels(GgmlType::Q3_K));
}

}  // namespace
}  // namespace vigil
