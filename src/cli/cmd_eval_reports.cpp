// vigil eval-reports: fact recall and hallucination rate of an event-report model on a held-out
// set (training/corpus.py heldout), generated greedily by our engine. See docs/REPORT_FORMAT.md.
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <memory>

#include "base/error.h"
#include "base/file.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "fusion/report_eval.h"

namespace vigil::cli {

// register_eval_reports is declared in commands.h.

void register_eval_reports(CLI::App& app) {
  auto* cmd = app.add_subcommand("eval-reports",
                                 "Generate event reports for a held-out set and check their facts");
  auto model = std::make_shared<ModelOptions>();
  auto set = std::make_shared<std::string>();
  auto vocab = std::make_shared<std::string>();
  auto n = std::make_shared<int>(500);
  auto max_tokens = std::make_shared<int>(256);
  auto json = std::make_shared<bool>(false);
  auto items = std::make_shared<bool>(false);
  auto out = std::make_shared<std::string>();
  auto quiet = std::make_shared<bool>(false);
  model->add(*cmd);
  cmd->add_option("--set", *set, "Held-out JSONL (python3 training/corpus.py heldout ...)")
      ->required();
  cmd->add_option("--vocab", *vocab,
                  "Zone/class vocabulary JSON (default: vocab.json next to the set)");
  cmd->add_option("-n,--items", *n, "Items to evaluate (0 = all)")->check(CLI::Range(0, 1 << 30));
  cmd->add_option("--max-tokens", *max_tokens, "Token limit per report")
      ->check(CLI::Range(1, 1 << 16));
  cmd->add_flag("--json", *json, "Print the metrics as JSON instead of a table");
  cmd->add_flag("--items-out", *items, "With --json: include every report and its check");
  cmd->add_option("-o,--out", *out, "Also write the JSON result (with every item) to this file");
  cmd->add_flag("-q,--quiet", *quiet, "No progress on stderr");
  cmd->callback([=] {
    namespace fs = std::filesystem;
    const std::string vocab_path =
        vocab->empty() ? (fs::path(*set).parent_path() / "vocab.json").string() : *vocab;
    const fusion::ReportChecker checker(fusion::ReportVocabulary::load(vocab_path));
    const auto heldout = fusion::load_heldout(*set, static_cast<size_t>(*n));
    if (heldout.empty()) fail("{}: no items", *set);
    // Prompts carry local times: build them in the zone the set was made in (training: UTC).
    const std::string tz = heldout.front().tz;
    for (const auto& item : heldout) {
      if (item.tz != tz)
        fail("{}: items use different time zones ('{}' and '{}')", *set, tz, item.tz);
    }
    if (!tz.empty()) {
      ::setenv("TZ", tz.c_str(), 1);
      ::tzset();
    }
    EngineOptions eo = model->engine_options();
    if (eo.n_ctx == 0) eo.n_ctx = 1024;
    Engine engine(eo);
    const auto result = fusion::evaluate_reports(
        engine, heldout, checker, *max_tokens, [&](size_t i, const fusion::EvalItemResult& r) {
          if (*quiet) return;
          std::fprintf(stderr, "\r[%zu/%zu] %-14s %s", i + 1, heldout.size(), r.group.c_str(),
                       r.check.hallucinations.empty() ? "ok        " : "halluc.   ");
          std::fflush(stderr);
        });
    if (!*quiet) std::fputc('\n', stderr);
    if (!out->empty()) write_file_atomic(*out, result.to_json(true).dump(2) + "\n");
    if (*json) {
      std::printf("%s\n", result.to_json(*items).dump(2).c_str());
    } else {
      std::printf("%s\n", result.to_text().c_str());
    }
  });
}

}  // namespace vigil::cli
