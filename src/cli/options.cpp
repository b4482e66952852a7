#include "cli/options.h"

#include <cstdio>

#include "base/error.h"

namespace vigil::cli {

void ModelOptions::add(CLI::App& cmd) {
  cmd.add_option("-m,--model", model, "Model: a .gguf file or a Hugging Face folder")->required();
  cmd.add_option("-t,--threads", threads, "Compute threads (0 = all cores)")->check(CLI::Range(0, 1024));
  cmd.add_option("--ctx", ctx, "Context size in tokens (0 = the model's, at most 4096)")
      ->check(CLI::Range(0, 1 << 24));
  cmd.add_option("--kv-type", kv_type, "KV cache type: f16, q8_0 or f32")
      ->check(CLI::IsMember({"f16", "q8_0", "f32"}));
  cmd.add_flag("--exact", exact,
               "Reference math: dequantize weights to f32, f32 activations and KV (slow)");
  cmd.add_option("--chat-template", chat_template,
                 "Chat template family: llama2, llama3, chatml, phi3, mistral, gemma (default: "
                 "detected from the model)");
}

EngineOptions ModelOptions::engine_options() const {
  EngineOptions o;
  o.model_path = model;
  o.n_threads = threads;
  o.n_ctx = ctx;
  o.kv_type = *ggml_type_from_name(kv_type);
  o.exact = exact;
  if (!chat_template.empty()) o.chat_template = chat_template;
  return o;
}

void SamplingOptions::add(CLI::App& cmd) {
  cmd.add_option("--temp", params.temperature, "Temperature (0 = greedy)")->check(CLI::Range(0.0, 100.0));
  cmd.add_option("--top-k", params.top_k, "Top-k (0 = off)")->check(CLI::Range(0, 1 << 30));
  cmd.add_option("--top-p", params.top_p, "Top-p nucleus (1 = off)")->check(CLI::Range(0.0, 1.0));
  cmd.add_option("--min-p", params.min_p, "Min-p relative to the top token (0 = off)")
      ->check(CLI::Range(0.0, 1.0));
  cmd.add_option("--repeat-penalty", params.repeat_penalty, "Repetition penalty (1 = off)")
      ->check(CLI::Range(0.0, 10.0));
  cmd.add_option("--presence-penalty", params.presence_penalty, "Presence penalty (0 = off)");
  cmd.add_option("--frequency-penalty", params.frequency_penalty, "Frequency penalty (0 = off)");
  cmd.add_option("--repeat-last-n", params.penalty_last_n, "Tokens the penalties look back (-1 = all)");
  cmd.add_option("--seed", params.seed, "Random seed (same seed, same output)");
}

std::string read_stdin() {
  std::string data;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, stdin)) > 0) data.append(buf, n);
  if (std::ferror(stdin)) fail("stdin: read error");
  return data;
}

}  // namespace vigil::cli
