// vigil perplexity: perplexity of a model on a text, and KL divergence against a saved reference
// (see llm/compress/perplexity.h for the windowing, the formulas and the reference file format).
#include <chrono>
#include <cstdio>
#include <memory>

#include "base/error.h"
#include "base/file.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "llm/compress/perplexity.h"

namespace vigil::cli {

void register_perplexity(CLI::App& app) {
  auto* cmd =
      app.add_subcommand("perplexity",
                         "Perplexity over non-overlapping windows of a text (llama.cpp's method), "
                         "and KL divergence / top-1 agreement / delta-p against a saved reference");
  auto model = std::make_shared<ModelOptions>();
  auto text_file = std::make_shared<std::string>();
  auto opts = std::make_shared<compress::PerplexityOptions>();
  model->add(*cmd);  // its --ctx is the window size here (default 512)
  cmd->add_option("-f,--file", *text_file,
                  "Text file to evaluate (optional with --kld-base: the "
                  "reference holds its tokens)");
  cmd->add_option("--chunks", opts->max_windows, "Evaluate at most this many windows (0 = all)")
      ->check(CLI::Range(0, 1 << 30));
  cmd->add_option("--save-logits", opts->save_logits,
                  "Write the reference log-probs of every scored token to this file");
  cmd->add_option("--save-top-k", opts->save_top_k,
                  "With --save-logits: keep the top K log-probs per token plus the rest mass "
                  "(0 = the full distribution; default: full up to 8192 vocab, else 64)")
      ->check(CLI::Range(0, 1 << 30));
  cmd->add_option("--kld-base", opts->kld_base,
                  "Compare with a reference saved by --save-logits: KL divergence, top-1 "
                  "agreement, delta-p");
  cmd->callback([=] {
    if (text_file->empty() && opts->kld_base.empty())
      fail_usage("perplexity: give -f TEXT (or --kld-base BASE.bin)");
    compress::PerplexityOptions o = *opts;
    o.n_ctx = model->ctx > 0 ? model->ctx : 512;
    if (!o.kld_base.empty() && model->ctx == 0)
      o.n_ctx = compress::read_logit_header(o.kld_base).n_ctx;
    EngineOptions eo = model->engine_options();
    eo.n_ctx = o.n_ctx;
    Engine engine(eo);
    std::vector<int32_t> tokens;
    int32_t bos = -1;
    uint64_t hash = 0;
    if (engine.model().has_tokenizer()) {
      const Tokenizer& tok = engine.tokenizer();
      if (tok.add_bos() && tok.bos() >= 0) bos = tok.bos();
      hash = compress::vocab_hash(tok);
      if (!text_file->empty()) tokens = compress::tokenize_text(tok, read_file(*text_file));
    } else if (!text_file->empty()) {
      fail("{}: the model has no tokenizer, cannot tokenize {}", eo.model_path, *text_file);
    }
    if (!text_file->empty()) {
      std::fprintf(stderr,
                   "perplexity: %s: %zu tokens, windows of %d tokens (the second half of "
                   "each is scored)\n",
                   text_file->c_str(), tokens.size(), o.n_ctx);
    }
    const auto t0 = std::chrono::steady_clock::now();
    const compress::PerplexityResult r = compress::evaluate_perplexity(
        engine.context(), tokens, bos, hash, o, [&](int32_t done, int32_t total, double ppl) {
          const double s =
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
          std::fprintf(stderr, "[%d/%d] PPL %.4f  (%.1f s)\n", done, total, ppl, s);
        });
    std::printf("windows: %d x %d tokens, %lld tokens scored\n", r.n_windows, r.n_ctx,
                static_cast<long long>(r.n_scored));
    std::printf("Final estimate: PPL = %.4f +/- %.5f\n", r.ppl, r.ppl_err);
    if (!o.save_logits.empty())
      std::printf("reference log-probs written to %s\n", o.save_logits.c_str());
    if (r.kld) {
      const compress::KldResult& k = *r.kld;
      std::printf("KL divergence vs %s (%s, %lld tokens):\n", o.kld_base.c_str(),
                  k.exact ? "full distribution" : "top-K + rest bucket: a lower bound",
                  static_cast<long long>(k.n_tokens));
      std::printf("  PPL(base)               : %.4f\n", k.ppl_base);
      std::printf("  ln(PPL / PPL(base))     : %.6f +/- %.6f\n", k.ln_ppl_ratio.mean,
                  k.ln_ppl_ratio.err);
      std::printf("  Mean KLD                : %.6f +/- %.6f\n", k.kld.mean, k.kld.err);
      std::printf("  Median KLD              : %.6f\n", k.kld_median);
      std::printf("  99%% KLD                 : %.6f\n", k.kld_p99);
      std::printf("  Max KLD                 : %.6f\n", k.kld_max);
      std::printf("  Same top-1              : %.3f +/- %.3f %%\n", 100 * k.top1_agree.mean,
                  100 * k.top1_agree.err);
      std::printf("  Mean delta-p            : %.3f +/- %.3f %%\n", 100 * k.delta_p.mean,
                  100 * k.delta_p.err);
      std::printf("  RMS delta-p             : %.3f %%\n", 100 * k.delta_p_rms);
    }
  });
}

}  // namespace vigil::cli
