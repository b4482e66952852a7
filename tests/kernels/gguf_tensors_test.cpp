// Real tensors from the test models (testdata/models, see its README): the quantized GGUF files
// hold the same weights as the f32 GGUF, so dequantized quantized tensors must be within the
// quantization error of the f32 tensors; llama-quantize's Q8_0 and Q4_0 tensors must be
// byte-identical to our reference quantizers applied to the f32 tensors.

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "llm/kernels/kernels.h"
#include "llm/quant/reference.h"
#include "test_util.h"

namespace vigil {
namespace {

using testing::GgufTensor;
using testing::MiniGguf;

std::string model_path(const std::string& model, const std::string& file) {
  return std::string(VIGIL_SHARED_DIR) + "/testdata/models/" + model + "/" + file;
}

bool have(const std::string& path) {
  return std::filesystem::exists(path);
}

int64_t n_rows(const GgufTensor& t) {
  int64_t r = 1;
  for (size_t i = 1; i < t.shape.size(); ++i) r *= static_cast<int64_t>(t.shape[i]);
  return r;
}

struct ErrorStats {
  double sum_err2 = 0, sum_ref2 = 0, max_rel_step = 0;
  int64_t count = 0;
};

// Dequantizes every row of `q` on every ISA (all bit-identical to the reference) and compares
// with the f32 tensor.
ErrorStats compare(const GgufTensor& q, const GgufTensor& f) {
  EXPECT_EQ(q.shape, f.shape) << q.name;
  const int64_t cols = static_cast<int64_t>(q.shape[0]);
  const size_t rb = ggml_row_bytes(q.type, cols);
  ErrorStats s;
  std::vector<float> ref(static_cast<size_t>(cols)), got(static_cast<size_t>(cols));
  const auto isas = testing::available_isas();
  for (int64_t r = 0; r < n_rows(q); ++r) {
    quant::dequantize_row_ref(q.type, q.data + r * rb, ref.data(), cols);
    for (auto isa : isas) {
      kernels::kernel_table(isa).dequantize_row(q.type, q.data + r * rb, got.data(), cols);
      EXPECT_EQ(std::memcmp(ref.data(), got.data(), ref.size() * 4), 0)
          << q.name << " row " << r << " on " << kernels::isa_name(isa);
    }
    const float* w = reinterpret_cast<const float*>(f.data) + r * cols;
    for (int64_t i = 0; i < cols; ++i) {
      const double e = double(ref[i]) - double(w[i]);
      s.sum_err2 += e * e;
      s.sum_ref2 += double(w[i]) * double(w[i]);
      ++s.count;
    }
  }
  return s;
}

// Relative RMS error bounds of the quantization of normal-distributed weights (observed values
// are about half of these; a layout or scale bug gives errors near or above 1).
double rms_bound(GgmlType type) {
  switch (type) {
    case GgmlType::Q8_0:
      return 0.01;
    case GgmlType::Q6_K:
      return 0.04;
    case GgmlType::Q5_K:
      return 0.07;
    case GgmlType::Q4_K:
      return 0.13;
    case GgmlType::Q4_0:
      return 0.16;
    default:
      return 0.0;
  }
}

void check_model(const std::string& model, const std::string& quant_file) {
  const std::string fpath = model_path(model, "model-f32.gguf");
  const std::string qpath = model_path(model, quant_file);
  if (!have(fpath) || !have(qpath)) GTEST_SKIP() << "test data missing: " << qpath;
  MiniGguf f32(fpath), quantized(qpath);
  int checked = 0;
  for (const auto& [name, q] : quantized.tensors()) {
    if (q.type == GgmlType::F32) continue;
    auto it = f32.tensors().find(name);
    ASSERT_NE(it, f32.tensors().end()) << name;
    ASSERT_EQ(it->second.type, GgmlType::F32) << name;
    ASSERT_GT(rms_bound(q.type), 0.0) << name << ": unexpected type " << ggml_type_name(q.type);
    const ErrorStats s = compare(q, it->second);
    const double rel = std::sqrt(s.sum_err2 / s.sum_ref2);
    EXPECT_LT(rel, rms_bound(q.type)) << name << " (" << ggml_type_name(q.type) << ")";
    EXPECT_GT(rel, 0.0) << name;  // the file really is quantized
    ++checked;
  }
  EXPECT_GT(checked, 0);
}

TEST(GgufTensors, Qwen2Q4_K_M) {
  check_model("qwen2", "model-q4_k_m.gguf");
}
TEST(GgufTensors, Phi3Q4_K_M) {
  check_model("phi3", "model-q4_k_m.gguf");
}  // has Q5_K
TEST(GgufTensors, Qwen2Q4_0) {
  check_model("qwen2", "model-q4_0.gguf");
}
TEST(GgufTensors, Qwen2Q8_0) {
  check_model("qwen2", "model-q8_0.gguf");
}

// Q8_0: every value within 0.57 quantization steps of the f32 weight (half a step plus the fp16
// rounding of the scale).
TEST(GgufTensors, Q8_0ValuesWithinHalfAStep) {
  const std::string fpath = model_path("qwen2", "model-f32.gguf");
  const std::string qpath = model_path("qwen2", "model-q8_0.gguf");
  if (!have(fpath) || !have(qpath)) GTEST_SKIP() << "test data missing";
  MiniGguf f32(fpath), q8(qpath);
  const auto& q = q8.tensors().at("blk.0.attn_q.weight");
  const auto& f = f32.tensors().at("blk.0.attn_q.weight");
  ASSERT_EQ(q.type, GgmlType::Q8_0);
  const int64_t cols = static_cast<int64_t>(q.shape[0]);
  const size_t rb = ggml_row_bytes(q.type, cols);
  std::vector<float> y(static_cast<size_t>(cols));
  for (int64_t r = 0; r < n_rows(q); ++r) {
    kernels::dequantize_row(q.type, q.data + r * rb, y.data(), cols);
    const auto* blocks = reinterpret_cast<const quant::BlockQ8_0*>(q.data + r * rb);
    const float* w = reinterpret_cast<const float*>(f.data) + r * cols;
    for (int64_t i = 0; i < cols; ++i) {
      const float d = std::fabs(quant::fp16_to_fp32(blocks[i / 32].d));
      ASSERT_LE(std::fabs(y[i] - w[i]), 0.57f * d + 1e-7f) << "row " << r << " col " << i;
    }
  }
}

// llama.cpp's quantizers (no importance matrix) wrote these files; ours must reproduce them.
template <typename Block>
void expect_requantized_identical(const std::string& model, const std::string& file, GgmlType type,
                                  void (*quantize)(const float*, Block*, int64_t)) {
  const std::string fpath = model_path(model, "model-f32.gguf");
  const std::string qpath = model_path(model, file);
  if (!have(fpath) || !have(qpath)) GTEST_SKIP() << "test data missing";
  MiniGguf f32(fpath), quantized(qpath);
  int checked = 0;
  for (const auto& [name, q] : quantized.tensors()) {
    if (q.type != type) continue;
    const auto& f = f32.tensors().at(name);
    const int64_t n = static_cast<int64_t>(q.shape[0]) * n_rows(q);
    std::vector<Block> mine(static_cast<size_t>(n / 32));
    quantize(reinterpret_cast<const float*>(f.data), mine.data(), n);
    EXPECT_EQ(std::memcmp(mine.data(), q.data, mine.size() * sizeof(Block)), 0) << name;
    ++checked;
  }
  EXPECT_GT(checked, 0);
}

TEST(GgufTensors, ReferenceQ8_0QuantizerReproducesTheFile) {
  expect_requantized_identical<quant::BlockQ8_0>("qwen2", "model-q8_0.gguf", GgmlType::Q8_0,
                                                 quant::quantize_row_q8_0_ref);
  expect_requantized_identical<quant::BlockQ8_0>("phi3", "model-q8_0.gguf", GgmlType::Q8_0,
                                                 quant::quantize_row_q8_0_ref);
}

TEST(GgufTensors, ReferenceQ4_0QuantizerReproducesTheFile) {
  expect_requantized_identical<quant::BlockQ4_0>("qwen2", "model-q4_0.gguf", GgmlType::Q4_0,
                                                 quant::quantize_row_q4_0_ref);
  expect_requantized_identical<quant::BlockQ4_0>("phi3", "model-q4_0.gguf", GgmlType::Q4_0,
                                                 quant::quantize_row_q4_0_ref);
}

}  // namespace
}  // namespace vigil
