// Importance-matrix collection (llm/compress/imatrix.h): the collected sums equal Σx² computed
// here from the captured residual stream, every linear weight is covered under its GGUF name (HF
// folders included), and the saved file follows llama.cpp's convention.
#include "llm/compress/imatrix.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <memory>

#include "base/error.h"
#include "base/file.h"
#include "llm/compress/imatrix_file.h"
#include "llm/compress/perplexity.h"
#include "llm/model/model.h"
#include "llm/runtime/context.h"
#include "llm/runtime/linear.h"
#include "llm/tokenizer/tokenizer.h"

namespace vigil::compress {
namespace {

const std::string kModels = std::string(VIGIL_SHARED_DIR) + "/testdata/models/";
const std::string kText = std::string(VIGIL_SOURCE_DIR) + "/tests/compress/text/calibration.txt";

std::unique_ptr<Context> make_context(const Model& m, int32_t n_ctx) {
  ContextParams p;
  p.n_ctx = n_ctx;
  p.n_threads = 1;  // one thread: robust timing on a shared machine
  return std::make_unique<Context>(m, p);
}

std::vector<float> row_f32(const Tensor& t) {
  std::vector<float> v(static_cast<size_t>(t.cols));
  tensor_row_f32(t, 0, v.data());
  return v;
}

// Σ_t (rmsnorm(x_t) ⊙ w)[j]², in double.
std::vector<double> normed_sum_sq(const float* x, int64_t n_tokens, int64_t d,
                                  const std::vector<float>& w, float eps) {
  std::vector<double> out(static_cast<size_t>(d), 0.0);
  for (int64_t t = 0; t < n_tokens; ++t) {
    const float* row = x + t * d;
    double ss = 0;
    for (int64_t j = 0; j < d; ++j) ss += static_cast<double>(row[j]) * row[j];
    const double scale = 1.0 / std::sqrt(ss / static_cast<double>(d) + eps);
    for (int64_t j = 0; j < d; ++j) {
      const double v = row[j] * scale * w[static_cast<size_t>(j)];
      out[static_cast<size_t>(j)] += v * v;
    }
  }
  return out;
}

void expect_close(const std::vector<double>& got, const std::vector<double>& want,
                  const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double max_rel = 0;
  for (size_t j = 0; j < got.size(); ++j) {
    max_rel = std::max(max_rel, std::abs(got[j] - want[j]) / std::max(1e-6, std::abs(want[j])));
  }
  EXPECT_LT(max_rel, 1e-4) << what;
}

TEST(Imatrix, SumsEqualSquaresOfCapturedHiddenStates) {
  const std::unique_ptr<Model> m = Model::load(kModels + "llama/model-f16.gguf");
  const ModelConfig& c = m->config();
  auto ctx = make_context(*m, 16);
  const std::vector<int32_t> ids = {1, 361, 866, 328, 936, 279, 306, 927, 910};
  const auto T = static_cast<int64_t>(ids.size());
  ImatrixCollector collector(/*include_output=*/true);
  std::vector<float> hidden;
  ctx->set_linear_observer(collector.observer());
  ctx->capture_hidden(&hidden);
  ctx->eval(ids, false);
  ctx->set_linear_observer({});
  collector.end_chunk();
  ASSERT_EQ(hidden.size(), static_cast<size_t>((c.n_layers + 1) * T * c.n_embd));

  // The q/k/v projections of layer l read rmsnorm(residual entering layer l) ⊙ attn_norm.
  for (int32_t l = 0; l < c.n_layers; ++l) {
    const std::vector<double> want =
        normed_sum_sq(hidden.data() + l * T * c.n_embd, T, c.n_embd,
                      row_f32(m->weights().layers[static_cast<size_t>(l)].attn_norm), c.rms_eps);
    for (const char* w : {"attn_q", "attn_k", "attn_v"}) {
      const std::string name = "blk." + std::to_string(l) + "." + w + ".weight";
      ASSERT_TRUE(collector.stats().count(name)) << name;
      const auto& s = collector.stats().at(name);
      EXPECT_EQ(s.n_tokens, T);
      EXPECT_EQ(s.ncall, 1);
      expect_close(s.sum_sq, want, name);
    }
  }
  // The output head reads rmsnorm(final residual) ⊙ output_norm (last token only: no all_logits).
  const std::vector<double> want_out =
      normed_sum_sq(hidden.data() + (c.n_layers * T + T - 1) * c.n_embd, 1, c.n_embd,
                    row_f32(m->weights().output_norm), c.rms_eps);
  expect_close(collector.stats().at("output.weight").sum_sq, want_out, "output.weight");
}

TEST(Imatrix, CoversEveryLinearWeightAndSavesLlamaCppConvention) {
  struct Case {
    std::string model;
    size_t entries;  // 2-D linear weights of the blocks
  };
  for (const Case& cs : {Case{"llama/model-f16.gguf", 3 * 7}, Case{"phi3/model-q4_0.gguf", 2 * 4},
                         Case{"qwen2/model-f32.gguf", 2 * 7}}) {
    SCOPED_TRACE(cs.model);
    const std::unique_ptr<Model> m = Model::load(kModels + cs.model);
    auto ctx = make_context(*m, 32);
    const Tokenizer& tok = m->tokenizer();
    const std::vector<int32_t> tokens = tokenize_text(tok, read_file(kText));
    ImatrixCollector collector;
    ImatrixOptions o;
    o.n_ctx = 32;
    o.max_chunks = 3;
    EXPECT_EQ(collect_imatrix(*ctx, tokens, tok.add_bos() ? tok.bos() : -1, o, collector), 3);
    EXPECT_EQ(collector.chunks(), 3);
    ASSERT_EQ(collector.stats().size(), cs.entries);
    for (const auto& [name, s] : collector.stats()) {
      EXPECT_EQ(name.rfind("blk.", 0), 0u) << name;
      EXPECT_EQ(s.ncall, 3) << name;
      EXPECT_EQ(s.n_tokens, 3 * 32) << name;
    }
    const std::string down = "blk.1.ffn_down.weight";
    ASSERT_EQ(collector.stats().at(down).sum_sq.size(),
              static_cast<size_t>(m->config().ff_size(1)));

    const std::string path = (std::filesystem::temp_directory_path() /
                              ("vigil_imatrix_" + std::to_string(::getpid()) + ".dat"))
                                 .string();
    save_imatrix(collector.to_imatrix("calibration.txt"), path);
    const ImportanceMatrix back = load_imatrix(path);
    std::filesystem::remove(path);
    EXPECT_EQ(back.entries.size(), cs.entries);
    EXPECT_EQ(back.last_call, 3);
    EXPECT_EQ(back.dataset, "calibration.txt");
    const auto& e = back.entries.at(down);
    EXPECT_EQ(e.ncall, 3);
    const std::vector<double> ms = collector.mean_square(down);
    for (size_t j = 0; j < ms.size(); ++j) {
      // llama.cpp: values = Σx² / n_tokens * ncall, so values / ncall is the mean square.
      EXPECT_NEAR(e.values[j] / 3.0, ms[j], 1e-6 * ms[j] + 1e-12) << j;
      EXPECT_GE(ms[j], 0.0);
    }
  }
}

TEST(Imatrix, HfFolderUsesGgufNames) {
  // Same weights as the f16 GGUF (bf16 values are exact in f16): the statistics agree closely.
  const std::unique_ptr<Model> hf = Model::load(kModels + "llama");
  const std::unique_ptr<Model> gg = Model::load(kModels + "llama/model-f16.gguf");
  const std::vector<int32_t> ids = {1,   361, 866, 328, 936, 279, 306, 927,
                                    910, 274, 913, 934, 906, 956, 329, 922};
  ImatrixCollector a, b;
  for (auto [m, col] : {std::pair{hf.get(), &a}, std::pair{gg.get(), &b}}) {
    auto ctx = make_context(*m, 16);
    ImatrixOptions o;
    o.n_ctx = 16;
    collect_imatrix(*ctx, ids, -1, o, *col);
  }
  ASSERT_EQ(a.stats().size(), b.stats().size());
  for (const auto& [name, s] : b.stats()) {
    ASSERT_TRUE(a.stats().count(name)) << name;
    const std::vector<double>& x = a.stats().at(name).sum_sq;
    double num = 0, den = 0;
    for (size_t j = 0; j < x.size(); ++j) {
      num += (x[j] - s.sum_sq[j]) * (x[j] - s.sum_sq[j]);
      den += s.sum_sq[j] * s.sum_sq[j];
    }
    EXPECT_LT(std::sqrt(num / den), 1e-2) << name;
  }
  EXPECT_EQ(gguf_weight_name("model.layers.12.mlp.gate_up_proj.weight"), "blk.12.ffn_up.weight");
  EXPECT_EQ(gguf_weight_name("model.layers.0.self_attn.o_proj.weight"), "blk.0.attn_output.weight");
  EXPECT_EQ(gguf_weight_name("lm_head.weight"), "output.weight");
  EXPECT_EQ(gguf_weight_name("blk.3.attn_q.weight"), "blk.3.attn_q.weight");
}

TEST(Imatrix, BadInputs) {
  const std::unique_ptr<Model> m = Model::load(kModels + "llama/model-f16.gguf");
  auto ctx = make_context(*m, 16);
  ImatrixCollector collector;
  ImatrixOptions o;
  o.n_ctx = 16;
  EXPECT_THROW(collect_imatrix(*ctx, {}, 1, o, collector), Error);
  o.n_ctx = 64;  // larger than the context
  const std::vector<int32_t> ids = {1, 2, 3};
  EXPECT_THROW(collect_imatrix(*ctx, ids, 1, o, collector), Error);
  EXPECT_THROW(collector.mean_square("blk.0.attn_q.weight"), Error);
  // A column count that changes between calls.
  const std::vector<float> x(8, 1.0f);
  collector.add("blk.0.attn_q.weight", x.data(), 1, 8);
  EXPECT_THROW(collector.add("blk.0.attn_q.weight", x.data(), 2, 4), Error);
  // The observer is removed after collection: later evals do not touch the collector.
  o.n_ctx = 16;
  ImatrixCollector c2;
  collect_imatrix(*ctx, ids, 1, o, c2);
  const int64_t before = c2.stats().begin()->second.n_tokens;
  ctx->reset();
  ctx->eval(ids, false);
  EXPECT_EQ(c2.stats().begin()->second.n_tokens, before);
}

}  // namespace
}  // namespace vigil::compress
