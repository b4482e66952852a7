// Perplexity and KL divergence (llm/compress/perplexity.h) on the shared tiny models: PPL equals
// exp(mean NLL) computed here from full logits, a model against itself has KLD 0 and 100 % top-1
// agreement, quantization error orders q8_0 < q4_0, and bad reference files give clear errors.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "base/error.h"
#include "base/file.h"
#include "llm/compress/perplexity.h"
#include "llm/model/model.h"
#include "llm/runtime/context.h"
#include "llm/tokenizer/tokenizer.h"

namespace vigil::compress {
namespace {

const std::string kModels = std::string(VIGIL_SHARED_DIR) + "/testdata/models/";
const std::string kText = std::string(VIGIL_SOURCE_DIR) + "/tests/compress/text/eval.txt";

std::string temp_path(const std::string& name) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return (std::filesystem::temp_directory_path() / (std::string("vigil_metrics_") + info->name() +
                                                    "_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

struct Loaded {
  std::unique_ptr<Model> model;
  std::unique_ptr<Context> ctx;
  std::vector<int32_t> tokens;
  int32_t bos = -1;
  uint64_t hash = 0;
};

Loaded load(const std::string& rel, int32_t n_ctx) {
  Loaded l;
  l.model = Model::load(kModels + rel);
  ContextParams p;
  p.n_ctx = n_ctx;
  p.n_threads = 1;  // one thread: robust timing on a shared machine
  l.ctx = std::make_unique<Context>(*l.model, p);
  const Tokenizer& tok = l.model->tokenizer();
  l.tokens = tokenize_text(tok, read_file(kText));
  l.bos = tok.add_bos() ? tok.bos() : -1;
  l.hash = vocab_hash(tok);
  return l;
}

PerplexityResult run(Loaded& l, PerplexityOptions o) {
  return evaluate_perplexity(*l.ctx, l.tokens, l.bos, l.hash, o);
}

TEST(Perplexity, EqualsExpMeanNllFromFullLogits) {
  const int32_t n_ctx = 32;
  for (const std::string model : {"llama/model-f16.gguf", "qwen2/model-f32.gguf"}) {
    SCOPED_TRACE(model);
    Loaded l = load(model, n_ctx);
    PerplexityOptions o;
    o.n_ctx = n_ctx;
    o.max_windows = 3;
    const PerplexityResult r = run(l, o);
    ASSERT_EQ(r.n_windows, 3);
    ASSERT_EQ(r.n_scored, 3 * (n_ctx - 1 - n_ctx / 2));

    // Independently: every window from an empty cache, BOS at its start, score the second half.
    std::vector<double> nll;
    for (int32_t w = 0; w < 3; ++w) {
      std::vector<int32_t> win(l.tokens.begin() + w * n_ctx, l.tokens.begin() + (w + 1) * n_ctx);
      if (l.bos >= 0) win[0] = l.bos;
      l.ctx->reset();
      const auto logits = l.ctx->eval(win, true);
      const int32_t V = l.ctx->n_vocab();
      for (int32_t j = n_ctx / 2; j + 1 < n_ctx; ++j) {
        const float* row = logits.data() + static_cast<size_t>(j) * V;
        long double mx = row[0], z = 0;
        for (int32_t i = 0; i < V; ++i) mx = std::max<long double>(mx, row[i]);
        for (int32_t i = 0; i < V; ++i) z += std::exp(static_cast<long double>(row[i]) - mx);
        nll.push_back(static_cast<double>(-(row[win[j + 1]] - mx - std::log(z))));
      }
    }
    double sum = 0, sum2 = 0;
    for (double v : nll) {
      sum += v;
      sum2 += v * v;
    }
    const double n = static_cast<double>(nll.size());
    const double mean = sum / n;
    const double ppl = std::exp(mean);
    const double err = ppl * std::sqrt((sum2 / n - mean * mean) / (n - 1));
    EXPECT_NEAR(r.ppl, ppl, 1e-9 * ppl);
    EXPECT_NEAR(r.ppl_err, err, 1e-6 * err);
    EXPECT_GT(r.ppl, 1.0);
    EXPECT_TRUE(std::isfinite(r.ppl));
  }
}

TEST(Perplexity, TextShorterThanOneWindowIsAnError) {
  Loaded l = load("llama/model-f16.gguf", 64);
  l.tokens.resize(40);
  PerplexityOptions o;
  o.n_ctx = 64;
  try {
    run(l, o);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("40 tokens"), std::string::npos) << e.what();
  }
}

TEST(Kld, ModelAgainstItselfIsZero) {
  Loaded l = load("qwen2/model-q8_0.gguf", 32);
  for (int32_t top_k : {0, 8}) {
    SCOPED_TRACE(top_k);
    const std::string base = temp_path("base" + std::to_string(top_k) + ".bin");
    PerplexityOptions o;
    o.n_ctx = 32;
    o.max_windows = 3;
    o.save_logits = base;
    o.save_top_k = top_k;
    const PerplexityResult saved = run(l, o);
    const LogitFileHeader h = read_logit_header(base);
    EXPECT_EQ(h.top_k, top_k);
    EXPECT_EQ(h.n_windows, 3);
    EXPECT_EQ(h.n_vocab, 1024);

    PerplexityOptions k;
    k.n_ctx = 32;
    k.kld_base = base;
    const PerplexityResult r = run(l, k);
    ASSERT_TRUE(r.kld.has_value());
    EXPECT_EQ(r.kld->n_tokens, saved.n_scored);
    EXPECT_EQ(r.kld->exact, top_k == 0);
    EXPECT_EQ(r.kld->kld.mean, 0.0);
    EXPECT_EQ(r.kld->kld_max, 0.0);
    EXPECT_EQ(r.kld->top1_agree.mean, 1.0);
    EXPECT_EQ(r.kld->delta_p.mean, 0.0);
    EXPECT_NEAR(r.kld->ppl_base, saved.ppl, 1e-5 * saved.ppl);
    EXPECT_DOUBLE_EQ(r.ppl, saved.ppl);
    // Without -f the base's own tokens are evaluated.
    const PerplexityResult r2 = evaluate_perplexity(*l.ctx, {}, l.bos, l.hash, k);
    EXPECT_EQ(r2.kld->kld.mean, 0.0);
    std::filesystem::remove(base);
  }
}

TEST(Kld, QuantizationErrorOrdersQ8BelowQ4) {
  const std::string base = temp_path("f32.bin");
  {
    Loaded f32 = load("qwen2/model-f32.gguf", 32);
    PerplexityOptions o;
    o.n_ctx = 32;
    o.max_windows = 4;
    o.save_logits = base;
    run(f32, o);
  }
  PerplexityOptions k;
  k.n_ctx = 32;
  k.kld_base = base;
  Loaded q8 = load("qwen2/model-q8_0.gguf", 32);
  const KldResult a = *run(q8, k).kld;
  Loaded q4 = load("qwen2/model-q4_0.gguf", 32);
  const KldResult b = *run(q4, k).kld;
  EXPECT_GT(a.kld.mean, 0.0);
  EXPECT_GT(b.kld.mean, a.kld.mean + 3 * (a.kld.err + b.kld.err));
  EXPECT_GE(a.top1_agree.mean, b.top1_agree.mean);
  EXPECT_LT(b.top1_agree.mean, 1.0);
  EXPECT_GT(a.delta_p_rms, 0.0);
  EXPECT_GT(b.delta_p_rms, a.delta_p_rms);
  std::filesystem::remove(base);
}

TEST(Kld, MismatchedBaseIsAClearError) {
  const std::string base = temp_path("llama.bin");
  Loaded llama = load("llama/model-f16.gguf", 32);
  PerplexityOptions o;
  o.n_ctx = 32;
  o.max_windows = 2;
  o.save_logits = base;
  run(llama, o);

  auto expect_error = [&](Loaded& l, PerplexityOptions opts, const std::string& needle) {
    try {
      run(l, opts);
      ADD_FAILURE() << "expected an error containing '" << needle << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  PerplexityOptions k;
  k.n_ctx = 32;
  k.kld_base = base;
  // Another vocabulary.
  Loaded qwen = load("qwen2/model-f32.gguf", 32);
  expect_error(qwen, k, "vocabulary");
  // Another window size.
  PerplexityOptions k16 = k;
  k16.n_ctx = 16;
  expect_error(llama, k16, "--ctx 32");
  // Other tokens.
  Loaded shifted = load("llama/model-f16.gguf", 32);
  shifted.tokens.erase(shifted.tokens.begin() + 5);
  expect_error(shifted, k, "different tokens");
  // Truncated and foreign files.
  const std::string bytes = read_file(base);
  const std::string cut = temp_path("cut.bin");
  write_file_atomic(cut, bytes.substr(0, bytes.size() - 7));
  PerplexityOptions kc = k;
  kc.kld_base = cut;
  expect_error(llama, kc, "truncated");
  write_file_atomic(cut, "GGUF and other bytes that are not a log-prob file at all......");
  expect_error(llama, kc, "not a vigil reference");
  std::filesystem::remove(cut);
  std::filesystem::remove(base);
}

TEST(Kld, SaveFailureLeavesNoFile) {
  Loaded l = load("llama/model-f16.gguf", 32);
  PerplexityOptions o;
  o.n_ctx = 32;
  o.max_windows = 1;
  o.save_logits = "/nonexistent-dir/base.bin";
  EXPECT_THROW(run(l, o), Error);
  EXPECT_FALSE(std::filesystem::exists("/nonexistent-dir/base.bin"));
}

TEST(Helpers, LogSoftmaxAndMeanError) {
  const std::vector<float> logits = {1.0f, 2.0f, 3.0f};
  const std::vector<double> lp = log_softmax(logits);
  double z = 0;
  for (double v : lp) z += std::exp(v);
  EXPECT_NEAR(z, 1.0, 1e-12);
  EXPECT_NEAR(lp[2] - lp[0], 2.0, 1e-12);
  const std::vector<double> v = {1, 2, 3, 4};
  const MeanErr m = mean_and_error(v);
  EXPECT_DOUBLE_EQ(m.mean, 2.5);
  EXPECT_NEAR(m.err, std::sqrt(1.25 / 3), 1e-12);
}

}  // namespace
}  // namespace vigil::compress
