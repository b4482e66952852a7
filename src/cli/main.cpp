// vigil: see, understand, speak. Entry point: parses the command line and maps errors to exit
// codes (0 ok, 1 runtime error, 2 usage error).
#include <cstdio>
#include <exception>

#include "base/base.h"
#include "cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"vigil — edge perception, layer-wise LLM inference and voice, offline"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "vigil 0.1.0");
  vigil::init_logging(0);
  app.add_flag_function(
      "-v,--verbose", [](int64_t count) { vigil::init_logging(static_cast<int>(count)); },
      "More log output (-v info, -vv debug)");

  vigil::cli::register_inspect(app);
  vigil::cli::register_tokenize(app);
  vigil::cli::register_generate(app);
  vigil::cli::register_bench(app);
  vigil::cli::register_vision(app);
  vigil::cli::register_speech(app);
  vigil::cli::register_run(app);
  vigil::cli::register_ask(app);
  vigil::cli::register_eval_reports(app);
  vigil::cli::register_serve(app);
  vigil::cli::register_perplexity(app);
  vigil::cli::register_imatrix(app);
  vigil::cli::register_prune(app);
  vigil::cli::register_quantize(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "vigil: error: %s (see --help)\n", e.what());
    return 2;
  } catch (const vigil::UsageError& e) {
    std::fprintf(stderr, "vigil: error: %s\n", e.what());
    return 2;
  } catch (const vigil::Error& e) {
    std::fprintf(stderr, "vigil: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vigil: internal error: %s\n", e.what());
    return 1;
  }
  return 0;
}
