// Several sequences in one pass (Context::eval_batch): each sequence's logits equal those of the
// same tokens evaluated alone, whatever the interleaving, for resident and streamed weights.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "base/error.h"
#include "llm/model/model.h"
#include "llm/engine.h"
#include "llm/runtime/context.h"

namespace vigil {
namespace {

const std::string kModels = std::string(VIGIL_SHARED_DIR) + "/testdata/models/";

struct Seq {
  std::vector<int32_t> prompt;
  std::vector<int32_t> decode;  // fed one token per step after the prompt
};

const std::vector<Seq> kSeqs = {
    {{1, 470, 872, 321, 74, 276}, {302, 86, 77}},
    {{1, 939, 323}, {79, 82, 271}},
    {{1, 87, 78, 86, 470, 77, 302, 872, 939}, {74, 276, 323}},
};

// Logits of one sequence alone: prompt (all positions), then each decode token.
std::vector<std::vector<float>> alone(const Model& model, ContextParams p, const Seq& s) {
  p.n_seq = 1;
  Context ctx(model, p);
  std::vector<std::vector<float>> out;
  const int64_t V = ctx.n_vocab();
  auto l = ctx.eval(s.prompt, true);
  for (size_t t = 0; t < s.prompt.size(); ++t) out.emplace_back(l.begin() + t * V, l.begin() + (t + 1) * V);
  for (int32_t id : s.decode) {
    auto d = ctx.eval(std::span<const int32_t>(&id, 1));
    out.emplace_back(d.begin(), d.end());
  }
  return out;
}

float max_abs_diff(const std::vector<float>& a, std::span<const float> b) {
  float m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

constexpr uint64_t kHalfStreamed = ~uint64_t{0};

void check_model(const std::string& file, uint64_t mem_budget) {
  SCOPED_TRACE(file + " budget " + std::to_string(mem_budget));
  const auto loaded = Model::load(kModels + file);
  const Model& model = *loaded;
  ContextParams p;
  p.n_ctx = 64;
  p.n_threads = 2;
  if (mem_budget == kHalfStreamed) {
    // Room for the KV caches of all sequences and about half of the weights: the rest streams.
    ContextParams q = p;
    q.n_seq = static_cast<int32_t>(kSeqs.size());
    mem_budget = Context(model, q).fixed_bytes() + model.weight_bytes() / 2;
  }
  p.mem_budget = mem_budget;
  std::vector<std::vector<std::vector<float>>> ref;
  for (const Seq& s : kSeqs) ref.push_back(alone(model, p, s));

  p.n_seq = static_cast<int32_t>(kSeqs.size());
  Context ctx(model, p);
  if (mem_budget != 0) {
    ASSERT_NE(ctx.streaming(), nullptr);
    ASSERT_LT(ctx.streaming()->plan().n_resident_layers(), model.config().n_layers);
  }
  const int64_t V = ctx.n_vocab();
  // Prefill all prompts in one batch, interleaved token by token (the hardest order).
  std::vector<int32_t> tokens, seqs;
  std::vector<size_t> index;  // position within its sequence
  for (size_t t = 0;; ++t) {
    bool any = false;
    for (size_t s = 0; s < kSeqs.size(); ++s) {
      if (t < kSeqs[s].prompt.size()) {
        tokens.push_back(kSeqs[s].prompt[t]);
        seqs.push_back(static_cast<int32_t>(s));
        index.push_back(t);
        any = true;
      }
    }
    if (!any) break;
  }
  auto l = ctx.eval_batch(tokens, seqs);
  // Each token's logits depend only on its own sequence; kernels sum in the same order per token
  // for any batch of >= 2 tokens, so prompt logits agree to float rounding of the batch path.
  for (size_t i = 0; i < tokens.size(); ++i) {
    const auto& want = ref[static_cast<size_t>(seqs[i])][index[i]];
    EXPECT_LT(max_abs_diff(want, l.subspan(i * V, V)), 1e-4f) << "prompt token " << i;
  }
  for (size_t s = 0; s < kSeqs.size(); ++s) EXPECT_EQ(ctx.n_past(static_cast<int32_t>(s)), static_cast<int32_t>(kSeqs[s].prompt.size()));
  // Decode: one token per sequence per pass.
  for (size_t step = 0; step < 3; ++step) {
    std::vector<int32_t> dt, ds;
    for (size_t s = 0; s < kSeqs.size(); ++s) {
      dt.push_back(kSeqs[s].decode[step]);
      ds.push_back(static_cast<int32_t>(s));
    }
    auto d = ctx.eval_batch(dt, ds);
    for (size_t s = 0; s < kSeqs.size(); ++s) {
      const auto& want = ref[s][kSeqs[s].prompt.size() + step];
      // Alone, a decode step is a matrix-vector product (different summation order than the
      // batched matrix-matrix one): equal to rounding.
      EXPECT_LT(max_abs_diff(want, d.subspan(s * V, V)), 1e-3f) << "seq " << s << " step " << step;
      EXPECT_EQ(std::max_element(want.begin(), want.end()) - want.begin(),
                std::max_element(d.begin() + s * V, d.begin() + (s + 1) * V) - (d.begin() + s * V));
    }
  }
}

TEST(MultiSeq, MatchesEachSequenceAloneResident) {
  check_model("llama/model-q8_0.gguf", 0);
  check_model("qwen2/model-q4_k_m.gguf", 0);
  check_model("phi3/model-q4_0.gguf", 0);
}

TEST(MultiSeq, MatchesEachSequenceAloneStreamed) {
  check_model("llama/model-q8_0.gguf", kHalfStreamed);
  check_model("qwen2/model-q4_k_m.gguf", kHalfStreamed);
}

TEST(MultiSeq, RejectsBadSequencesAndOverflow) {
  const auto loaded = Model::load(kModels + "llama/model-q8_0.gguf");
  const Model& model = *loaded;
  ContextParams p;
  p.n_ctx = 8;
  p.n_seq = 2;
  Context ctx(model, p);
  const std::vector<int32_t> t = {1, 2};
  const std::vector<int32_t> bad = {0, 2};
  EXPECT_THROW(ctx.eval_batch(t, bad), Error);
  const std::vector<int32_t> short_ids = {0};
  EXPECT_THROW(ctx.eval_batch(t, short_ids), Error);
  const std::vector<int32_t> nine(9, 1), s1(9, 1);
  EXPECT_THROW(ctx.eval_batch(nine, s1), Error);  // sequence 1 overflows its 8 positions
  const std::vector<int32_t> ok = {0, 1};
  ctx.eval_batch(t, ok);
  EXPECT_EQ(ctx.n_past(0), 1);
  EXPECT_EQ(ctx.n_past(1), 1);
  ctx.truncate(0, 1);
  EXPECT_EQ(ctx.n_past(1), 0);
  EXPECT_EQ(ctx.n_past(0), 1);
  p.n_seq = 0;
  EXPECT_THROW(Context(model, p), Error);
}

}  // namespace
}  // namespace vigil

namespace vigil {
namespace {

// Engine::generate_batch: each request's text and tokens equal generate() alone (exact mode, whose
// kernels sum every (row, token) pair the same way at any batch size), stop strings and limits
// apply per request, and one request's cancel leaves the others running.
TEST(GenerateBatch, EqualsEachRequestAlone) {
  EngineOptions o;
  o.model_path = kModels + "llama/model-q8_0.gguf";
  o.n_threads = 2;
  o.n_ctx = 96;
  o.exact = true;
  o.n_seq = 3;
  Engine engine(o);
  std::vector<GenerateRequest> reqs(3);
  reqs[0].prompt = "The quick brown fox";
  reqs[0].max_tokens = 12;
  reqs[1].prompt = "Once upon a time";
  reqs[1].max_tokens = 5;
  reqs[2].prompt = "Hello";
  reqs[2].max_tokens = 9;
  std::vector<GenerateResult> alone;
  for (const auto& r : reqs) alone.push_back(engine.generate(r));
  ASSERT_GT(alone[0].tokens.size(), 3u);  // the test means nothing if generation stops at once
  std::vector<std::string> streamed(3);
  const auto batch = engine.generate_batch(reqs, [&](size_t i, std::string_view p) {
    streamed[i] += p;
    return true;
  });
  ASSERT_EQ(batch.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(batch[i].tokens, alone[i].tokens);
    EXPECT_EQ(batch[i].text, alone[i].text);
    EXPECT_EQ(streamed[i], alone[i].text);
    EXPECT_EQ(batch[i].stop_reason, alone[i].stop_reason);
    EXPECT_LE(batch[i].stats.n_generated, reqs[i].max_tokens);
  }
  // Cancelling request 1 after its first piece stops it alone.
  std::vector<int> pieces(3, 0);
  const auto cancelled = engine.generate_batch(reqs, [&](size_t i, std::string_view) {
    ++pieces[i];
    return i != 1;
  });
  EXPECT_EQ(cancelled[1].stop_reason, "cancelled");
  EXPECT_EQ(pieces[1], 1);
  EXPECT_EQ(cancelled[0].tokens, alone[0].tokens);
  EXPECT_EQ(cancelled[2].tokens, alone[2].tokens);
  // More requests than sequences: a clear error.
  reqs.push_back(reqs[0]);
  EXPECT_THROW(engine.generate_batch(reqs), Error);
}

}  // namespace
}  // namespace vigil
