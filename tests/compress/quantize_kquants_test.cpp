// Quantizer tests: every tensor of the shipped llama.cpp files (q8_0, q4_0, q4_k_m) is
// reproduced byte for byte from the unquantized GGUF by quantize_rows with the type llama.cpp
// chose; plus round-trip error bounds and special blocks for every type, and the importance-
// weighted variants.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "base/error.h"
#include "llm/format/gguf.h"
#include "llm/quant/kquants.h"
#include "llm/quant/reference.h"

namespace vigil::quant {
namespace {

namespace fs = std::filesystem;

std::string models_dir() {
  return std::string(VIGIL_SHARED_DIR) + "/testdata/models";
}

std::vector<std::string> model_names() {
  return {"llama", "qwen2", "phi3"};
}

std::string unquantized_gguf(const std::string& model) {
  const std::string dir = models_dir() + "/" + model;
  for (const char* name : {"model-f32.gguf", "model-f16.gguf"}) {
    if (fs::exists(dir + "/" + name)) return dir + "/" + name;
  }
  return {};
}

std::vector<float> to_f32(const gguf::TensorInfo& t) {
  std::vector<float> out(t.n_values());
  dequantize_row_ref(t.type, t.data, out.data(), static_cast<int64_t>(out.size()));
  return out;
}

// For each tensor of model-<kind>.gguf: quantize the same tensor of the unquantized file to the
// type the llama.cpp file holds and compare the bytes.
void check_tensors_match(const std::string& model, const std::string& kind) {
  const std::string src_path = unquantized_gguf(model);
  ASSERT_FALSE(src_path.empty()) << model;
  const auto src = gguf::GgufFile::open(src_path);
  const auto ref = gguf::GgufFile::open(models_dir() + "/" + model + "/model-" + kind + ".gguf");
  int n_checked = 0;
  for (const gguf::TensorInfo& r : ref.tensors()) {
    const gguf::TensorInfo& s = src.tensor(r.name);
    ASSERT_EQ(s.shape, r.shape) << r.name;
    if (r.type == GgmlType::F32 && s.type == GgmlType::F32) continue;  // copied, not quantized
    const std::vector<float> x = to_f32(s);
    const auto n_per_row = static_cast<int64_t>(r.shape[0]);
    const auto n_rows = static_cast<int64_t>(x.size()) / n_per_row;
    std::vector<uint8_t> out(r.size_bytes);
    ASSERT_EQ(quantize_rows(r.type, x.data(), out.data(), n_rows, n_per_row, nullptr),
              r.size_bytes);
    size_t first_diff = 0;
    while (first_diff < out.size() && out[first_diff] == r.data[first_diff]) ++first_diff;
    EXPECT_EQ(first_diff, out.size())
        << model << " " << kind << " " << r.name << " (" << ggml_type_name(r.type)
        << "): first differing byte " << first_diff << " of " << out.size();
    ++n_checked;
  }
  EXPECT_GT(n_checked, 0);
}

TEST(QuantizeExact, Q8_0TensorsMatchLlamaCpp) {
  for (const auto& m : model_names()) check_tensors_match(m, "q8_0");
}
TEST(QuantizeExact, Q4_0TensorsMatchLlamaCpp) {
  for (const auto& m : model_names()) check_tensors_match(m, "q4_0");
}
TEST(QuantizeExact, Q4_K_MTensorsMatchLlamaCpp) {
  // phi3's file holds all three k-quant types (Q4_K, Q5_K, Q6_K); the other models are checked
  // end to end by quantize_model_test.
  check_tensors_match("phi3", "q4_k_m");
}

// ---- round trips ----

std::vector<float> random_values(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

std::vector<float> round_trip(GgmlType type, const std::vector<float>& x, int64_t n_per_row,
                              const float* weights = nullptr) {
  const auto n_rows = static_cast<int64_t>(x.size()) / n_per_row;
  std::vector<uint8_t> q(static_cast<size_t>(n_rows) *
                         ggml_row_bytes(type, static_cast<uint64_t>(n_per_row)));
  quantize_rows(type, x.data(), q.data(), n_rows, n_per_row, weights);
  std::vector<float> y(x.size());
  dequantize_row_ref(type, q.data(), y.data(), static_cast<int64_t>(y.size()));
  return y;
}

double rms_error(const std::vector<float>& a, const std::vector<float>& b, const float* w = nullptr,
                 int64_t n_per_row = 1) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double wi = w != nullptr ? w[i % static_cast<size_t>(n_per_row)] : 1.0;
    num += wi * (a[i] - b[i]) * (a[i] - b[i]);
    den += wi * a[i] * a[i];
  }
  return std::sqrt(num / den);
}

struct Bound {
  GgmlType type;
  double max_rel_rms;  // relative RMS error bound for N(0, 1) data
};

class QuantizeRoundTrip : public ::testing::TestWithParam<Bound> {};

TEST_P(QuantizeRoundTrip, ErrorWithinBound) {
  const Bound b = GetParam();
  const auto x = random_values(8 * 512, 7);
  const auto y = round_trip(b.type, x, 512);
  const double err = rms_error(x, y);
  EXPECT_LT(err, b.max_rel_rms) << ggml_type_name(b.type);
  EXPECT_GT(err, b.type == GgmlType::F32 ? -1.0 : 0.0) << "lossy types must lose something";
}

TEST_P(QuantizeRoundTrip, AllZeroBlockStaysZero) {
  const Bound b = GetParam();
  std::vector<float> x(512, 0.0f);
  const auto y = round_trip(b.type, x, 512);
  for (float v : y) ASSERT_EQ(v, 0.0f) << ggml_type_name(b.type);
}

TEST_P(QuantizeRoundTrip, ConstantBlock) {
  const Bound b = GetParam();
  for (float c : {0.75f, -3.0f}) {
    std::vector<float> x(512, c);
    const auto y = round_trip(b.type, x, 512);
    // A constant block is represented within the type's scale precision (fp16 scales, <= 6-bit
    // sub-block scales).
    for (float v : y) ASSERT_NEAR(v, c, std::fabs(c) * 0.07) << ggml_type_name(b.type) << " " << c;
  }
}

TEST_P(QuantizeRoundTrip, HugeValuesStayFiniteOrSaturate) {
  const Bound b = GetParam();
  // 1e4 fits fp16 scales for every type; the result must stay close.
  auto x = random_values(512, 3, 1e4f);
  auto y = round_trip(b.type, x, 512);
  EXPECT_LT(rms_error(x, y), b.max_rel_rms * 1.5) << ggml_type_name(b.type);
  // 1e30 overflows the fp16 scales: no crash, no UB (ASan/UBSan), output size unchanged.
  x = random_values(512, 4, 1e30f);
  y = round_trip(b.type, x, 512);
  EXPECT_EQ(y.size(), x.size());
}

INSTANTIATE_TEST_SUITE_P(AllTypes, QuantizeRoundTrip,
                         ::testing::Values(Bound{GgmlType::F32, 1e-7}, Bound{GgmlType::F16, 1e-3},
                                           Bound{GgmlType::BF16, 5e-3}, Bound{GgmlType::Q8_0, 0.01},
                                           Bound{GgmlType::Q5_0, 0.05}, Bound{GgmlType::Q5_1, 0.05},
                                           Bound{GgmlType::Q4_0, 0.11}, Bound{GgmlType::Q4_1, 0.11},
                                           Bound{GgmlType::Q6_K, 0.025},
                                           Bound{GgmlType::Q5_K, 0.045},
                                           Bound{GgmlType::Q4_K, 0.09}),
                         [](const ::testing::TestParamInfo<Bound>& param_info) {
                           return std::string(ggml_type_name(param_info.param.type));
                         });

// Importance weights concentrated on a few columns must lower the weighted error there.
class QuantizeImportance : public ::testing::TestWithParam<GgmlType> {};

TEST_P(QuantizeImportance, WeightedErrorDrops) {
  const GgmlType type = GetParam();
  const int64_t n_per_row = 512;
  const auto x = random_values(16 * n_per_row, 11);
  std::vector<float> w(n_per_row);
  std::mt19937 rng(5);
  std::exponential_distribution<float> dist(1.0f);
  for (auto& v : w) v = dist(rng) * dist(rng) * dist(rng);  // heavy-tailed, like real imatrices
  const auto plain = round_trip(type, x, n_per_row);
  const auto weighted = round_trip(type, x, n_per_row, w.data());
  const double e_plain = rms_error(x, plain, w.data(), n_per_row);
  const double e_weighted = rms_error(x, weighted, w.data(), n_per_row);
  EXPECT_LT(e_weighted, e_plain) << ggml_type_name(type);
  // Uniform weights still give a good quantization.
  std::vector<float> ones(n_per_row, 1.0f);
  EXPECT_LT(rms_error(x, round_trip(type, x, n_per_row, ones.data())), 0.1) << ggml_type_name(type);
}

INSTANTIATE_TEST_SUITE_P(ImatrixTypes, QuantizeImportance,
                         ::testing::Values(GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0,
                                           GgmlType::Q5_1, GgmlType::Q4_K, GgmlType::Q5_K,
                                           GgmlType::Q6_K),
                         [](const ::testing::TestParamInfo<GgmlType>& param_info) {
                           return std::string(ggml_type_name(param_info.param));
                         });

TEST(QuantizeRows, RejectsBadShapesAndTypes) {
  std::vector<float> x(300, 1.0f);
  std::vector<uint8_t> out(4096);
  EXPECT_THROW(quantize_rows(GgmlType::Q4_K, x.data(), out.data(), 1, 300, nullptr), Error);
  EXPECT_THROW(quantize_rows(GgmlType::Q4_0, x.data(), out.data(), 1, 33, nullptr), Error);
  EXPECT_THROW(quantize_rows(GgmlType::Q2_K, x.data(), out.data(), 1, 256, nullptr), Error);
  EXPECT_FALSE(can_quantize(GgmlType::IQ4_NL));
  EXPECT_TRUE(can_quantize(GgmlType::Q6_K));
}

TEST(QuantizeRows, Bf16RoundsToNearestEvenAndQuietsNan) {
  // 1 + 2^-8 is exactly half-way between two bf16 values: ties to even (1.0).
  const float vals[] = {1.0f + 1.0f / 256, 1.0f + 3.0f / 256, std::nanf("")};
  uint16_t out[3];
  quantize_rows(GgmlType::BF16, vals, out, 1, 3, nullptr);
  EXPECT_EQ(out[0], 0x3f80);
  EXPECT_EQ(out[1], 0x3f82);
  EXPECT_TRUE(std::isnan(bf16_to_fp32(out[2])));
}

}  // namespace
}  // namespace vigil::quant
