// vigil imatrix: collect an importance matrix (llama.cpp imatrix.dat) from calibration text (see
// llm/compress/imatrix.h).
#include <chrono>
#include <cstdio>
#include <memory>

#include "base/error.h"
#include "base/file.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "llm/compress/imatrix.h"
#include "llm/compress/imatrix_file.h"
#include "llm/compress/perplexity.h"

namespace vigil::cli {

void register_imatrix(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "imatrix",
      "Collect an importance matrix (sum of squared activations per input column of "
      "every linear layer) from calibration text, in llama.cpp's imatrix.dat format");
  auto model = std::make_shared<ModelOptions>();
  auto calib = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>("imatrix.dat");
  auto chunks = std::make_shared<int32_t>(0);
  auto process_output = std::make_shared<bool>(false);
  model->add(*cmd);  // its --ctx is the window size here (default 512)
  cmd->add_option("-f,--file", *calib, "Calibration text file")->required();
  cmd->add_option("-o,--output", *out, "Output imatrix file (default imatrix.dat)");
  cmd->add_option("--chunks", *chunks, "Use at most this many windows (0 = all)")
      ->check(CLI::Range(0, 1 << 30));
  cmd->add_flag("--process-output", *process_output,
                "Also collect output.weight (llama.cpp's flag)");
  cmd->callback([=] {
    compress::ImatrixOptions o;
    o.n_ctx = model->ctx > 0 ? model->ctx : 512;
    o.max_chunks = *chunks;
    EngineOptions eo = model->engine_options();
    eo.n_ctx = o.n_ctx;
    Engine engine(eo);
    if (!engine.model().has_tokenizer()) fail("{}: the model has no tokenizer", eo.model_path);
    const Tokenizer& tok = engine.tokenizer();
    const std::vector<int32_t> tokens = compress::tokenize_text(tok, read_file(*calib));
    std::fprintf(stderr, "imatrix: %s: %zu tokens, windows of %d tokens\n", calib->c_str(),
                 tokens.size(), o.n_ctx);
    compress::ImatrixCollector collector(*process_output);
    const auto t0 = std::chrono::steady_clock::now();
    compress::collect_imatrix(
        engine.context(), tokens, tok.add_bos() ? tok.bos() : -1, o, collector,
        [&](int32_t done, int32_t total) {
          const double s =
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
          std::fprintf(stderr, "[%d/%d] %.1f s\n", done, total, s);
        });
    const compress::ImportanceMatrix m = collector.to_imatrix(*calib);
    compress::save_imatrix(m, *out);
    std::printf("wrote %zu entries (%d chunks) to %s\n", m.entries.size(), m.last_call,
                out->c_str());
  });
}

}  // namespace vigil::cli
