// config.json → ModelConfig: the three shared tiny models (against the table in
// testdata/models/README.md, manifest.json and the GGUF metadata), older transformers layouts
// (top-level rope_theta, rope_scaling), and errors that name the file, the key and the type.
#include "llm/format/hf_config.h"

#include <gtest/gtest.h>

#include "base/file.h"
#include "formats_test_util.h"
#include "llm/format/gguf.h"

namespace vigil {
namespace {

using formats_testing::expect_error;
using formats_testing::ScratchDir;
using json = nlohmann::json;

const std::string kModels = std::string(VIGIL_SHARED_DIR) + "/testdata/models/";

// One row of the README table.
struct ModelRow {
  std::string arch;
  int32_t layers, hidden, heads, kv_heads, head_dim, ffn, vocab, ctx;
  float theta, eps;
  bool tied, qkv_bias, fused;
};

class RealConfig : public ::testing::TestWithParam<ModelRow> {};

TEST_P(RealConfig, MatchesTheReadmeTable) {
  const ModelRow& r = GetParam();
  const ModelConfig c = load_hf_config(kModels + r.arch + "/config.json");
  EXPECT_EQ(c.arch, r.arch);
  EXPECT_EQ(c.n_layers, r.layers);
  EXPECT_EQ(c.n_embd, r.hidden);
  EXPECT_EQ(c.n_head, r.heads);
  EXPECT_EQ(c.n_head_kv, r.kv_heads);
  EXPECT_EQ(c.head_dim, r.head_dim);
  EXPECT_EQ(c.n_ff, r.ffn);
  EXPECT_TRUE(c.n_ff_per_layer.empty());
  EXPECT_EQ(c.n_vocab, r.vocab);
  EXPECT_EQ(c.n_ctx_train, r.ctx);
  EXPECT_EQ(c.rope_theta, r.theta);
  EXPECT_EQ(c.rms_eps, r.eps);
  EXPECT_EQ(c.tied_embeddings, r.tied);
  EXPECT_EQ(c.qkv_bias, r.qkv_bias);
  EXPECT_EQ(c.fused_qkv, r.fused);
  EXPECT_EQ(c.fused_gate_up, r.fused);
  // All three: default (unscaled) NeoX RoPE over the whole head, no sliding window.
  EXPECT_EQ(c.rope_style, RopeStyle::NeoX);
  EXPECT_EQ(c.rope_scaling, RopeScaling::None);
  EXPECT_EQ(c.rope_dim, r.head_dim);
  EXPECT_EQ(c.sliding_window, 0);

  // The folder form reads the same file.
  EXPECT_EQ(load_hf_config(kModels + r.arch).n_layers, r.layers);

  // Cross-check with the manifest's config summary.
  const json m = json::parse(read_file(kModels + r.arch + "/manifest.json")).at("config");
  EXPECT_EQ(c.n_vocab, m.at("vocab_size").get<int32_t>());
  EXPECT_EQ(c.n_ff, m.at("intermediate_size").get<int32_t>());
  EXPECT_EQ(c.head_dim, m.at("head_dim").get<int32_t>());
  EXPECT_EQ(c.rope_theta, m.at("rope_theta").get<float>());
  EXPECT_EQ(c.tied_embeddings, m.at("tie_word_embeddings").get<bool>());
  EXPECT_EQ(c.qkv_bias, m.at("qkv_bias").get<bool>());
  EXPECT_EQ(c.fused_qkv, m.at("fused_qkv_and_gate_up").get<bool>());

  // And with the GGUF converted from the same checkpoint.
  const auto g = gguf::GgufFile::open(kModels + r.arch + "/model-q8_0.gguf");
  const std::string a = r.arch + ".";
  EXPECT_EQ(c.n_layers, g.get_int(a + "block_count"));
  EXPECT_EQ(c.n_embd, g.get_int(a + "embedding_length"));
  EXPECT_EQ(c.n_ff, g.get_int(a + "feed_forward_length"));
  EXPECT_EQ(c.n_head, g.get_int(a + "attention.head_count"));
  EXPECT_EQ(c.n_head_kv, g.get_int(a + "attention.head_count_kv"));
  EXPECT_EQ(c.n_ctx_train, g.get_int(a + "context_length"));
  EXPECT_EQ(c.rms_eps, static_cast<float>(g.get_float(a + "attention.layer_norm_rms_epsilon")));
  EXPECT_EQ(c.rope_theta, static_cast<float>(g.get_float_opt(a + "rope.freq_base").value_or(1e4)));
}

INSTANTIATE_TEST_SUITE_P(
    SharedTestdata, RealConfig,
    ::testing::Values(
        ModelRow{"llama", 3, 256, 4, 2, 64, 512, 1000, 2048, 1e4f, 1e-5f, false, false, false},
        ModelRow{"qwen2", 2, 256, 4, 2, 64, 512, 1024, 4096, 1e6f, 1e-6f, true, true, false},
        ModelRow{"phi3", 2, 256, 4, 4, 64, 256, 1024, 4096, 1e4f, 1e-5f, false, false, true}),
    [](const ::testing::TestParamInfo<ModelRow>& param_info) { return param_info.param.arch; });

// A minimal llama config to modify.
json base() {
  return {{"model_type", "llama"},  {"hidden_size", 512},       {"intermediate_size", 1376},
          {"num_hidden_layers", 4}, {"num_attention_heads", 8}, {"vocab_size", 32000}};
}

ModelConfig parse(const json& j) {
  return parse_hf_config(j.dump(), "config.json");
}

TEST(HfConfig, DefaultsOfTheConfigClasses) {
  const ModelConfig c = parse(base());
  EXPECT_EQ(c.n_head_kv, 8);  // num_key_value_heads defaults to the head count
  EXPECT_EQ(c.head_dim, 64);  // hidden / heads
  EXPECT_EQ(c.rope_dim, 64);
  EXPECT_EQ(c.rope_theta, 10000.0f);
  EXPECT_EQ(c.rms_eps, 1e-6f);  // LlamaConfig default
  EXPECT_EQ(c.n_ctx_train, 2048);
  EXPECT_FALSE(c.tied_embeddings);
  EXPECT_EQ(c.rope_style, RopeStyle::NeoX);
  json phi = base();
  phi["model_type"] = "phi3";
  EXPECT_EQ(parse(phi).rms_eps, 1e-5f);  // Phi3Config default
  json nulls = base();
  nulls["num_key_value_heads"] = nullptr;
  nulls["head_dim"] = nullptr;
  EXPECT_EQ(parse(nulls).n_head_kv, 8);
  EXPECT_EQ(parse(nulls).head_dim, 64);
}

TEST(HfConfig, ArchitectureFromClassName) {
  json j = base();
  j.erase("model_type");
  j["architectures"] = {"MistralForCausalLM"};
  EXPECT_EQ(parse(j).arch, "mistral");
  j["architectures"] = {"GPT2LMHeadModel"};
  expect_error([&] { parse(j); }, {"config.json", "architectures", "GPT2LMHeadModel"});
  j.erase("architectures");
  expect_error([&] { parse(j); }, {"config.json", "model_type", "missing"});
}

TEST(HfConfig, OlderFilesWithTopLevelRopeTheta) {
  json j = base();
  j["rope_theta"] = 500000.0;
  j["rope_scaling"] = nullptr;
  const ModelConfig c = parse(j);
  EXPECT_EQ(c.rope_theta, 500000.0f);
  EXPECT_EQ(c.rope_scaling, RopeScaling::None);
}

TEST(HfConfig, Llama3RopeScaling) {
  // Llama 3.1 / 3.2 style (transformers 4).
  json j = base();
  j["rope_theta"] = 500000.0;
  j["max_position_embeddings"] = 131072;
  j["rope_scaling"] = {{"factor", 32.0},
                       {"low_freq_factor", 1.0},
                       {"high_freq_factor", 4.0},
                       {"original_max_position_embeddings", 8192},
                       {"rope_type", "llama3"}};
  ModelConfig c = parse(j);
  EXPECT_EQ(c.rope_scaling, RopeScaling::Llama3);
  EXPECT_EQ(c.rope_factor, 32.0f);
  EXPECT_EQ(c.rope_low_freq_factor, 1.0f);
  EXPECT_EQ(c.rope_high_freq_factor, 4.0f);
  EXPECT_EQ(c.rope_orig_ctx, 8192);
  EXPECT_EQ(c.rope_theta, 500000.0f);
  EXPECT_EQ(c.n_ctx_train, 131072);
  // The same in transformers 5 form.
  json j5 = base();
  j5["rope_parameters"] = j["rope_scaling"];
  j5["rope_parameters"]["rope_theta"] = 500000.0;
  c = parse(j5);
  EXPECT_EQ(c.rope_scaling, RopeScaling::Llama3);
  EXPECT_EQ(c.rope_theta, 500000.0f);
  EXPECT_EQ(c.rope_orig_ctx, 8192);
  j5["rope_parameters"].erase("original_max_position_embeddings");
  expect_error([&] { parse(j5); },
               {"rope_parameters.original_max_position_embeddings", "missing", "llama3"});
}

TEST(HfConfig, LinearAndYarnScaling) {
  json j = base();
  j["rope_scaling"] = {{"type", "linear"}, {"factor", 4.0}};  // old key name "type"
  ModelConfig c = parse(j);
  EXPECT_EQ(c.rope_scaling, RopeScaling::Linear);
  EXPECT_EQ(c.rope_factor, 4.0f);
  j["rope_scaling"] = {
      {"rope_type", "yarn"}, {"factor", 4.0}, {"original_max_position_embeddings", 32768}};
  c = parse(j);
  EXPECT_EQ(c.rope_scaling, RopeScaling::Yarn);
  EXPECT_EQ(c.rope_orig_ctx, 32768);
  j["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}, {"beta_fast", 16}};
  expect_error([&] { parse(j); }, {"rope_scaling.beta_fast"});
  j["rope_scaling"] = {{"rope_type", "linear"}};
  expect_error([&] { parse(j); }, {"rope_scaling.factor", "positive number", "linear"});
  j["rope_scaling"] = {{"type", "longrope"}, {"short_factor", {1.0}}, {"long_factor", {1.0}}};
  expect_error([&] { parse(j); },
               {"config.json", "rope_scaling.type", "longrope", "not supported"});
  j["rope_scaling"] = {{"rope_type", "dynamic"}, {"factor", 2.0}};
  expect_error([&] { parse(j); }, {"rope_scaling.rope_type", "dynamic"});
}

TEST(HfConfig, PartialRotaryFactor) {
  json j = base();
  j["partial_rotary_factor"] = 0.5;
  EXPECT_EQ(parse(j).rope_dim, 32);
  json j5 = base();
  j5["rope_parameters"] = {
      {"rope_type", "default"}, {"rope_theta", 1e4}, {"partial_rotary_factor", 0.25}};
  EXPECT_EQ(parse(j5).rope_dim, 16);
  j5["rope_parameters"]["partial_rotary_factor"] = 0.3;  // 19.2 dimensions
  expect_error([&] { parse(j5); }, {"rope_parameters.partial_rotary_factor"});
  j["partial_rotary_factor"] = 1.5;
  expect_error([&] { parse(j); }, {"partial_rotary_factor"});
}

TEST(HfConfig, SlidingWindow) {
  json mistral = base();
  mistral["model_type"] = "mistral";
  mistral["sliding_window"] = 4096;
  EXPECT_EQ(parse(mistral).sliding_window, 4096);
  mistral["sliding_window"] = nullptr;
  EXPECT_EQ(parse(mistral).sliding_window, 0);
  json phi = base();
  phi["model_type"] = "phi3";
  phi["sliding_window"] = 2047;
  EXPECT_EQ(parse(phi).sliding_window, 2047);
  EXPECT_TRUE(parse(phi).fused_qkv);
  // Qwen2 before transformers 5: the window only counts with use_sliding_window.
  json qwen = base();
  qwen["model_type"] = "qwen2";
  qwen["sliding_window"] = 32768;
  qwen["use_sliding_window"] = false;
  qwen["max_window_layers"] = 28;
  EXPECT_EQ(parse(qwen).sliding_window, 0);
  EXPECT_TRUE(parse(qwen).qkv_bias);
  qwen["use_sliding_window"] = true;
  qwen["max_window_layers"] = 2;  // of 4 layers: mixed
  expect_error([&] { parse(qwen); }, {"max_window_layers", "mixed"});
  // transformers 5: layer_types.
  json typed = base();
  typed["model_type"] = "mistral";
  typed["sliding_window"] = 1024;
  typed["layer_types"] = {"full_attention", "full_attention", "full_attention", "full_attention"};
  EXPECT_EQ(parse(typed).sliding_window, 0);
  typed["layer_types"] = {"sliding_attention", "sliding_attention", "sliding_attention",
                          "sliding_attention"};
  EXPECT_EQ(parse(typed).sliding_window, 1024);
  typed["layer_types"][0] = "full_attention";
  expect_error([&] { parse(typed); }, {"layer_types", "3 of 4", "mixed"});
  mistral["sliding_window"] = -1;
  expect_error([&] { parse(mistral); }, {"sliding_window", "non-negative"});
}

TEST(HfConfig, ErrorsNameFileKeyAndType) {
  json j = base();
  j["hidden_size"] = "512";
  expect_error([&] { parse(j); },
               {"config.json", "'hidden_size'", "expected", "integer", "\"512\""});
  j = base();
  j.erase("num_hidden_layers");
  expect_error([&] { parse(j); }, {"config.json", "'num_hidden_layers'", "missing"});
  j = base();
  j["vocab_size"] = 0;
  expect_error([&] { parse(j); }, {"'vocab_size'", "positive"});
  j = base();
  j["vocab_size"] = 1ull << 40;
  expect_error([&] { parse(j); }, {"'vocab_size'", "32-bit"});
  j = base();
  j["rms_norm_eps"] = "tiny";
  expect_error([&] { parse(j); }, {"'rms_norm_eps'", "a number"});
  j = base();
  j["tie_word_embeddings"] = 1;
  expect_error([&] { parse(j); }, {"'tie_word_embeddings'", "true or false"});
  j = base();
  j["rope_parameters"] = {{"rope_theta", "1e4"}};
  expect_error([&] { parse(j); }, {"'rope_parameters.rope_theta'", "a number"});
  j = base();
  j["rope_parameters"] = 5;
  expect_error([&] { parse(j); }, {"'rope_parameters'", "an object"});
  j = base();
  j["num_key_value_heads"] = 3;
  expect_error([&] { parse(j); }, {"'num_key_value_heads'", "does not divide"});
  j = base();
  j["hidden_size"] = 500;
  expect_error([&] { parse(j); }, {"'hidden_size'", "multiple"});
  j = base();
  j["model_type"] = "gemma";
  expect_error([&] { parse(j); }, {"'model_type'", "gemma", "not supported"});
  j = base();
  j["hidden_act"] = "gelu";
  expect_error([&] { parse(j); }, {"'hidden_act'", "gelu"});
  j = base();
  j["attention_bias"] = true;
  expect_error([&] { parse(j); }, {"'attention_bias'"});
  j = base();
  j["mlp_bias"] = true;
  expect_error([&] { parse(j); }, {"'mlp_bias'"});
  expect_error([] { parse_hf_config("{\"model_type\": ", "bad.json"); },
               {"bad.json", "invalid JSON"});
  expect_error([] { parse_hf_config("[1]", "bad.json"); }, {"bad.json", "expected a JSON object"});
  expect_error([] { load_hf_config("/nonexistent/config.json"); }, {"/nonexistent/config.json"});
}

TEST(HfConfig, IntegralFloatsAreAccepted) {
  json j = base();
  j["max_position_embeddings"] = 4096.0;
  EXPECT_EQ(parse(j).n_ctx_train, 4096);
  j["max_position_embeddings"] = 4096.5;
  expect_error([&] { parse(j); }, {"'max_position_embeddings'", "integer"});
}

TEST(HfConfig, FolderOrFile) {
  ScratchDir dir;
  write_file_atomic(dir.file("config.json"), base().dump());
  EXPECT_EQ(load_hf_config(dir.path()).n_layers, 4);
  EXPECT_EQ(load_hf_config(dir.file("config.json")).n_layers, 4);
}

}  // namespace
}  // namespace vigil
