// Subcommand registration. Each command lives in its own cmd_<name>.cpp and adds itself to the
// app; its callback does the work. Errors are thrown as vigil::Error (exit 1) or
// vigil::UsageError (exit 2); main() prints them on stderr as one line.
#pragma once

#include <CLI/CLI.hpp>

namespace vigil::cli {

void register_inspect(CLI::App& app);
void register_tokenize(CLI::App& app);    // tokenize and detokenize
void register_generate(CLI::App& app);  // generate, chat, eval
void register_bench(CLI::App& app);     // bench, synth
void register_vision(CLI::App& app);    // detect, mot-eval
void register_speech(CLI::App& app);    // listen, say
void register_run(CLI::App& app);
void register_ask(CLI::App& app);           // operator questions (fusion)
void register_eval_reports(CLI::App& app);  // report fact check (fusion)
void register_serve(CLI::App& app);  // HTTP API, event API, dashboard
void register_perplexity(CLI::App& app);  // perplexity, KL divergence (compress)
void register_imatrix(CLI::App& app);     // importance matrix collection (compress)
void register_prune(CLI::App& app);       // structured pruning (compress)
void register_quantize(CLI::App& app);    // GGUF quantization (compress)

}  // namespace vigil::cli
