#include "fusion/generator.h"

#include <chrono>
#include <filesystem>

#include "base/error.h"
#include "fusion/report_prompt.h"

namespace vigil::fusion {

namespace {
EngineOptions engine_options(const std::string& model_path, int threads, int ctx) {
  EngineOptions o;
  o.model_path = model_path;
  o.n_threads = threads;
  o.n_ctx = ctx;
  return o;
}
}  // namespace

EngineGenerator::EngineGenerator(const std::string& model_path, int threads, int ctx)
    : engine_(engine_options(model_path, threads, ctx)) {
  const auto& c = engine_.model().config();
  description_ = fmt::format("{} ({}, {} layers, hidden {}, vocab {})",
                             std::filesystem::path(model_path).filename().string(), c.arch,
                             c.n_layers, c.n_embd, c.n_vocab);
}

Generation EngineGenerator::generate(const std::string& prompt, int max_tokens,
                                     const std::function<bool(std::string_view)>& on_piece) {
  GenerateRequest request;
  request.prompt = prompt;
  request.max_tokens = max_tokens;
  request.add_bos = false;       // the contract: no BOS
  request.parse_special = true;  // <|facts|>, <|report|> are the model's special tokens
  request.truncate_prompt = true;
  request.sampling.temperature = 0;  // greedy: the same facts give the same report
  // <|end|> is the model's EOS; as a stop string it also ends models that lack the token.
  request.stop = {std::string(kEndToken)};
  const auto start = std::chrono::steady_clock::now();
  GenerateResult result = engine_.generate(request, on_piece);
  Generation g;
  g.text = std::move(result.text);
  g.stop_reason = result.stop_reason;
  g.tokens = result.stats.n_generated;
  g.first_token_ms = result.stats.first_token_ms;
  g.total_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return g;
}

}  // namespace vigil::fusion
