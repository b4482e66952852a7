// vigil serve: the HTTP server (src/server/server.h, docs/SERVER.md) on its own — the
// OpenAI-compatible API over one model, and, with --config, the event API, questions and the
// dashboard over a run's event store. --replay feeds recorded perception events into the store
// through the real summarizer, so the dashboard can be watched (and tested) without a camera.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <memory>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>
#include <thread>

#include "base/error.h"
#include "base/log.h"
#include "base/units.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "fusion/config.h"
#include "fusion/run.h"
#include "fusion/store.h"
#include "fusion/summarizer.h"
#include "server/fusion_adapter.h"
#include "server/server.h"
#include "vision/event.h"

namespace vigil::cli {

std::string default_site_config();  // cmd_run.cpp

namespace {

std::atomic<bool> g_stop{false};
extern "C" void on_stop_signal(int) {
  g_stop.store(true);
}

// Sleeps up to `seconds`, returning early (false) when asked to stop.
bool sleep_unless_stopped(double seconds, const std::atomic<bool>& stop) {
  const auto until = std::chrono::steady_clock::now() +
                     std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                         std::chrono::duration<double>(seconds));
  while (std::chrono::steady_clock::now() < until) {
    if (stop.load()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return !stop.load();
}

// Perception records from a JSON-lines file: `vision --events-out` lines, or a run's
// events.jsonl (whose "id" is the store id and "event_id" the perception id).
std::vector<vision::Event> read_event_lines(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail("--replay {}: cannot open the file", path);
  std::vector<vision::Event> events;
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) fail("{}:{}: not a JSON object", path, line_no);
    if (j.contains("event_id") && j["event_id"].is_string()) j["id"] = j["event_id"];
    try {
      events.push_back(j.get<vision::Event>());
    } catch (const std::exception& e) {
      fail("{}:{}: {}", path, line_no, e.what());
    }
  }
  if (events.empty()) fail("--replay {}: no events in the file", path);
  return events;
}

}  // namespace

