// Sampler, chat templates, UTF-8 streaming and the engine's generation loop.
#include <gtest/gtest.h>

#include <cstring>
#include <map>

#include "base/error.h"
#include "llm/engine.h"

namespace vigil {
namespace {

const std::string kModels = std::string(VIGIL_SHARED_DIR) + "/testdata/models/";

std::vector<float> logits_of(std::initializer_list<float> v) {
  return std::vector<float>(v);
}

TEST(Sampler, GreedyPicksMaxLowestIdOnTie) {
  SamplingParams p;
  p.temperature = 0;
  Sampler s(p);
  EXPECT_EQ(s.sample(logits_of({1, 3, 3, 2}), {}), 1);
  EXPECT_EQ(Sampler::argmax(logits_of({-1, -0.5f, -2})), 1);
}

TEST(Sampler, SameSeedSameTokensDifferentSeedDiffers) {
  std::vector<float> logits(100);
  for (size_t i = 0; i < logits.size(); ++i) logits[i] = static_cast<float>(i % 7) * 0.3f;
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0;
  auto draw = [&](uint64_t seed) {
    p.seed = seed;
    Sampler s(p);
    std::vector<int32_t> out;
    for (int i = 0; i < 50; ++i) out.push_back(s.sample(logits, {}));
    return out;
  };
  EXPECT_EQ(draw(7), draw(7));
  EXPECT_NE(draw(7), draw(8));
}

TEST(Sampler, TopKRestrictsToKBest) {
  SamplingParams p;
  p.temperature = 5.0f;  // flat: without top-k anything could come out
  p.top_k = 2;
  p.top_p = 1;
  p.min_p = 0;
  Sampler s(p);
  for (int i = 0; i < 200; ++i) {
    const int32_t id = s.sample(logits_of({0, 5, 1, 4, 2}), {});
    EXPECT_TRUE(id == 1 || id == 3) << id;
  }
}

TEST(Sampler, TopPKeepsSmallestNucleus) {
  // Probabilities at T=1: token 0 dominates (~0.88) so top_p 0.5 keeps only it.
  SamplingParams p;
  p.temperature = 1;
  p.top_k = 0;
  p.top_p = 0.5f;
  p.min_p = 0;
  Sampler s(p);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(s.sample(logits_of({4, 1, 1, 1}), {}), 0);
}

TEST(Sampler, MinPDropsUnlikelyTokens) {
  SamplingParams p;
  p.temperature = 1;
  p.top_k = 0;
  p.top_p = 1;
  p.min_p = 0.5f;  // keeps tokens with p >= 0.5 * p_max
  Sampler s(p);
  std::map<int32_t, int> seen;
  for (int i = 0; i < 300; ++i) ++seen[s.sample(logits_of({2, 2, -3, -3}), {})];
  EXPECT_EQ(seen.count(2) + seen.count(3), 0u);
  EXPECT_GT(seen[0], 0);
  EXPECT_GT(seen[1], 0);
}

TEST(Sampler, RepetitionAndPresencePenaltiesChangeTheChoice) {
  SamplingParams p;
  p.temperature = 0;
  p.repeat_penalty = 2.0f;
  Sampler s(p);
  const std::vector<int32_t> history = {0};
  EXPECT_EQ(s.sample(logits_of({3, 2}), history), 1);  // 3 / 2 = 1.5 < 2
  SamplingParams q;
  q.temperature = 0;
  q.presence_penalty = 1.5f;
  Sampler s2(q);
  EXPECT_EQ(s2.sample(logits_of({3, 2}), history), 1);  // 3 - 1.5 < 2
  EXPECT_EQ(s2.sample(logits_of({3, 2}), {}), 0);
}

TEST(ChatTemplate, DetectsFamiliesFromTemplateText) {
  EXPECT_EQ(detect_chat_format("{% for m in messages %}<|im_start|>{{ m.role }}"),
            ChatFormat::ChatML);
  EXPECT_EQ(detect_chat_format("<|start_header_id|>{{ role }}<|end_header_id|>"),
            ChatFormat::Llama3);
  EXPECT_EQ(detect_chat_format("{{'<|user|>\n' + content + '<|end|>\n<|assistant|>'}}"),
            ChatFormat::Phi3);
  EXPECT_EQ(detect_chat_format("[INST] <<SYS>> {{ system }} <</SYS>>"), ChatFormat::Llama2);
  EXPECT_EQ(detect_chat_format("{{ '[INST] ' + message['content'] + ' [/INST]' }}"),
            ChatFormat::Mistral);
  EXPECT_EQ(detect_chat_format("<start_of_turn>user"), ChatFormat::Gemma);
  EXPECT_FALSE(detect_chat_format("{{ messages }}").has_value());
}

TEST(ChatTemplate, RendersEachFamily) {
  const std::vector<ChatMessage> msgs = {
      {"system", "S"}, {"user", "U"}, {"assistant", "A"}, {"user", "V"}};
  EXPECT_EQ(
      render_chat(ChatFormat::ChatML, msgs, true, ""),
      "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n"
      "A<|im_end|>\n<|im_start|>user\nV<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(render_chat(ChatFormat::Llama3, {{"user", "U"}}, true, "<|begin_of_text|>"),
            "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nU<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
  EXPECT_EQ(render_chat(ChatFormat::Phi3, {{"user", "U"}}, true, ""),
            "<|user|>\nU<|end|>\n<|assistant|>\n");
  EXPECT_EQ(render_chat(ChatFormat::Llama2, msgs, false, "<s>"),
            "<s>[INST] <<SYS>>\nS\n<</SYS>>\n\nU [/INST] A</s><s>[INST] V [/INST]");
  EXPECT_EQ(render_chat(ChatFormat::Mistral, msgs, false, "<s>"),
            "<s>[INST] S\n\nU [/INST] A</s><s>[INST] V [/INST]");
  EXPECT_EQ(render_chat(ChatFormat::Gemma, msgs, true, "<bos>"),
            "<bos><start_of_turn>user\nS\n\nU<end_of_turn>\n<start_of_turn>model\nA<end_of_turn>\n"
            "<start_of_turn>user\nV<end_of_turn>\n<start_of_turn>model\n");
  EXPECT_THROW(render_chat(ChatFormat::ChatML, {{"tool", "x"}}, true, ""), Error);
}

TEST(Utf8, HoldsBackIncompleteSequences) {
  EXPECT_EQ(complete_utf8_prefix("abc"), 3u);
  EXPECT_EQ(complete_utf8_prefix("a\xC3"), 1u);             // lead byte of é alone
  EXPECT_EQ(complete_utf8_prefix("a\xC3\xA9"), 3u);         // é complete
  EXPECT_EQ(complete_utf8_prefix("\xE2\x82"), 0u);          // 2 of 3 bytes of €
  EXPECT_EQ(complete_utf8_prefix("\xF0\x9F\x98\x80"), 4u);  // 😀
}

TEST(Utf8, ReplacesInvalidBytes) {
  EXPECT_EQ(replace_invalid_utf8("ok \xC3\xA9"), "ok \xC3\xA9");
  EXPECT_EQ(replace_invalid_utf8("a\xFF"
                                 "b"),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(replace_invalid_utf8("\xC3"), "\xEF\xBF\xBD");
  EXPECT_EQ(replace_invalid_utf8("\xED\xA0\x80"),
            "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");                        // surrogate
  EXPECT_EQ(replace_invalid_utf8("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong
}

class EngineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    EngineOptions o;
    o.model_path = kModels + "qwen2/model-q8_0.gguf";
    o.n_threads = 2;
    o.n_ctx = 128;
    engine_ = new Engine(o);
  }
  static void TearDownTestSuite() { delete engine_; }
  static Engine* engine_;
};
Engine* EngineTest::engine_ = nullptr;

TEST_F(EngineTest, StreamedPiecesEqualTheResultAndRespectMaxTokens) {
  GenerateRequest req;
  req.prompt = "The quick brown fox";
  req.max_tokens = 12;
  req.sampling.temperature = 0;
  std::string streamed;
  auto r = engine_->generate(req, [&](std::string_view p) {
    streamed += p;
    return true;
  });
  EXPECT_EQ(streamed, r.text);
  EXPECT_LE(r.stats.n_generated, 12);
  EXPECT_EQ(r.text, replace_invalid_utf8(engine_->tokenizer().decode(r.tokens)));
  // Greedy is deterministic.
  auto again = engine_->generate(req);
  EXPECT_EQ(again.tokens, r.tokens);
}

TEST_F(EngineTest, StopStringEndsGenerationAndIsNotEmitted) {
  GenerateRequest req;
  req.prompt = "The quick brown fox";
  req.max_tokens = 16;
  req.sampling.temperature = 0;
  const auto full = engine_->generate(req);
  ASSERT_GE(full.text.size(), 4u);
  const std::string stop = full.text.substr(full.text.size() / 2, 2);
  req.stop = {stop};
  const auto cut = engine_->generate(req);
  EXPECT_EQ(cut.stop_reason, "stop");
  EXPECT_EQ(cut.text, full.text.substr(0, full.text.find(stop)));
}

TEST_F(EngineTest, SeededSamplingIsReproducible) {
  GenerateRequest req;
  req.prompt = "hello";
  req.max_tokens = 10;
  req.sampling.temperature = 1.0f;
  req.sampling.seed = 1234;
  EXPECT_EQ(engine_->generate(req).tokens, engine_->generate(req).tokens);
}

TEST_F(EngineTest, PromptLongerThanContextIsAnErrorOrTruncated) {
  GenerateRequest req;
  std::string long_prompt;
  for (int i = 0; i < 300; ++i) long_prompt += "word ";
  req.prompt = long_prompt;
  req.max_tokens = 2;
  try {
    engine_->generate(req);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("context"), std::string::npos) << e.what();
  }
  req.truncate_prompt = true;
  const auto r = engine_->generate(req);
  EXPECT_EQ(r.stats.n_prompt, 127);
}

TEST_F(EngineTest, KvCacheTypesAgreeWithF32) {
  // Decoding through f16 and q8_0 caches stays close to the f32 cache on the same tokens.
  const std::vector<int32_t> ids = {470, 872, 321, 74, 276, 302, 86, 77};
  auto run = [&](GgmlType kv) {
    EngineOptions o;
    o.model_path = kModels + "qwen2/model-f32.gguf";
    o.n_threads = 2;
    o.n_ctx = 32;
    o.kv_type = kv;
    Engine e(o);
    auto l = e.context().eval(ids, true);
    return std::vector<float>(l.begin(), l.end());
  };
  const auto ref = run(GgmlType::F32);
  for (GgmlType kv : {GgmlType::F16, GgmlType::Q8_0}) {
    const auto got = run(kv);
    double max_abs = 0;
    for (size_t i = 0; i < ref.size(); ++i)
      max_abs = std::max(max_abs, static_cast<double>(std::abs(got[i] - ref[i])));
    EXPECT_LT(max_abs, kv == GgmlType::F16 ? 0.02 : 0.1) << ggml_type_name(kv);
    EXPECT_GT(max_abs, 0.0) << "cache type had no effect: " << ggml_type_name(kv);
  }
}

TEST_F(EngineTest, CopiedAndMappedWeightsGiveIdenticalLogits) {
  // The default resident image (a private copy) and --mmap read the same bytes: bit-identical.
  const std::vector<int32_t> ids = {470, 872, 321, 74, 276, 302, 86, 77};
  for (const char* file : {"llama/model-q4_0.gguf", "phi3/model-q4_k_m.gguf"}) {
    auto run = [&](bool mmap) {
      EngineOptions o;
      o.model_path = kModels + file;
      o.n_threads = 2;
      o.n_ctx = 32;
      o.mmap = mmap;
      Engine e(o);
      auto l = e.context().eval(ids, true);
      return std::vector<float>(l.begin(), l.end());
    };
    const auto copied = run(false), mapped = run(true);
    ASSERT_EQ(copied.size(), mapped.size()) << file;
    EXPECT_EQ(std::memcmp(copied.data(), mapped.data(), sizeof(float) * copied.size()), 0) << file;
  }
}

TEST_F(EngineTest, BadTokenIdIsRejected) {
  std::vector<int32_t> ids = {1, 5000};
  engine_->context().reset();
  EXPECT_THROW(engine_->context().eval(ids), Error);
}

}  // namespace
}  // namespace vigil
