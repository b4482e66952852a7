#include "cli/options.h"

#include <algorithm>
#include <cstdio>

#include "base/async_reader.h"
#include "base/error.h"
#include "base/units.h"

namespace vigil::cli {

void add_mmap_flag(CLI::App& cmd, bool& mmap) {
  cmd.add_flag("--mmap", mmap,
               "Resident weights: use a mapping of the model file instead of a private copy in "
               "memory (starts at once and shares the page cache; decode is slower on some VMs)");
}

void ModelOptions::add(CLI::App& cmd) {
  cmd.add_option("-m,--model", model, "Model: a .gguf file or a Hugging Face folder")->required();
  cmd.add_option("-t,--threads", threads, "Compute threads (0 = all cores)")
      ->check(CLI::Range(0, 1024));
  cmd.add_option("--ctx", ctx, "Context size in tokens (0 = the model's, at most 4096)")
      ->check(CLI::Range(0, 1 << 24));
  cmd.add_option("--kv-type", kv_type, "KV cache type: f16, q8_0 or f32")
      ->check(CLI::IsMember({"f16", "q8_0", "f32"}));
  cmd.add_flag("--exact", exact,
               "Reference math: dequantize weights to f32, f32 activations and KV (slow)");
  cmd.add_option("--mem-budget", mem_budget,
                 "Hard cap on resident bytes (weights + KV + activations + I/O buffers), e.g. 1G, "
                 "768M; layers that do not fit stream from the file");
  cmd.add_flag("--no-direct-io", no_direct_io, "Stream with buffered reads instead of O_DIRECT");
  add_mmap_flag(cmd, mmap);
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
  if (!mem_budget.empty()) o.mem_budget = parse_size(mem_budget, "--mem-budget");
  o.direct_io = !no_direct_io;
  o.mmap = mmap;
  return o;
}

void SamplingOptions::add(CLI::App& cmd) {
  cmd.add_option("--temp", params.temperature, "Temperature (0 = greedy)")
      ->check(CLI::Range(0.0, 100.0));
  cmd.add_option("--top-k", params.top_k, "Top-k (0 = off)")->check(CLI::Range(0, 1 << 30));
  cmd.add_option("--top-p", params.top_p, "Top-p nucleus (1 = off)")->check(CLI::Range(0.0, 1.0));
  cmd.add_option("--min-p", params.min_p, "Min-p relative to the top token (0 = off)")
      ->check(CLI::Range(0.0, 1.0));
  cmd.add_option("--repeat-penalty", params.repeat_penalty, "Repetition penalty (1 = off)")
      ->check(CLI::Range(0.0, 10.0));
  cmd.add_option("--presence-penalty", params.presence_penalty, "Presence penalty (0 = off)");
  cmd.add_option("--frequency-penalty", params.frequency_penalty, "Frequency penalty (0 = off)");
  cmd.add_option("--repeat-last-n", params.penalty_last_n,
                 "Tokens the penalties look back (-1 = all)");
  cmd.add_option("--seed", params.seed, "Random seed (same seed, same output)");
}

void print_stream_stats(const Engine& engine, const GenerateResult& result) {
  const StreamingWeightStore* s = engine.context().streaming();
  if (s == nullptr) {
    std::fprintf(stderr, "[all weights resident: %s; peak RSS %s]\n",
                 format_bytes(engine.model().weight_bytes()).c_str(),
                 format_bytes(peak_rss_bytes()).c_str());
    return;
  }
  std::fprintf(stderr, "%s\n  I/O: %s, %s\n", s->plan().describe().c_str(),
               s->direct_io() ? "O_DIRECT" : "buffered", s->uses_io_uring() ? "io_uring" : "pread");
  std::fprintf(stderr, "%6s %10s %9s %9s %9s %9s %8s %8s\n", "token", "read", "io_ms", "compute",
               "stall", "wall_ms", "MB/s", "overlap");
  auto line = [](const char* label, const TokenIoStats& t) {
    const double io_ms = static_cast<double>(t.io_ns) / 1e6;
    const double stall_ms = static_cast<double>(t.stall_ns) / 1e6;
    const double wall_ms = static_cast<double>(t.wall_ns) / 1e6;
    const double compute_ms = std::max(0.0, wall_ms - stall_ms);
    // Overlap: the share of I/O time hidden under compute (I/O not seen as stall).
    const double overlap = io_ms > 0 ? std::clamp(1.0 - stall_ms / io_ms, 0.0, 1.0) : 1.0;
    std::fprintf(stderr, "%6s %10s %9.1f %9.1f %9.1f %9.1f %8.0f %7.0f%%\n", label,
                 format_bytes(t.bytes_read).c_str(), io_ms, compute_ms, stall_ms, wall_ms,
                 io_ms > 0 ? static_cast<double>(t.bytes_read) / 1e6 / (io_ms / 1e3) : 0.0,
                 overlap * 100);
  };
  line("prompt", result.stats.prompt_io);
  TokenIoStats total;
  for (size_t i = 0; i < result.stats.token_io.size(); ++i) {
    const auto& t = result.stats.token_io[i];
    line(std::to_string(i + 1).c_str(), t);
    total.bytes_read += t.bytes_read;
    total.io_ns += t.io_ns;
    total.stall_ns += t.stall_ns;
    total.wall_ns += t.wall_ns;
  }
  line("total", total);
  const StreamStats st = s->stats();
  std::fprintf(
      stderr, "resident weights %s (loaded %s at start); streamed %s in total; peak RSS %s\n",
      format_bytes(s->plan().resident_weight_bytes).c_str(), format_bytes(st.load_bytes).c_str(),
      format_bytes(st.bytes_read).c_str(), format_bytes(peak_rss_bytes()).c_str());
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
