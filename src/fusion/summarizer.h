// The summarizer: one worker thread that owns the text model and turns committed events into
// reports.
//
//   intake --submit(event)--> ReportQueue (bounded, priority, bursts) --> worker:
//     load the events' committed state from the store -> report_prompt(events, site) ->
//     greedy generation (token limit, stops at <|end|>) streaming pieces to the listeners ->
//     store the report with its events (commit) -> listeners' on_report_done.
//
// Every `shift_minutes` of wall time (when > 0) the worker also writes a shift summary: the
// what_happened answer over that window, phrased by the model from the store's facts.
//
// With `verify` on (the trained model), a report that misses a fact of its events or names a
// zone/class/number that is not in them is replaced by a template sentence (source
// "template"); the model's text is kept in the log. An empty report always is.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fusion/generator.h"
#include "fusion/report_queue.h"
#include "fusion/store.h"

namespace vigil::fusion {

// What listeners learn about a report as it is written.
struct ReportContext {
  uint64_t seq = 0;            // job number (shift summaries count too)
  std::string kind = "event";  // event or shift
  Severity severity = Severity::kInfo;
  std::vector<StoredEvent> events;  // committed state of the events covered (empty for shift)
};

class ReportListener {
 public:
  virtual ~ReportListener() = default;
  virtual void on_report_start(const ReportContext&) {}
  // A piece of the model's text as it is generated (before any verification).
  virtual void on_report_piece(const ReportContext&, std::string_view) {}
  // The stored report (committed). `report.source` says whether the text is the model's.
  virtual void on_report_done(const ReportContext&, const StoredReport&) {}
};

struct SummarizerOptions {
  std::string site = "site";
  int max_tokens = 96;
  size_t queue = 32;
  double burst_window_s = 5;
  int max_burst = 4;
  double shift_minutes = 0;
  bool verify = false;       // check reports' facts (the trained model); see above
  bool alias_zones = false;  // show the model corpus-style zone names (report_alias.h)
  std::vector<std::string> zones, classes;  // vocabulary for the check
};

struct SummarizerStats {
  QueueStats queue;
  uint64_t reports = 0;           // event reports stored
  uint64_t template_reports = 0;  // ... of which the template (empty or unverified model text)
  uint64_t shift_reports = 0;
  uint64_t events_reported = 0;
  bool busy = false;  // generating now
};

class Summarizer {
 public:
  // `generator` is used only on the worker thread from start() on.
  Summarizer(EventStore& store, std::unique_ptr<TextGenerator> generator,
             SummarizerOptions options);
  ~Summarizer();
  Summarizer(const Summarizer&) = delete;
  Summarizer& operator=(const Summarizer&) = delete;

  // Listeners must outlive the summarizer's thread (finish()).
  void add_listener(ReportListener* listener);
  void start();
  // Queues a committed event for a report. Events dropped by back-pressure are marked
  // `dropped` in the store. Never blocks on the model.
  PushOutcome submit(const StoredEvent& event);
  // Reports what is queued, then joins the worker.
  void finish();
  SummarizerStats stats() const;

 private:
  void run();
  void report(const ReportJob& job);
  void shift_summary(double now_unix);

  EventStore& store_;
  std::unique_ptr<TextGenerator> generator_;
  SummarizerOptions options_;
  ReportQueue queue_;
  std::vector<ReportListener*> listeners_;
  std::thread worker_;
  std::atomic<bool> busy_{false};
  mutable std::mutex stats_mutex_;
  SummarizerStats stats_;
  uint64_t next_seq_ = 1u << 30;  // shift summaries, numbered apart from queue jobs
};

// A template report for events, stating each one's type, zone, class, count and time.
std::string template_report(const std::vector<vision::Event>& events);

}  // namespace vigil::fusion
