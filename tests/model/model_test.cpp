// Every model in ../shared/testdata/models against its references (manifest.json ->
// tolerances_by_check): HF logits for unquantized weights (f32 activations), llama.cpp logits
// for the quantized files (our integer kernels), exact-dequantization logits in reference mode,
// per-layer hidden states, and HF greedy continuations through the KV cache.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "base/file.h"
#include "llm/engine.h"
#include "llm/format/gguf.h"

namespace vigil {
namespace {

const std::string kModels = std::string(VIGIL_SHARED_DIR) + "/testdata/models/";

nlohmann::json manifest(const std::string& model) {
  return nlohmann::json::parse(read_file(kModels + model + "/manifest.json"));
}

std::vector<float> read_f32(const std::string& path) {
  const std::string bytes = read_file(path);
  std::vector<float> v(bytes.size() / 4);
  std::memcpy(v.data(), bytes.data(), v.size() * 4);
  return v;
}

struct Diff {
  double max_abs = 0;
  double rms = 0;
};

Diff diff(std::span<const float> a, std::span<const float> b) {
  EXPECT_EQ(a.size(), b.size());
  Diff d;
  double sq = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    const double e = std::abs(static_cast<double>(a[i]) - b[i]);
    d.max_abs = std::max(d.max_abs, e);
    sq += e * e;
  }
  d.rms = std::sqrt(sq / static_cast<double>(std::max<size_t>(1, a.size())));
  return d;
}

std::vector<int32_t> input_ids(const nlohmann::json& m) {
  return m["input"]["input_ids"].get<std::vector<int32_t>>();
}

struct Case {
  std::string model;
  std::string check;
};

class LogitsCheck : public ::testing::TestWithParam<Case> {};

TEST_P(LogitsCheck, MatchesReference) {
  const Case& c = GetParam();
  const auto m = manifest(c.model);
  const auto& spec = m["tolerances_by_check"][c.check];
  const std::string file = spec["file"].get<std::string>();
  const bool quantized = spec.contains("rms");
  const bool dequant = c.check.rfind("dequant_", 0) == 0;
  EngineOptions o;
  o.model_path = kModels + c.model + "/" + (file == "model.safetensors" ? "" : file);
  o.n_threads = 2;
  o.n_ctx = 64;
  // Unquantized and dequant checks: reference f32 math. Quantized vs llama.cpp: our integer
  // kernels with an f32 KV cache, as llama.cpp was run.
  o.exact = !quantized || dequant;
  o.kv_type = GgmlType::F32;
  Engine engine(o);
  const auto ids = input_ids(m);
  auto logits = engine.context().eval(ids, true);
  const auto ref = read_f32(kModels + c.model + "/" + spec["reference"].get<std::string>());
  const Diff d = diff(logits, ref);
  std::printf("[%s %s] max_abs %.3g (limit %.3g)", c.model.c_str(), c.check.c_str(), d.max_abs,
              spec["max_abs"].get<double>());
  if (quantized && !dequant) std::printf(" rms %.3g (limit %.3g)", d.rms, spec["rms"].get<double>());
  std::printf("\n");
  EXPECT_LE(d.max_abs, spec["max_abs"].get<double>());
  if (quantized && !dequant) EXPECT_LE(d.rms, spec["rms"].get<double>());
}

std::vector<Case> all_cases() {
  std::vector<Case> cases;
  for (const char* model : {"llama", "qwen2", "phi3"}) {
    const auto m = manifest(model);  // must outlive the loop (items() views it)
    for (const auto& [check, spec] : m["tolerances_by_check"].items()) {
      if (spec.contains("file")) cases.push_back({model, check});
    }
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Shared, LogitsCheck, ::testing::ValuesIn(all_cases()),
                         [](const auto& info) { return info.param.model + "_" + info.param.check; });

// llama's f16 GGUF in the default (non-exact) mode: activations rounded as llama.cpp does.
TEST(LogitsCheckDefaultMode, LlamaF16WithinF16Tolerance) {
  const auto m = manifest("llama");
  EngineOptions o;
  o.model_path = kModels + "llama/model-f16.gguf";
  o.n_threads = 2;
  o.n_ctx = 64;
  Engine engine(o);
  auto logits = engine.context().eval(input_ids(m), true);
  const Diff d = diff(logits, read_f32(kModels + "llama/logits_hf.f32"));
  EXPECT_LE(d.max_abs, m["tolerances_by_check"]["f16"]["max_abs"].get<double>());
}

class HiddenStates : public ::testing::TestWithParam<std::string> {};

TEST_P(HiddenStates, MatchHfPerLayer) {
  const std::string model = GetParam();
  const auto m = manifest(model);
  const std::string file = model == "llama" ? "model-f16.gguf" : "model-f32.gguf";
  for (const std::string& path : {kModels + model + "/" + file, kModels + model + "/"}) {
    EngineOptions o;
    o.model_path = path;
    o.n_threads = 2;
    o.n_ctx = 64;
    o.exact = true;
    Engine engine(o);
    std::vector<float> hidden;
    engine.context().capture_hidden(&hidden);
    engine.context().eval(input_ids(m), true);
    const auto ref = read_f32(kModels + model + "/hidden_states_hf.f32");
    const Diff d = diff(hidden, ref);
    EXPECT_LE(d.max_abs, m["tolerances_by_check"]["hidden_states"]["max_abs"].get<double>()) << path;
  }
}

INSTANTIATE_TEST_SUITE_P(Shared, HiddenStates, ::testing::Values("llama", "qwen2", "phi3"));

// Greedy continuation through the KV cache: ids and every step's top-5 logits match HF.
class GreedyHf : public ::testing::TestWithParam<std::string> {};

TEST_P(GreedyHf, StepLogitsMatch) {
  const std::string model = GetParam();
  const auto g = nlohmann::json::parse(read_file(kModels + model + "/greedy_hf.json"));
  EngineOptions o;
  o.model_path = kModels + model + "/";  // the safetensors folder
  o.n_threads = 2;
  o.n_ctx = 128;
  o.exact = true;
  Engine engine(o);
  const auto prompt = g["prompt_ids"].get<std::vector<int32_t>>();
  const auto expected = g["generated_ids"].get<std::vector<int32_t>>();
  Context& ctx = engine.context();
  std::span<const float> logits = ctx.eval(prompt);
  double worst = 0;
  for (size_t step = 0; step < expected.size(); ++step) {
    for (const auto& pair : g["step_top5"][step]) {
      const int32_t id = pair[0].get<int32_t>();
      worst = std::max(worst, std::abs(static_cast<double>(logits[static_cast<size_t>(id)]) -
                                       pair[1].get<double>()));
    }
    const int32_t next = Sampler::argmax(logits);
    ASSERT_EQ(next, expected[step]) << "step " << step;
    logits = ctx.eval(std::span<const int32_t>(&next, 1));
  }
  std::printf("[%s greedy] %zu steps, worst top-5 logit diff %.3g\n", model.c_str(), expected.size(), worst);
  EXPECT_LE(worst, 5e-4);
}

INSTANTIATE_TEST_SUITE_P(Shared, GreedyHf, ::testing::Values("llama", "qwen2", "phi3"));

TEST(ModelLoad, UnsupportedArchitectureIsNamed) {
  // A GGUF whose architecture is not in the table.
  gguf::GgufWriter w;
  w.set("general.architecture", gguf::Value::of_string("mamba"));
  const std::string path = ::testing::TempDir() + "/mamba.gguf";
  w.write(path, [](size_t, std::string&) {});
  try {
    Model::load(path);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("mamba"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace vigil
