#include "fusion/run.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <opencv2/videoio.hpp>
#include <thread>

#include "base/error.h"
#include "base/file.h"
#include "base/log.h"
#include "base/units.h"
#include "fusion/alerts.h"
#include "fusion/generator.h"
#include "fusion/report_html.h"
#include "fusion/store.h"
#include "fusion/summarizer.h"
#include "vision/annotate.h"
#include "vision/pipeline.h"

namespace vigil::fusion {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Skips the first `skip` frames of a source (a resumed run continues where the killed one
// stopped; sources cannot seek, so the frames are read and dropped).
class SkippingSource : public vision::FrameSource {
 public:
  SkippingSource(std::unique_ptr<vision::FrameSource> inner, int64_t skip)
      : inner_(std::move(inner)), skip_(skip) {}
  vision::ReadStatus read(vision::Frame& frame) override {
    while (skipped_ < skip_) {
      const vision::ReadStatus s = inner_->read(frame);
      if (s != vision::ReadStatus::kFrame) return s;
      ++skipped_;
    }
    return inner_->read(frame);
  }
  const std::string& last_error() const override { return inner_->last_error(); }
  vision::SourceKind kind() const override { return inner_->kind(); }
  double fps() const override { return inner_->fps(); }
  void interrupt() override { inner_->interrupt(); }
  const vision::SourceCounters& counters() const override { return inner_->counters(); }

 private:
  std::unique_ptr<vision::FrameSource> inner_;
  int64_t skip_;
  int64_t skipped_ = 0;
};

cv::VideoWriter open_video(const std::string& path, double fps, cv::Size size) {
  cv::VideoWriter writer;
  for (const char* c : {"mp4v", "MJPG"}) {
    if (writer.open(path, cv::CAP_FFMPEG, cv::VideoWriter::fourcc(c[0], c[1], c[2], c[3]),
                    fps > 0 ? fps : 10, size)) {
      return writer;
    }
  }
  spdlog::warn("annotated video {}: no encoder could open it; continuing without video", path);
  return writer;
}

nlohmann::json event_line(const StoredEvent& e) {
  nlohmann::json j = e.event;
  j["event_id"] = e.event.id;
  j["id"] = e.id;
  j["run_id"] = e.run_id;
  j["severity"] = std::string(severity_name(e.severity));
  j["detected_unix"] = e.detected_unix;
  j["report"] = e.report;
  j["report_status"] = std::string(report_status_name(e.report_status));
  return j;
}

}  // namespace

std::string store_path(const RunConfig& config, const std::string& out_dir) {
  const fs::path p(config.store.path);
  return p.is_absolute() ? p.string() : (fs::path(out_dir) / p).string();
}

std::vector<std::string> write_run_outputs(const RunConfig& config, const std::string& out_dir,
                                           const std::string& db_path, const std::string& summary,
                                           const std::vector<StageLatency>& latency,
                                           const std::string& video_file) {
  EventStore::Options so;
  so.path = db_path;
  so.create = false;
  EventStore store(so);
  const std::vector<StoredEvent> events = store.events(EventQuery{});
  std::vector<std::string> files;
  {
    std::string jsonl;
    for (const auto& e : events) jsonl += event_line(e).dump() + "\n";
    const std::string path = (fs::path(out_dir) / "events.jsonl").string();
    write_file_atomic(path, jsonl);
    files.push_back(path);
  }
  {
    HtmlReportInput in;
    in.site = config.site;
    in.title = "vigil run: " + vision::redact_uri(config.vision.source.uri);
    in.summary = summary;
    in.events = events;
    in.shift_reports = store.reports("shift");
    in.latency = latency;
    in.video_file = video_file;
    const std::string path = (fs::path(out_dir) / "report.html").string();
    write_file_atomic(path, render_html_report(in));
    files.push_back(path);
  }
  return files;
}

SummarizerOptions summarizer_options(const RunConfig& config, const std::string& model_path) {
  SummarizerOptions o;
  o.site = config.site;
  o.max_tokens = config.llm.max_tokens;
  o.queue = config.llm.queue;
  o.burst_window_s = config.llm.burst_window_s;
  o.max_burst = config.llm.max_burst;
  o.shift_minutes = config.llm.shift_minutes;
  o.verify = is_bundled_model(model_path);
  o.alias_zones = o.verify;
  for (const auto& z : config.vision.zones) o.zones.push_back(z.name);
  o.classes = config.class_names();
  return o;
}

RunSummary run_site(const RunConfig& config, const RunOptions& options) {
  RunSummary summary;
  const auto t_start = Clock::now();
  std::error_code ec;
  fs::create_directories(options.out_dir, ec);
  if (ec) fail("--out {}: cannot create the folder ({})", options.out_dir, ec.message());
  if (config.vision.source.uri.empty()) {
    fail("{}: no video source (set source.uri in the config or pass --source)",
         config.path.empty() ? "config" : config.path);
  }

  // The store first: a bad --out or a locked/newer database fails before anything starts.
  EventStore::Options so;
  so.path = store_path(config, options.out_dir);
  so.synchronous_full = config.store.synchronous_full;
  so.retention_days = config.store.retention_days;
  so.max_bytes = static_cast<uint64_t>(config.store.max_mb * 1024 * 1024);
  EventStore store(so);
  if (auto r = store.enforce_retention(unix_now()); r.events_deleted > 0) {
    spdlog::warn("store {}: retention removed {} old event(s) and {} snapshot(s)", so.path,
                 r.events_deleted, r.snapshots_deleted);
  }
  const std::string source_key = config.vision.source.uri;
  summary.run_id = store.begin_run(source_key, unix_now());
  const std::string& run_id = summary.run_id;
  summary.skipped_frames = options.resume ? store.resume_frame(source_key, run_id) : 0;

  vision::VisionConfig vc = config.vision;
  const fs::path snapshot_root = vc.pipeline.snapshot_dir.empty()
                                     ? fs::path(options.out_dir) / "snapshots"
                                     : fs::path(vc.pipeline.snapshot_dir);
  vc.pipeline.snapshot_dir = (snapshot_root / run_id).string();
  std::unique_ptr<vision::FrameSource> source = vision::open_source(vc.source);
  const double stream_fps = source->fps();
  if (summary.skipped_frames > 0) {
    spdlog::warn("resuming {}: an earlier run stopped after {} frames; continuing from there",
                 vision::redact_uri(source_key), summary.skipped_frames);
    source = std::make_unique<SkippingSource>(std::move(source), summary.skipped_frames);
  }
  std::unique_ptr<vision::Detector> detector = vision::make_detector(vc.detector);

  // The model (seconds for a large one) before the video starts, so events never wait on it.
  summary.model = !options.model.empty()      ? options.model
                  : !config.llm.model.empty() ? config.llm.model
                                              : default_model_path();
  RunHooks no_hooks;
  RunHooks& hooks = options.hooks != nullptr ? *options.hooks : no_hooks;
  std::unique_ptr<TextGenerator> generator = hooks.make_generator(summary.model);
  if (!generator) {
    generator =
        std::make_unique<EngineGenerator>(summary.model, config.llm.threads, config.llm.ctx);
  }
  const std::string model_description = generator->describe();

  const SummarizerOptions sopt = summarizer_options(config, summary.model);
  // The hub outlives the summarizer (declared first): the worker calls it until joined.
  AlertHub alerts(config, store, (fs::path(options.out_dir) / "alerts").string(), run_id);
  Summarizer summarizer(store, std::move(generator), sopt);
  summarizer.add_listener(&alerts);
  hooks.on_start(store, summarizer, run_id, snapshot_root.string());
  // Whatever the hooks attached to the store is detached before the store closes on a failure.
  struct AbortHooks {
    RunHooks& hooks;
    bool finished = false;
    ~AbortHooks() {
      if (!finished) hooks.on_abort();
    }
  } abort_hooks{hooks};
  alerts.start();
  summarizer.start();

  // Events a killed run committed but never reported come first.
  for (const StoredEvent& e : store.pending_reports()) {
    summarizer.submit(e);
    ++summary.pending_resumed;
  }
  if (summary.pending_resumed > 0) {
    spdlog::warn("store {}: {} event(s) of an earlier run had no report yet; reporting them now",
                 so.path, summary.pending_resumed);
  }

  vision::Pipeline pipeline(vc, std::move(source), std::move(detector), /*keep_results=*/true);
  const std::vector<std::string> class_names = pipeline.class_names();

  // Intake: every event record is committed, then announced (alerts, summarizer).
  std::atomic<int64_t> received{0};
  std::atomic<bool> intake_busy{false};
  std::thread intake([&] {
    while (auto e = pipeline.events().pop()) {
      intake_busy = true;
      try {
        const Severity severity = config.alerts.for_rule(e->rule).severity;
        bool inserted = false;
        const StoredEvent stored = store.record(run_id, *e, severity, unix_now(), &inserted);
        alerts.on_event(stored);
        hooks.on_event(stored);
        if (inserted) summarizer.submit(stored);
      } catch (const std::exception& error) {
        spdlog::error("event {}: not stored: {}", e->id, error.what());
      }
      ++received;
      intake_busy = false;
    }
  });

  // On an exception below, the pipeline stops and the intake thread is joined (never left
  // running past the objects it uses).
  struct IntakeGuard {
    vision::Pipeline& pipeline;
    std::thread& thread;
    ~IntakeGuard() {
      if (thread.joinable()) {
        pipeline.stop();
        thread.join();
      }
    }
  } intake_guard{pipeline, intake};

  std::fprintf(stderr, "vigil run: %s -> %s (run %s)\n  model: %s\n",
               vision::redact_uri(source_key).c_str(), options.out_dir.c_str(), run_id.c_str(),
               model_description.c_str());
  if (!is_bundled_model(summary.model)) {
    std::fprintf(stderr,
                 "  note: not the bundled report model (models/vigil-default-q8_0.gguf); "
                 "reports are whatever this model writes\n");
  }

  const bool tty = options.status_line && isatty(STDERR_FILENO);
  const std::string video_name = summary.skipped_frames > 0
                                     ? fmt::format("annotated-{}.mkv", run_id)
                                     : std::string("annotated.mkv");
  const std::string video_path = (fs::path(options.out_dir) / video_name).string();
  cv::VideoWriter writer;
  bool video_failed = false;
  int64_t frames = 0;
  int tracks_now = 0;
  double last_stream_s = 0;
  bool stopped_early = false;
  auto last_status = Clock::now();
  auto status_line = [&](bool final_line) {
    const SummarizerStats s = summarizer.stats();
    const double elapsed = seconds_since(t_start);
    const std::string line = fmt::format(
        "frame {} ({:.1f} s) {:.1f} fps | tracks {} | events {} | reports {} | llm queue {}{} | "
        "alerts queued {}",
        summary.skipped_frames + frames, last_stream_s, elapsed > 0 ? frames / elapsed : 0.0,
        tracks_now, received.load(), s.reports, s.queue.depth, s.busy ? " (busy)" : "",
        alerts.queued());
    if (tty) {
      std::fprintf(stderr, "\r%s\033[K%s", line.c_str(), final_line ? "\n" : "");
    } else {
      std::fprintf(stderr, "vigil run: %s\n", line.c_str());
    }
    std::fflush(stderr);
  };
  // Progress is committed only once every event of the frames before it is committed (events
  // are queued before their frame's result, so an empty queue and an idle intake suffice).
  auto checkpoint = [&] {
    for (int i = 0; i < 2000 && (pipeline.events().size() > 0 || intake_busy.load()); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    store.set_run_progress(run_id, summary.skipped_frames + frames);
  };

  pipeline.start();
  while (auto result = pipeline.next_result()) {
    ++frames;
    tracks_now = static_cast<int>(result->tracks.size());
    last_stream_s = result->frame.timestamp_s;
    const bool want_video = options.write_video && !video_failed;
    if (want_video && !writer.isOpened()) {
      writer = open_video(video_path, stream_fps, result->frame.image.size());
      video_failed = !writer.isOpened();
    }
    if (writer.isOpened() || hooks.wants_frames()) {
      vision::annotate(result->frame.image, *result, class_names);
      if (writer.isOpened()) writer.write(result->frame.image);
      if (hooks.wants_frames()) hooks.on_frame(result->frame.image);
    }
    if (frames % 25 == 0) checkpoint();
    if (tty && seconds_since(last_status) >= 0.25) {
      status_line(false);
      last_status = Clock::now();
    } else if (!tty && options.status_line &&
               seconds_since(last_status) >= options.status_every_s) {
      status_line(false);
      last_status = Clock::now();
    }
    if (options.max_seconds > 0 && result->frame.timestamp_s >= options.max_seconds) {
      stopped_early = true;
      break;
    }
    if (options.interrupt != nullptr && options.interrupt->load()) {
      stopped_early = true;
      break;
    }
  }
  const std::string source_error = pipeline.error();
  pipeline.stop();
  intake.join();
  checkpoint();
  writer.release();
  summary.frames = frames;
  summary.seconds = seconds_since(t_start);
  summary.fps = summary.seconds > 0 ? frames / summary.seconds : 0;
  summary.events = received.load();
  summary.source_finished = !stopped_early && source_error.empty();
  if (!source_error.empty()) spdlog::error("source: {}", source_error);

  // Reports for everything queued, then the channels get a few seconds to deliver.
  summarizer.finish();
  if (options.status_line) status_line(true);
  alerts.stop(3.0);
  store.end_run(run_id, summary.source_finished, unix_now());

  const SummarizerStats ss = summarizer.stats();
  summary.reports = static_cast<int64_t>(ss.reports);
  summary.template_reports = static_cast<int64_t>(ss.template_reports);
  summary.dropped_reports = static_cast<int64_t>(ss.queue.dropped);
  summary.events_stored = store.count(EventQuery{});
  summary.latency = summarize_latency(store.latencies(run_id));

  std::string text = fmt::format(
      "run {}: {} frames in {:.1f} s ({:.1f} frames/s{}), {} event records, {} reports ({} by "
      "template), {} events without a report (back-pressure), {} events in the store\nmodel: {}\n",
      run_id, frames, summary.seconds, summary.fps,
      summary.skipped_frames > 0 ? fmt::format(", resumed after frame {}", summary.skipped_frames)
                                 : "",
      summary.events, summary.reports, summary.template_reports, summary.dropped_reports,
      summary.events_stored, model_description);
  for (const auto& c : alerts.channel_stats()) {
    text +=
        fmt::format("{}: {} delivered, {} failed attempts, {} given up, {} dropped{}\n", c.name,
                    c.stats.delivered, c.stats.failed_attempts, c.stats.given_up, c.stats.dropped,
                    c.stats.last_error.empty() ? "" : " (last error: " + c.stats.last_error + ")");
  }
  const SpeechStats sp = alerts.speech_stats();
  if (config.alerts.speech.enabled) {
    text += fmt::format("speech: {} spoken alerts ({} sentences){}\n", sp.reports, sp.sentences,
                        sp.error.empty() ? "" : " — off: " + sp.error);
  }
  text += latency_table(summary.latency);

  const std::string latency_path = (fs::path(options.out_dir) / "latency.json").string();
  nlohmann::json lat = latency_json(summary.latency);
  lat["run_id"] = run_id;
  lat["model"] = summary.model;
  write_file_atomic(latency_path, lat.dump(2) + "\n");
  summary.files = write_run_outputs(config, options.out_dir, so.path, text, summary.latency,
                                    writer.isOpened() || !video_failed ? video_name : "");
  summary.files.push_back(so.path);
  summary.files.push_back(latency_path);
  if (options.write_video && !video_failed && frames > 0) summary.files.push_back(video_path);
  for (const auto& w : sp.wav_files) summary.files.push_back(w);
  std::fprintf(stdout, "%s", text.c_str());
  std::fflush(stdout);
  abort_hooks.finished = true;
  hooks.on_finish(summary);
  return summary;
}

}  // namespace vigil::fusion
