// Structured pruning (llm/compress/prune.h): keeping everything reproduces the logits bit for bit;
// a pruned model computes what the original computes with the removed channels/heads zeroed;
// shapes and metadata stay consistent (per-layer FFN sizes, fused phi3 tensors, quantized input);
// the importance score is E[h²]·‖W_down[:, j]‖²; bad options give clear errors.
#include "llm/compress/prune.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <memory>
#include <set>

#include "base/error.h"
#include "base/file.h"
#include "llm/compress/imatrix.h"
#include "llm/compress/perplexity.h"
#include "llm/format/gguf.h"
#include "llm/model/model.h"
#include "llm/runtime/context.h"
#include "llm/runtime/linear.h"
#include "llm/tokenizer/tokenizer.h"

namespace vigil::compress {
namespace {

const std::string kModels = std::string(VIGIL_SHARED_DIR) + "/testdata/models/";
const std::string kCalib = std::string(VIGIL_SOURCE_DIR) + "/tests/compress/text/calibration.txt";
const std::string kEval = std::string(VIGIL_SOURCE_DIR) + "/tests/compress/text/eval.txt";
const std::vector<int32_t> kIds = {1,   361, 866, 328, 936, 279, 306, 927, 910, 274, 913, 934,
                                   906, 956, 329, 922, 912, 786, 265, 309, 909, 962, 926, 477};

std::string temp_path(const std::string& name) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return (std::filesystem::temp_directory_path() / (std::string("vigil_prune_") + info->name() +
                                                    "_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

std::vector<float> logits_of(const Model& m, bool exact = false) {
  ContextParams p;
  p.n_ctx = 32;
  p.n_threads = 1;  // one thread: robust timing on a shared machine
  p.exact = exact;
  Context ctx(m, p);
  const auto l = ctx.eval(kIds, true);
  return {l.begin(), l.end()};
}

ActivationStats calibrate(const Model& m) {
  ContextParams p;
  p.n_ctx = 32;
  p.n_threads = 1;  // one thread: robust timing on a shared machine
  Context ctx(m, p);
  const Tokenizer& tok = m.tokenizer();
  ImatrixCollector collector;
  ImatrixOptions o;
  o.n_ctx = 32;
  o.max_chunks = 2;
  collect_imatrix(ctx, tokenize_text(tok, read_file(kCalib)), tok.add_bos() ? tok.bos() : -1, o,
                  collector);
  ActivationStats stats;
  for (const auto& [name, s] : collector.stats()) stats.emplace(name, collector.mean_square(name));
  return stats;
}

double perplexity_of(const Model& m) {
  ContextParams p;
  p.n_ctx = 32;
  p.n_threads = 1;  // one thread: robust timing on a shared machine
  Context ctx(m, p);
  const Tokenizer& tok = m.tokenizer();
  PerplexityOptions o;
  o.n_ctx = 32;
  o.max_windows = 2;
  return evaluate_perplexity(ctx, tokenize_text(tok, read_file(kEval)),
                             tok.add_bos() ? tok.bos() : -1, 0, o)
      .ppl;
}

TEST(Prune, KeepAllReproducesLogitsExactly) {
  for (const std::string model : {"llama/model-f16.gguf", "phi3/model-q4_0.gguf"}) {
    SCOPED_TRACE(model);
    const std::unique_ptr<Model> m = Model::load(kModels + model);
    PruneOptions o;  // ffn_keep 1.0, heads_keep 1.0: no statistics needed
    const PrunePlan plan = plan_pruning(*m, {}, o);
    const std::string out = temp_path("same.gguf");
    write_pruned_gguf(*m, plan, out);
    const std::unique_ptr<Model> p = Model::load(out);
    const std::vector<float> a = logits_of(*m), b = logits_of(*p);
    ASSERT_EQ(a.size(), b.size());
    EXPECT_EQ(std::memcmp(a.data(), b.data(), 4 * a.size()), 0);
    std::filesystem::remove(out);
  }
}

// The original model with the columns of ffn_down / attn_output that the plan removes set to 0
// (f32 models only): what the pruned model must compute.
std::string write_zeroed(const Model& m, const PrunePlan& plan, const std::string& path) {
  const gguf::GgufFile& in = *m.gguf();
  const ModelConfig& c = m.config();
  gguf::GgufWriter w;
  for (const auto& [k, v] : in.metadata()) w.set(k, v);
  for (const auto& t : in.tensors()) w.add_tensor(t.name, t.type, t.shape);
  w.write(path, [&](size_t i, std::string& out) {
    const gguf::TensorInfo& t = in.tensors()[i];
    std::string bytes(reinterpret_cast<const char*>(t.data), t.size_bytes);
    for (int32_t l = 0; l < c.n_layers; ++l) {
      const LayerPlan& lp = plan.layers[static_cast<size_t>(l)];
      std::set<int64_t> keep;
      if (t.name == "blk." + std::to_string(l) + ".ffn_down.weight") {
        keep.insert(lp.ffn_channels.begin(), lp.ffn_channels.end());
      } else if (t.name == "blk." + std::to_string(l) + ".attn_output.weight") {
        const int32_t group = c.n_head / c.n_head_kv;
        for (int32_t g : lp.kv_groups) {
          for (int64_t j = g * group * c.head_dim; j < (g + 1) * group * c.head_dim; ++j)
            keep.insert(j);
        }
      } else {
        continue;
      }
      EXPECT_EQ(t.type, GgmlType::F32);
      auto* f = reinterpret_cast<float*>(bytes.data());
      for (uint64_t r = 0; r < t.shape[1]; ++r) {
        for (uint64_t j = 0; j < t.shape[0]; ++j) {
          if (!keep.count(static_cast<int64_t>(j))) f[r * t.shape[0] + j] = 0.0f;
        }
      }
    }
    out += bytes;
  });
  return path;
}

TEST(Prune, PrunedModelEqualsOriginalWithRemovedPartsZeroed) {
  for (const std::string model : {"qwen2/model-f32.gguf", "phi3/model-f32.gguf"}) {
    SCOPED_TRACE(model);
    const std::unique_ptr<Model> m = Model::load(kModels + model);
    PruneOptions o;
    o.ffn_keep = {0.5};
    o.heads_keep = 0.5;
    const PrunePlan plan = plan_pruning(*m, calibrate(*m), o);
    const std::string out = temp_path("pruned.gguf");
    const std::string zero = temp_path("zeroed.gguf");
    write_pruned_gguf(*m, plan, out);
    write_zeroed(*m, plan, zero);
    const std::unique_ptr<Model> p = Model::load(out);
    const std::unique_ptr<Model> z = Model::load(zero);
    const ModelConfig& c = m->config();
    EXPECT_EQ(p->config().n_ff, c.n_ff / 2);
    EXPECT_EQ(p->config().n_head_kv, c.n_head_kv / 2);
    EXPECT_EQ(p->config().n_head, c.n_head / 2);
    EXPECT_EQ(p->config().head_dim, c.head_dim);
    EXPECT_LT(p->weight_bytes(), m->weight_bytes());
    const std::vector<float> a = logits_of(*p, true), b = logits_of(*z, true),
                             orig = logits_of(*m, true);
    ASSERT_EQ(a.size(), b.size());
    double max_diff = 0, max_change = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      max_diff = std::max(max_diff, std::abs(static_cast<double>(a[i]) - b[i]));
      max_change = std::max(max_change, std::abs(static_cast<double>(a[i]) - orig[i]));
    }
    EXPECT_LT(max_diff, 1e-3);
    EXPECT_GT(max_change, 1e-2);  // pruning did change the model
    std::filesystem::remove(out);
    std::filesystem::remove(zero);
  }
}

TEST(Prune, ShapesAndMetadataStayConsistent) {
  const std::unique_ptr<Model> m = Model::load(kModels + "llama/model-f16.gguf");
  const ActivationStats stats = calibrate(*m);
  PruneOptions o;
  o.ffn_keep = {0.75, 0.5, 1.0};
  const PrunePlan plan = plan_pruning(*m, stats, o);
  const std::string out = temp_path("llama.gguf");
  write_pruned_gguf(*m, plan, out);
  const std::unique_ptr<Model> p = Model::load(out);
  const ModelConfig& c = p->config();
  EXPECT_EQ(c.n_ff_per_layer, (std::vector<int32_t>{384, 256, 512}));
  EXPECT_EQ(p->gguf()->get_int_array("llama.feed_forward_length"),
            (std::vector<int64_t>{384, 256, 512}));
  for (int32_t l = 0; l < c.n_layers; ++l) {
    const LayerWeights& w = p->weights().layers[static_cast<size_t>(l)];
    EXPECT_EQ(w.w_gate.rows, c.ff_size(l));
    EXPECT_EQ(w.w_up.rows, c.ff_size(l));
    EXPECT_EQ(w.w_down.cols, c.ff_size(l));
    EXPECT_EQ(w.w_down.rows, c.n_embd);
    EXPECT_EQ(w.w_down.type, GgmlType::F16);  // f16 columns are cut exactly
  }
  // Kept channels keep their rows: gate row k of the pruned layer 1 is row plan[k] of the input.
  const Tensor& g0 = m->weights().layers[1].w_gate;
  const Tensor& g1 = p->weights().layers[1].w_gate;
  for (size_t k = 0; k < plan.layers[1].ffn_channels.size(); ++k) {
    ASSERT_EQ(std::memcmp(g1.row(static_cast<int64_t>(k)), g0.row(plan.layers[1].ffn_channels[k]),
                          g0.row_bytes()),
              0);
  }
  const double ppl = perplexity_of(*p);
  EXPECT_TRUE(std::isfinite(ppl));
  EXPECT_GT(ppl, 1.0);
  std::filesystem::remove(out);
}

TEST(Prune, QuantizedInputAndFusedPhi3) {
  // q4_0: Q4_0 blocks plus a Q6_K output head, with 128-wide pruned rows beside it.
  const std::unique_ptr<Model> m = Model::load(kModels + "phi3/model-q4_0.gguf");
  PruneOptions o;
  o.ffn_keep = {0.5};
  o.heads_keep = 0.5;
  const PrunePlan plan = plan_pruning(*m, calibrate(*m), o);
  const std::string out = temp_path("phi3.gguf");
  write_pruned_gguf(*m, plan, out);
  const std::unique_ptr<Model> p = Model::load(out);
  const ModelConfig& c = p->config();
  EXPECT_EQ(c.n_ff, 128);
  EXPECT_EQ(c.n_head, 2);
  EXPECT_EQ(c.n_head_kv, 2);
  for (const LayerWeights& w : p->weights().layers) {
    EXPECT_EQ(w.w_gate_up.rows, 2 * 128);  // both halves of the fused tensor
    EXPECT_EQ(w.w_gate_up.type, m->weights().layers[0].w_gate_up.type);  // whole rows: type kept
    EXPECT_EQ(w.w_down.cols, 128);
    EXPECT_EQ(w.w_down.type, GgmlType::F32);  // quantized columns: dequantized
    EXPECT_EQ(w.wqkv.rows, 3 * 2 * 64);
    EXPECT_EQ(w.wo.cols, 2 * 64);
  }
  const double ppl = perplexity_of(*p);
  EXPECT_TRUE(std::isfinite(ppl));
  std::filesystem::remove(out);
}

TEST(Prune, ImportanceIsMeanSquareTimesDownColumnNorm) {
  const std::unique_ptr<Model> m = Model::load(kModels + "qwen2/model-f32.gguf");
  const int32_t ff = m->config().ff_size(0);
  ActivationStats stats;
  std::vector<double> ms(static_cast<size_t>(ff), 1.0);
  ms[7] = 1e6;  // huge activations: must be kept
  ms[3] = 0.0;  // never active: must go
  stats["blk.0.ffn_down.weight"] = ms;
  stats["blk.1.ffn_down.weight"] = std::vector<double>(static_cast<size_t>(ff), 1.0);
  const std::vector<double> s = ffn_channel_importance(*m, 0, stats);
  const Tensor& down = m->weights().layers[0].w_down;
  std::vector<float> row(static_cast<size_t>(down.cols));
  std::vector<double> col(static_cast<size_t>(down.cols), 0.0);
  for (int64_t r = 0; r < down.rows; ++r) {
    tensor_row_f32(down, r, row.data());
    for (size_t j = 0; j < row.size(); ++j) col[j] += static_cast<double>(row[j]) * row[j];
  }
  for (size_t j = 0; j < col.size(); ++j)
    EXPECT_NEAR(s[j], ms[j] * col[j], 1e-9 * std::max(1.0, s[j]));
  PruneOptions o;
  o.ffn_keep = {0.25};
  const PrunePlan plan = plan_pruning(*m, stats, o);
  const auto& kept = plan.layers[0].ffn_channels;
  EXPECT_EQ(kept.size(), 128u);
  EXPECT_TRUE(std::is_sorted(kept.begin(), kept.end()));
  EXPECT_TRUE(std::binary_search(kept.begin(), kept.end(), 7));
  EXPECT_FALSE(std::binary_search(kept.begin(), kept.end(), 3));
}

// Mean KL(P_a || P_b) over the rows of two logit matrices.
double mean_kld(const std::vector<float>& a, const std::vector<float>& b, size_t n_vocab) {
  double sum = 0;
  const size_t rows = a.size() / n_vocab;
  for (size_t r = 0; r < rows; ++r) {
    const std::vector<double> la =
        log_softmax(std::span<const float>(a).subspan(r * n_vocab, n_vocab));
    const std::vector<double> lb =
        log_softmax(std::span<const float>(b).subspan(r * n_vocab, n_vocab));
    for (size_t v = 0; v < n_vocab; ++v) sum += std::exp(la[v]) * (la[v] - lb[v]);
  }
  return sum / static_cast<double>(rows);
}

TEST(Prune, ImportanceRankingBeatsTheInverseRanking) {
  // Keeping the most important half of the channels must hurt less than keeping the least
  // important half (statistics rescaled so that the score order is reversed).
  const std::unique_ptr<Model> m = Model::load(kModels + "qwen2/model-f32.gguf");
  const ActivationStats stats = calibrate(*m);
  ActivationStats inverse = stats;
  for (int32_t l = 0; l < m->config().n_layers; ++l) {
    const std::vector<double> s = ffn_channel_importance(*m, l, stats);
    auto& ms = inverse.at("blk." + std::to_string(l) + ".ffn_down.weight");
    // new score = ms' * col = 1 / s  <=>  ms' = ms / s^2
    for (size_t j = 0; j < ms.size(); ++j) ms[j] = ms[j] / std::max(1e-30, s[j] * s[j]);
  }
  PruneOptions o;
  o.ffn_keep = {0.5};
  const std::vector<float> orig = logits_of(*m);
  double kld[2];
  for (int i = 0; i < 2; ++i) {
    const PrunePlan plan = plan_pruning(*m, i == 0 ? stats : inverse, o);
    const std::string out = temp_path("rank.gguf");
    write_pruned_gguf(*m, plan, out);
    const std::unique_ptr<Model> p = Model::load(out);
    kld[i] = mean_kld(orig, logits_of(*p), static_cast<size_t>(m->config().n_vocab));
    std::filesystem::remove(out);
  }
  EXPECT_GT(kld[0], 0.0);
  EXPECT_LT(2 * kld[0], kld[1]) << "importance " << kld[0] << " vs inverse " << kld[1];
}

TEST(Prune, BadInputsGiveClearErrors) {
  const std::unique_ptr<Model> m = Model::load(kModels + "llama/model-f16.gguf");
  auto expect_error = [&](const PruneOptions& o, const ActivationStats& st,
                          const std::string& needle) {
    try {
      plan_pruning(*m, st, o);
      ADD_FAILURE() << "expected an error containing '" << needle << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  PruneOptions o;
  o.ffn_keep = {0.0};
  expect_error(o, {}, "outside (0, 1]");
  o.ffn_keep = {1.5};
  expect_error(o, {}, "outside (0, 1]");
  o.ffn_keep = {0.5, 0.5};
  expect_error(o, {}, "one per layer (3)");
  o.ffn_keep = {1.0};
  o.heads_keep = 0;
  expect_error(o, {}, "--heads-keep");
  o.heads_keep = 1.0;
  o.ffn_keep = {0.5};
  expect_error(o, {}, "no calibration statistics for 'blk.0.ffn_down.weight'");
  ActivationStats wrong;
  for (int l = 0; l < 3; ++l)
    wrong["blk." + std::to_string(l) + ".ffn_down.weight"] = std::vector<double>(100, 1.0);
  expect_error(o, wrong, "have 100 columns");
  // HF folders are not pruned in place.
  const std::unique_ptr<Model> hf = Model::load(kModels + "llama");
  PrunePlan plan = plan_pruning(*hf, {}, PruneOptions{});
  EXPECT_THROW(write_pruned_gguf(*hf, plan, temp_path("x.gguf")), Error);
}

}  // namespace
}  // namespace vigil::compress
