// vigil prune: structured pruning of FFN channels and KV head groups, ranked by importance on
// calibration text (see llm/compress/prune.h).
#include <algorithm>
#include <cstdio>
#include <memory>
#include <sstream>

#include "base/error.h"
#include "base/file.h"
#include "base/units.h"
#include "cli/commands.h"
#include "llm/compress/imatrix.h"
#include "llm/compress/imatrix_file.h"
#include "llm/compress/perplexity.h"
#include "llm/compress/prune.h"
#include "llm/engine.h"
#include "llm/format/gguf.h"

namespace vigil::cli {
namespace {

std::vector<double> parse_fractions(const std::string& text) {
  std::vector<double> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    size_t used = 0;
    double v = 0;
    try {
      v = std::stod(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != item.size())
      fail_usage("--ffn-keep: '{}' is not a number", printable(item));
    out.push_back(v);
  }
  if (out.empty()) fail_usage("--ffn-keep: no value given");
  return out;
}

}  // namespace

void register_prune(CLI::App& app) {
  auto* cmd =
      app.add_subcommand("prune",
                         "Structured pruning: remove the least important FFN channels (and KV head "
                         "groups) measured on calibration text; writes a smaller GGUF");
  auto in = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  auto ffn_keep = std::make_shared<std::string>("1.0");
  auto opts = std::make_shared<compress::PruneOptions>();
  auto calib = std::make_shared<std::string>();
  auto imatrix = std::make_shared<std::string>();
  auto ctx = std::make_shared<int32_t>(512);
  auto chunks = std::make_shared<int32_t>(0);
  auto threads = std::make_shared<int>(0);
  cmd->add_option("IN", *in, "Input GGUF (f32, f16, bf16 or quantized)")->required();
  cmd->add_option("OUT", *out, "Output GGUF")->required();
  cmd->add_option("--ffn-keep", *ffn_keep,
                  "Fraction of FFN channels kept: one value, or comma-separated per layer");
  cmd->add_option("--heads-keep", opts->heads_keep,
                  "Fraction of KV head groups kept (the same count in every layer; default 1)");
  cmd->add_option("--align", opts->align,
                  "Kept FFN channels are a multiple of this (0 = 256 for k-quant input, else 32; "
                  "use 256 before quantizing to k-quants)")
      ->check(CLI::Range(0, 1 << 20));
  cmd->add_option("-f,--file", *calib, "Calibration text");
  cmd->add_option("--imatrix", *imatrix, "Use the statistics of this imatrix file instead of -f");
  cmd->add_option("--ctx", *ctx, "Calibration window in tokens (default 512)")
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--chunks", *chunks, "Calibrate on at most this many windows (0 = all)")
      ->check(CLI::Range(0, 1 << 30));
  cmd->add_option("-t,--threads", *threads, "Compute threads (0 = all cores)")
      ->check(CLI::Range(0, 1024));
  cmd->callback([=] {
    compress::PruneOptions o = *opts;
    o.ffn_keep = parse_fractions(*ffn_keep);
    const bool needs_stats = o.heads_keep < 1 || std::any_of(o.ffn_keep.begin(), o.ffn_keep.end(),
                                                             [](double k) { return k < 1; });
    if (needs_stats && calib->empty() && imatrix->empty())
      fail_usage("prune: give -f CALIB.txt (or --imatrix FILE)");
    if (!calib->empty() && !imatrix->empty()) fail_usage("prune: give -f or --imatrix, not both");
    EngineOptions eo;
    eo.model_path = *in;
    eo.n_threads = *threads;
    eo.n_ctx = *ctx;
    Engine engine(eo);
    if (engine.model().gguf() == nullptr) fail("prune: {}: input must be a GGUF file", *in);
    compress::ActivationStats stats;
    if (!imatrix->empty()) {
      stats = compress::activation_stats(compress::load_imatrix(*imatrix));
    } else if (needs_stats) {
      if (!engine.model().has_tokenizer()) fail("{}: the model has no tokenizer", *in);
      const Tokenizer& tok = engine.tokenizer();
      const std::vector<int32_t> tokens = compress::tokenize_text(tok, read_file(*calib));
      compress::ImatrixCollector collector;
      compress::ImatrixOptions io;
      io.n_ctx = *ctx;
      io.max_chunks = *chunks;
      const int32_t n = compress::collect_imatrix(engine.context(), tokens,
                                                  tok.add_bos() ? tok.bos() : -1, io, collector);
      std::fprintf(stderr, "prune: calibrated on %zu tokens of %s (%d windows)\n", tokens.size(),
                   calib->c_str(), n);
      for (const auto& [name, s] : collector.stats())
        stats.emplace(name, collector.mean_square(name));
    }
    const compress::PrunePlan plan = compress::plan_pruning(engine.model(), stats, o);
    const ModelConfig& c = engine.model().config();
    for (size_t l = 0; l < plan.layers.size(); ++l) {
      std::printf("layer %zu: FFN %d -> %zu channels, KV groups %d -> %zu\n", l,
                  c.ff_size(static_cast<int32_t>(l)), plan.layers[l].ffn_channels.size(),
                  c.n_head_kv, plan.layers[l].kv_groups.size());
    }
    const uint64_t bytes = compress::write_pruned_gguf(engine.model(), plan, *out);
    const std::unique_ptr<Model> check = Model::load(*out);  // the result must load
    std::printf("wrote %s: %s (input %s), weights %s -> %s\n", out->c_str(),
                format_bytes(bytes).c_str(),
                format_bytes(engine.model().gguf()->file_size()).c_str(),
                format_bytes(engine.model().weight_bytes()).c_str(),
                format_bytes(check->weight_bytes()).c_str());
  });
}

}  // namespace vigil::cli
