// vigil run: the main job — video -> perception -> events -> store -> LLM reports -> alerts
// (console, speech, webhook, MQTT) -> events.jsonl, report.html, WAV files and the annotated
// video in the output folder. The work is fusion::run_site (src/fusion/run.h); this file maps
// the command line onto it. `vigil ask` (cmd_ask.cpp) is registered from here as well.
#include <atomic>
#include <csignal>
#include <filesystem>
#include <memory>

#include "base/error.h"
#include "cli/commands.h"
#include "fusion/config.h"
#include "fusion/run.h"
#include "server/run_hooks.h"

namespace vigil::cli {

namespace {

std::atomic<bool> g_interrupted{false};

extern "C" void on_interrupt(int) {
  g_interrupted.store(true);
}

}  // namespace

// The site file used without --config: configs/demo.yaml here, else in the source tree.
std::string default_site_config() {
  namespace fs = std::filesystem;
  if (fs::exists("configs/demo.yaml")) return "configs/demo.yaml";
  const fs::path in_tree = fs::path(VIGIL_SOURCE_DIR) / "configs" / "demo.yaml";
  if (fs::exists(in_tree)) return in_tree.string();
  fail_usage("no configs/demo.yaml here or in {}; pass --config", VIGIL_SOURCE_DIR);
}

void register_run(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "run",
      "The main job: video -> events -> LLM reports -> spoken alerts (see docs/DECISION.md)");
  struct Opts {
    std::string config;
    std::string source;
    std::string out = "out/run";
    std::string model;
    double max_seconds = 0;
    bool realtime = false;
    bool play = false;
    bool no_video = false;
    bool no_resume = false;
    bool quiet = false;
    int threads = -1;
    bool serve = false;
    bool exit_at_end = false;
    server::RunServerOptions serving;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--config", o->config, "Site configuration (default: configs/demo.yaml)");
  cmd->add_option("--source", o->source,
                  "Video file, stream URL, camera or image folder "
                  "(overrides source.uri)");
  cmd->add_option("--out", o->out, "Output folder (events.jsonl, store, report.html, WAV, video)")
      ->capture_default_str();
  cmd->add_option("-m,--model", o->model,
                  "GGUF report model (default: llm.model, else the "
                  "bundled model, else the shared test model)");
  cmd->add_option("--max-seconds", o->max_seconds, "Stop after this much stream time (s)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--realtime", o->realtime, "Pace a file to its timestamps, like a camera");
  cmd->add_flag("--play", o->play, "Also play spoken alerts (ALSA)");
  cmd->add_flag("--no-video", o->no_video, "Do not write the annotated video");
  cmd->add_flag("--no-resume", o->no_resume,
                "Start the source from the beginning even if a killed run stopped midway");
  cmd->add_flag("-q,--quiet", o->quiet, "No status line");
  cmd->add_option("-t,--threads", o->threads, "LLM compute threads (overrides llm.threads)");
  // --serve: the HTTP server (docs/SERVER.md) on the same model, live while the run goes on.
  CLI::Option* serve_flag =
      cmd->add_flag("--serve", o->serve,
                    "Serve the dashboard, event API and OpenAI API while running (docs/SERVER.md); "
                    "after the source ends, keep serving until Ctrl-C");
  cmd->add_flag("--exit-at-end", o->exit_at_end, "With --serve: stop when the source ends")
      ->needs(serve_flag);
  cmd->add_option("--host", o->serving.server.host,
                  "With --serve: address to bind (non-loopback needs --api-key)")
      ->capture_default_str()
      ->needs(serve_flag);
  cmd->add_option("--port", o->serving.server.port, "With --serve: port (0 = any free port)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535))
      ->needs(serve_flag);
  cmd->add_option("--api-key", o->serving.server.api_key,
                  "With --serve: require 'Authorization: Bearer KEY' (default: $VIGIL_API_KEY)")
      ->envname("VIGIL_API_KEY");
  cmd->add_option("--web-root", o->serving.server.web_root,
                  "With --serve: dashboard files from this folder instead of the embedded copy")
      ->needs(serve_flag);
  cmd->add_option("--parallel", o->serving.parallel,
                  "With --serve: sequences decoded together (reports, answers, API requests)")
      ->capture_default_str()
      ->check(CLI::Range(1, 64))
      ->needs(serve_flag);
  cmd->callback([o] {
    const std::string config_path = o->config.empty() ? default_site_config() : o->config;
    fusion::RunConfig config = fusion::load_run_config(config_path);
    if (!o->source.empty()) config.vision.source.uri = o->source;
    if (o->realtime) config.vision.source.realtime = true;
    if (o->play) config.alerts.speech.play = true;
    if (o->threads >= 0) config.llm.threads = o->threads;
    fusion::RunOptions ro;
    ro.out_dir = o->out;
    ro.model = o->model;
    ro.max_seconds = o->max_seconds;
    ro.resume = !o->no_resume;
    ro.write_video = !o->no_video;
    ro.status_line = !o->quiet;
    ro.interrupt = &g_interrupted;
    std::unique_ptr<server::RunServer> serving;
    if (o->serve) {
      server::RunServerOptions so = o->serving;
      so.threads = config.llm.threads;
      so.ctx = config.llm.ctx;
      so.serve_after_end = !o->exit_at_end;
      so.stop = &g_interrupted;
      serving = std::make_unique<server::RunServer>(config, so);
      ro.hooks = serving.get();
    }
    std::signal(SIGINT, on_interrupt);
    std::signal(SIGTERM, on_interrupt);
    fusion::run_site(config, ro);
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);
  });
}

}  // namespace vigil::cli