void register_serve(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "serve", "HTTP server: OpenAI-compatible API, event API and dashboard (docs/SERVER.md)");
  struct Opts {
    std::string model;
    std::string config;
    std::string out = "out/run";
    std::string db;
    std::string replay;
    std::string video;
    double replay_interval = 2.0;
    bool replay_loop = false;
    server::ServerOptions server;
    int threads = -1;
    int ctx = 2048;
    int parallel = 4;
    bool no_speech = false;
    std::string mem_budget;  // empty: everything resident
    bool no_direct_io = false;
    bool mmap = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("-m,--model", o->model,
                  "GGUF model (default: llm.model of --config, else the bundled model, else "
                  "the shared test model)");
  cmd->add_option("--config", o->config,
                  "Site configuration: serve that site's event store, answer questions");
  cmd->add_option("--out", o->out, "The run folder whose event store is served (with --config)")
      ->capture_default_str();
  cmd->add_option("--db", o->db, "Event store file (overrides the one in --out)");
  cmd->add_option("--replay", o->replay,
                  "Feed these perception events (JSON lines) into the store, one every "
                  "--replay-interval seconds, reported by the model (needs --config)");
  cmd->add_option("--replay-interval", o->replay_interval, "Seconds between replayed events")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--replay-loop", o->replay_loop, "Start the replay again at its end");
  cmd->add_option("--video", o->video,
                  "With --replay: play this recording (the one the events came from) into the "
                  "live view at its frame rate; each event is recorded at its frame_index, with "
                  "a snapshot cut from that frame");
  cmd->add_option("--host", o->server.host, "Address to bind (non-loopback needs --api-key)")
      ->capture_default_str();
  cmd->add_option("--port", o->server.port, "Port (0 = any free port, printed)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--api-key", o->server.api_key,
                  "Require 'Authorization: Bearer KEY' on every endpoint (default: "
                  "$VIGIL_API_KEY)")
      ->envname("VIGIL_API_KEY");
  cmd->add_option("--cors-origin", o->server.cors_origin,
                  "Allow browser calls from this origin (default: no CORS)");
  cmd->add_option("--web-root", o->server.web_root,
                  "Serve the dashboard from this folder instead of the embedded copy");
  cmd->add_option("-t,--threads", o->threads, "LLM compute threads (default: llm.threads or all)");
  cmd->add_option("--ctx", o->ctx, "KV cache tokens per sequence")->capture_default_str();
  cmd->add_option("--parallel", o->parallel, "Requests decoded together (sequences)")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  cmd->add_option("--max-queue", o->server.max_queue, "LLM requests waiting; beyond: 503")
      ->capture_default_str();
  cmd->add_option("--max-tokens-limit", o->server.max_tokens_limit,
                  "Largest max_tokens a request may ask for")
      ->capture_default_str();
  cmd->add_option("--max-body", o->server.max_body_bytes, "Largest request body (bytes)")
      ->capture_default_str();
  cmd->add_option("--http-threads", o->server.http_threads,
                  "Connections served at once (streams hold one each)")
      ->capture_default_str();
  cmd->add_flag("--no-speech", o->no_speech, "Answer questions without synthesising speech");
  cmd->add_option("--mem-budget", o->mem_budget,
                  "Hard cap on the model's resident bytes (weights + KV + activations + I/O "
                  "buffers), e.g. 1G; layers that do not fit stream from the file (STREAMING.md)");
  cmd->add_flag("--no-direct-io", o->no_direct_io,
                "Stream with buffered reads instead of O_DIRECT");
  add_mmap_flag(*cmd, o->mmap);

  cmd->callback([o] {
    if (!o->video.empty() && o->replay.empty()) fail_usage("--video goes with --replay");
    if (!o->replay.empty() && o->config.empty()) {
      fail_usage("--replay needs --config (site name, zones and rules for the reports)");
    }
    std::unique_ptr<fusion::RunConfig> config;
    if (!o->config.empty()) {
      config = std::make_unique<fusion::RunConfig>(fusion::load_run_config(o->config));
    }
    const std::string model = !o->model.empty()                      ? o->model
                              : config && !config->llm.model.empty() ? config->llm.model
                                                                     : fusion::default_model_path();
    EngineOptions eo;
    eo.model_path = model;
    eo.n_threads = o->threads >= 0 ? o->threads : (config ? config->llm.threads : 0);
    eo.n_ctx = o->ctx;
    eo.n_seq = o->parallel;
    if (!o->mem_budget.empty()) eo.mem_budget = parse_size(o->mem_budget, "--mem-budget");
    eo.direct_io = !o->no_direct_io;
    eo.mmap = o->mmap;
    Engine engine(eo);
    server::ServerOptions so = o->server;
    so.model_name = std::filesystem::path(model).stem().string();
    server::Server srv(so, &engine);

    // The event side (with --config): the store, its live feed, questions.
    std::unique_ptr<fusion::EventStore> store;
    std::unique_ptr<server::StoreEventSource> events;
    std::unique_ptr<server::SchedulerGenerator> answer_generator;
    std::unique_ptr<server::StoreAnswerer> answerer;
    std::unique_ptr<fusion::Summarizer> summarizer;
    std::string run_id;
    std::string snapshot_dir;  // replay snapshots
    if (config) {
      fusion::EventStore::Options sto;
      sto.path = !o->db.empty() ? o->db : fusion::store_path(*config, o->out);
      sto.synchronous_full = config->store.synchronous_full;
      std::filesystem::create_directories(std::filesystem::path(sto.path).parent_path());
      store = std::make_unique<fusion::EventStore>(sto);
      const std::string snapshots = config->vision.pipeline.snapshot_dir.empty()
                                        ? (std::filesystem::path(o->out) / "snapshots").string()
                                        : config->vision.pipeline.snapshot_dir;
      events = std::make_unique<server::StoreEventSource>(*store, snapshots);
      answer_generator = std::make_unique<server::SchedulerGenerator>(*srv.scheduler(), model);
      answerer = std::make_unique<server::StoreAnswerer>(*config, *store, answer_generator.get(),
                                                         !o->no_speech);
      snapshot_dir = snapshots;
      srv.set_event_source(events.get());
      srv.set_answerer(answerer.get());
      srv.set_status_info({{"site", config->site}, {"store", sto.path}});
    }
    if (!o->replay.empty()) {
      fusion::SummarizerOptions sopt = fusion::summarizer_options(*config, model);
      sopt.shift_minutes = 0;  // a replay has no shifts
      summarizer = std::make_unique<fusion::Summarizer>(
          *store, std::make_unique<server::SchedulerGenerator>(*srv.scheduler(), model), sopt);
      summarizer->add_listener(events.get());
    }

    std::signal(SIGINT, on_stop_signal);
    std::signal(SIGTERM, on_stop_signal);
    srv.start();
    std::fprintf(stderr, "vigil serve: %s (model %s)%s\n", srv.url().c_str(), so.model_name.c_str(),
                 so.api_key.empty() ? "" : ", API key required");
    std::fflush(stderr);

    std::thread replay;
    // Whatever happens below (a bad replay file included), the replay thread is joined and the
    // server stopped before the store and the event source it reads go away.
    struct Shutdown {
      std::thread& replay;
      server::Server& srv;
      ~Shutdown() {
        g_stop.store(true);
        if (replay.joinable()) replay.join();
        srv.stop();
      }
    } shutdown{replay, srv};
    if (summarizer) {
      std::vector<vision::Event> recorded = read_event_lines(o->replay);
      std::stable_sort(recorded.begin(), recorded.end(),
                       [](const auto& a, const auto& b) { return a.frame_index < b.frame_index; });
      run_id = store->begin_run("replay:" + o->replay, unix_now());
      std::filesystem::create_directories(snapshot_dir);
      summarizer->start();
      replay = std::thread([&, recorded] {
        // Times move to now, so "in the last 10 minutes" questions see the replayed events;
        // ids get a per-loop suffix so a loop adds new events instead of updating old ones.
        int loop = 0;
        auto record_one = [&](vision::Event e, double shift, const cv::Mat* frame) {
          e.start_unix += shift;
          if (loop > 0) e.id += "-" + std::to_string(loop);
          e.snapshot_path.clear();
          if (frame != nullptr && (!e.end_s || *e.end_s == e.start_s)) {  // start or instant
            // The snapshot: the event's frame with its box, like perception writes them.
            cv::Mat snap = frame->clone();
            cv::rectangle(snap, cv::Rect2f(e.bbox.x, e.bbox.y, e.bbox.w, e.bbox.h),
                          cv::Scalar(0, 200, 255), 2);
            const std::string file =
                (std::filesystem::path(snapshot_dir) / (e.id + ".jpg")).string();
            if (cv::imwrite(file, snap)) e.snapshot_path = file;
          }
          try {
            const fusion::Severity severity = config->alerts.for_rule(e.rule).severity;
            bool inserted = false;
            const fusion::StoredEvent stored =
                store->record(run_id, e, severity, unix_now(), &inserted);
            events->on_event(stored);
            if (inserted) summarizer->submit(stored);
          } catch (const std::exception& error) {
            spdlog::error("replay: event {}: {}", e.id, error.what());
          }
        };
        do {
          const double shift = unix_now() - recorded.front().start_unix;
          if (o->video.empty()) {
            for (const vision::Event& e : recorded) {
              if (g_stop.load()) return;
              record_one(e, shift, nullptr);
              if (!sleep_unless_stopped(o->replay_interval, g_stop)) return;
            }
          } else {
            cv::VideoCapture video(o->video);
            if (!video.isOpened()) {
              spdlog::error("--video {}: cannot open it", o->video);
              return;
            }
            const double fps = video.get(cv::CAP_PROP_FPS) > 0 ? video.get(cv::CAP_PROP_FPS) : 10;
            const auto t0 = std::chrono::steady_clock::now();
            size_t next = 0;  // events are in frame order
            cv::Mat frame;
            for (int64_t index = 0; video.read(frame) && !g_stop.load(); ++index) {
              while (next < recorded.size() && recorded[next].frame_index <= index) {
                record_one(recorded[next++], shift, &frame);
              }
              cv::putText(frame, fmt::format("replay frame {}", index), {8, 20},
                          cv::FONT_HERSHEY_SIMPLEX, 0.5, cv::Scalar(255, 255, 255), 1);
              srv.live_view().push_frame(frame);
              std::this_thread::sleep_until(
                  t0 + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                           std::chrono::duration<double>((index + 1) / fps)));
            }
          }
          ++loop;
        } while (o->replay_loop && !g_stop.load());
      });
    }

    while (!g_stop.load()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::fprintf(stderr, "vigil serve: shutting down\n");
    if (replay.joinable()) replay.join();
    if (summarizer) {
      summarizer->finish();  // queued reports are written (the model is still up)
      store->end_run(run_id, true, unix_now());
    }
    srv.stop();  // requests get drain_s to finish, then are cancelled; streams end
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);
  });
}

}  // namespace vigil::cli
