// Adapters between the server and the decision engine (src/fusion):
//
//   StoreEventSource  the event store as the server's EventSource, and the live feed: the run
//                     pipeline calls on_event() after each committed record and registers it as
//                     a summarizer ReportListener, so SSE clients see events and reports live.
//   SchedulerGenerator  a fusion::TextGenerator that runs on the server's Scheduler, so the
//                     summarizer and /api/ask share the one engine thread with API requests
//                     (and are batched with them) instead of loading a second model.
//   StoreAnswerer     /api/ask: grammar STT for WAV uploads, fusion's question answering
//                     (facts from SQL, phrased by the model, checked), TTS of the answer.
//
// Wiring inside `vigil run --serve` (see docs/SERVER.md):
//   server::StoreEventSource events(store, snapshot_root);
//   summarizer.add_listener(&events);                  // reports, as they are written
//   ... intake thread, after store.record():  events.on_event(stored);
//   server::StoreAnswerer answerer(config, store, &generator);
//   server.set_event_source(&events); server.set_answerer(&answerer); server.start();
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "fusion/config.h"
#include "fusion/generator.h"
#include "fusion/store.h"
#include "fusion/summarizer.h"
#include "server/ask.h"
#include "server/events.h"
#include "server/scheduler.h"

namespace vigil::server {

// Wire shapes (events.h) of the store's records.
nlohmann::json event_json(const fusion::StoredEvent& event);
nlohmann::json report_json(const fusion::StoredReport& report);

class StoreEventSource : public EventSource, public fusion::ReportListener {
 public:
  // `snapshot_root`: the folder all snapshots must lie under (the run's snapshots/ folder).
  StoreEventSource(const fusion::EventStore& store, std::string snapshot_root);

  // A committed event record (start or end); any thread.
  void on_event(const fusion::StoredEvent& event);

  // fusion::ReportListener (the summarizer's thread).
  void on_report_piece(const fusion::ReportContext& ctx, std::string_view piece) override;
  void on_report_done(const fusion::ReportContext& ctx,
                      const fusion::StoredReport& report) override;

  EventPage list(const EventFilter& filter) const override;
  std::optional<nlohmann::json> get(const std::string& id) const override;
  std::string snapshot_file(const std::string& id) const override;
  std::string snapshot_root() const override { return snapshot_root_; }
  std::map<std::string, int64_t> zone_counts() const override;

 private:
  const fusion::EventStore& store_;
  const std::string snapshot_root_;
};

// Runs prompts on the scheduler with the report contract's settings (fusion::EngineGenerator:
// no BOS, special tokens parsed, greedy, stop at <|end|>, long prompts keep their end).
class SchedulerGenerator : public fusion::TextGenerator {
 public:
  SchedulerGenerator(Scheduler& scheduler, std::string description);
  fusion::Generation generate(const std::string& prompt, int max_tokens,
                              const std::function<bool(std::string_view)>& on_piece) override;
  std::string describe() const override { return description_; }

 private:
  Scheduler& scheduler_;
  std::string description_;
};

class StoreAnswerer : public QuestionAnswerer {
 public:
  // `generator` may be null (template answers only); `speak` = synthesise the answer.
  StoreAnswerer(const fusion::RunConfig& config, const fusion::EventStore& store,
                fusion::TextGenerator* generator, bool speak = true, int max_tokens = 64);
  AskOutput ask(const AskInput& input) override;

 private:
  std::string transcribe(const std::string& wav);

  const fusion::RunConfig& config_;
  const fusion::EventStore& store_;
  fusion::TextGenerator* generator_;
  const bool speak_;
  const int max_tokens_;
  std::mutex generator_mutex_;  // a TextGenerator serves one call at a time
};

}  // namespace vigil::server
