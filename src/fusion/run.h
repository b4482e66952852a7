// `vigil run`: the main job, wired end to end.
//
//   source -> vision::Pipeline (decode + perception threads) --events--> intake thread:
//     store.record() (commit) -> alerts.on_event() -> summarizer.submit()
//   summarizer thread (owns the model) -> reports -> store (commit) -> alerts (console,
//     speech, webhook, MQTT: one thread each)
//   main thread: results -> annotated video, status line, progress checkpoints
//
// Output folder: events.jsonl, the SQLite store (store.path), report.html, latency.json,
// alerts/*.wav, snapshots/<run id>/*.jpg and the annotated video (annotated.mkv; Matroska so a
// killed run still leaves a playable file).
//
// Resuming: the store remembers how many frames each run of a source processed. When the last
// run of the same source did not reach its end (killed), a new run skips those frames and
// continues, and events a killed run stored but never reported are reported first.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "fusion/config.h"
#include "fusion/generator.h"
#include "fusion/latency.h"
#include "fusion/summarizer.h"

namespace cv {
class Mat;
}

namespace vigil::fusion {

class EventStore;
struct RunSummary;
struct StoredEvent;

// Attach points for embedding a run in something larger (`vigil run --serve` attaches the HTTP
// server with them, src/server). Every method has a do-nothing default; each is called on the
// thread named, and must not throw.
class RunHooks {
 public:
  virtual ~RunHooks() = default;
  // The report generator to use instead of loading `model_path` (null: load it). Main thread,
  // once, before the video starts.
  virtual std::unique_ptr<TextGenerator> make_generator(const std::string& model_path) {
    (void)model_path;
    return nullptr;
  }
  // The store and summarizer exist; neither the summarizer nor the source has started (add
  // summarizer listeners here). `snapshot_root`: the folder every snapshot of the store lies
  // under. Main thread.
  virtual void on_start(const EventStore& store, Summarizer& summarizer, const std::string& run_id,
                        const std::string& snapshot_root) {
    (void)store, (void)summarizer, (void)run_id, (void)snapshot_root;
  }
  // Every event record, after it is committed (intake thread).
  virtual void on_event(const StoredEvent& event) { (void)event; }
  // Annotated frames (BGR), when wants_frames(). Main thread; must not keep a reference.
  virtual bool wants_frames() const { return false; }
  virtual void on_frame(const cv::Mat& annotated) { (void)annotated; }
  // The run is over and its outputs are written; the store is still open. May block (a server
  // keeps serving until it is told to stop). Main thread.
  virtual void on_finish(const RunSummary& summary) { (void)summary; }
  // The run failed with an exception after on_start(); the store closes when this returns.
  virtual void on_abort() {}
};

struct RunOptions {
  std::string out_dir = "out/run";
  std::string model;       // "" = llm.model, else the default model
  double max_seconds = 0;  // stop after this much stream time (0 = the whole source)
  bool resume = true;      // continue a killed run of the same source
  bool write_video = true;
  bool status_line = true;     // live status on stderr when it is a terminal, log lines otherwise
  double status_every_s = 10;  // log-line period when stderr is not a terminal
  std::atomic<bool>* interrupt = nullptr;  // set (e.g. by SIGINT) to stop early
  RunHooks* hooks = nullptr;               // optional; must outlive run_site()
};

struct RunSummary {
  std::string run_id;
  std::string model;
  int64_t frames = 0;
  int64_t skipped_frames = 0;  // resumed: frames earlier runs had done
  double seconds = 0;
  double fps = 0;
  int64_t events = 0;         // event records received this run (starts + ends)
  int64_t events_stored = 0;  // distinct events in the store (all runs)
  int64_t reports = 0;
  int64_t template_reports = 0;
  int64_t pending_resumed = 0;  // unreported events of a killed run, reported now
  int64_t dropped_reports = 0;
  bool source_finished = false;
  std::vector<StageLatency> latency;
  std::vector<std::string> files;  // outputs written
};

// Runs the site until the source ends, max_seconds, or an interrupt. Throws vigil::Error when
// something cannot start (bad source, model, output folder); failures of single alert channels
// are logged and counted instead.
RunSummary run_site(const RunConfig& config, const RunOptions& options);

// Writes events.jsonl (every stored event, with its report) and report.html for the store in
// `out_dir` (also used at the end of run_site).
std::vector<std::string> write_run_outputs(const RunConfig& config, const std::string& out_dir,
                                           const std::string& db_path, const std::string& summary,
                                           const std::vector<StageLatency>& latency,
                                           const std::string& video_file);

// A site's summarizer settings (site, llm section, zone and class names); the fact check and
// the zone aliases are on for the bundled model (`model_path`).
SummarizerOptions summarizer_options(const RunConfig& config, const std::string& model_path);

// The store path of a run: store.path, relative to the output folder unless absolute.
std::string store_path(const RunConfig& config, const std::string& out_dir);

}  // namespace vigil::fusion
