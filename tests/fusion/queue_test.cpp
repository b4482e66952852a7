// The summarizer's queue (priority, bursts, back-pressure) and the summarizer itself with a
// scripted model and with the shared tiny model.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>

#include "fusion/report_prompt.h"
#include "fusion/report_queue.h"
#include "fusion/summarizer.h"
#include "fusion_test_util.h"

namespace vigil::fusion {
namespace {

using testing::make_event;
using testing::ScriptedGenerator;
using testing::TempDir;
using vision::EventType;

QueuedEvent qe(const std::string& id, const std::string& zone, const std::string& rule,
               Severity severity, double stream_s) {
  QueuedEvent e;
  e.id = id;
  e.camera = "cam0";
  e.zone = zone;
  e.rule = rule;
  e.severity = severity;
  e.stream_s = stream_s;
  return e;
}

TEST(ReportQueue, AlertsComeBeforeRoutineOldestFirst) {
  ReportQueue q(8, 5, 4);
  q.push(qe("a", "z1", "r1", Severity::kInfo, 0));
  q.push(qe("b", "z2", "r2", Severity::kWarning, 1));
  q.push(qe("c", "z3", "r3", Severity::kCritical, 2));
  q.push(qe("d", "z4", "r4", Severity::kWarning, 3));
  std::vector<std::string> order;
  while (auto job = q.pop_for(std::chrono::milliseconds(0))) order.push_back(job->events[0].id);
  EXPECT_EQ(order, (std::vector<std::string>{"c", "b", "d", "a"}));
}

TEST(ReportQueue, MergesBurstsOfRelatedEvents) {
  ReportQueue q(8, 5, 3);
  EXPECT_EQ(q.push(qe("a", "lawn", "r1", Severity::kInfo, 10)).kind, PushOutcome::kQueued);
  EXPECT_EQ(q.push(qe("b", "lawn", "r2", Severity::kInfo, 12)).kind, PushOutcome::kMerged);  // zone
  EXPECT_EQ(q.push(qe("c", "gate", "r1", Severity::kCritical, 14)).kind,
            PushOutcome::kMerged);  // same rule
  EXPECT_EQ(q.push(qe("d", "lawn", "r1", Severity::kInfo, 14)).kind,
            PushOutcome::kQueued);  // max_burst reached
  EXPECT_EQ(q.push(qe("e", "plaza", "r9", Severity::kInfo, 14)).kind,
            PushOutcome::kQueued);  // unrelated
  EXPECT_EQ(q.push(qe("f", "plaza", "r9", Severity::kInfo, 30)).kind,
            PushOutcome::kQueued);  // outside the window
  auto first = q.pop_for(std::chrono::milliseconds(0));
  ASSERT_TRUE(first);
  EXPECT_EQ(first->event_ids(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(first->severity, Severity::kCritical);  // raised by its most severe event
  EXPECT_EQ(q.stats().merged, 2u);
}

TEST(ReportQueue, BackPressureNeverGrowsBeyondCapacity) {
  ReportQueue q(2, 1, 2);
  q.push(qe("i1", "z1", "r1", Severity::kInfo, 0));
  q.push(qe("i2", "z2", "r2", Severity::kInfo, 0));
  // Full: a related event merges even outside the window (overflow burst)...
  EXPECT_EQ(q.push(qe("i3", "z1", "r1", Severity::kInfo, 100)).kind, PushOutcome::kMerged);
  // ... an unrelated routine event is dropped ...
  PushOutcome dropped = q.push(qe("i4", "z5", "r5", Severity::kInfo, 0));
  EXPECT_EQ(dropped.kind, PushOutcome::kDropped);
  EXPECT_EQ(dropped.dropped_ids, (std::vector<std::string>{"i4"}));
  // ... an alert displaces the oldest routine job (its events are reported as dropped) ...
  PushOutcome alert = q.push(qe("c1", "z6", "r6", Severity::kCritical, 0));
  EXPECT_EQ(alert.kind, PushOutcome::kQueued);
  EXPECT_EQ(alert.dropped_ids, (std::vector<std::string>{"i1", "i3"}));
  q.push(qe("c2", "z7", "r7", Severity::kCritical, 0));  // displaces i2
  // ... and with only alerts queued, another alert joins the newest job.
  EXPECT_EQ(q.push(qe("c3", "z8", "r8", Severity::kCritical, 0)).kind, PushOutcome::kMerged);
  const QueueStats s = q.stats();
  EXPECT_EQ(s.depth, 2u);
  EXPECT_LE(s.max_depth, 2u);
  EXPECT_EQ(s.dropped, 4u);  // i4, i1, i3, i2
}

struct Recorder : ReportListener {
  std::mutex mutex;
  std::vector<std::string> first_events;  // per report, in order of completion
  std::vector<std::string> texts;
  std::string streamed;
  std::atomic<int> pieces_before_done{0};
  void on_report_piece(const ReportContext&, std::string_view piece) override {
    std::lock_guard lock(mutex);
    streamed += piece;
    ++pieces_before_done;
  }
  void on_report_done(const ReportContext& ctx, const StoredReport& r) override {
    std::lock_guard lock(mutex);
    first_events.push_back(ctx.events.empty() ? "" : ctx.events.front().event.id);
    texts.push_back(r.text);
  }
};

TEST(Summarizer, ReportsInPriorityOrderWithBurstsAndBackPressure) {
  TempDir dir;
  EventStore::Options so;
  so.path = dir.file("vigil.db");
  EventStore store(so);
  const std::string run = store.begin_run("cam", 1);
  auto generator = std::make_unique<ScriptedGenerator>("Something happened.");
  ScriptedGenerator* model = generator.get();
  SummarizerOptions opt;
  opt.site = "Test site";
  opt.queue = 3;
  opt.burst_window_s = 5;
  opt.max_burst = 3;
  Summarizer summarizer(store, std::move(generator), opt);
  Recorder recorder;
  summarizer.add_listener(&recorder);
  model->hold();
  summarizer.start();
  auto submit = [&](const std::string& id, EventType type, const std::string& zone,
                    Severity severity, double t) {
    auto e = make_event(id, type, zone, 1000 + t, "person", t);
    return summarizer.submit(store.record(run, e, severity, 1000 + t));
  };
  submit("cam0-000001", EventType::kLineCrossing, "midline", Severity::kInfo, 0);
  model->wait_for_prompts(1);  // the model is busy with the first; the rest queue up
  submit("cam0-000002", EventType::kLineCrossing, "midline", Severity::kInfo, 20);
  submit("cam0-000003", EventType::kLineCrossing, "midline", Severity::kInfo, 21);  // burst
  submit("cam0-000004", EventType::kLoitering, "plaza", Severity::kWarning, 22);
  submit("cam0-000005", EventType::kIntrusion, "lawn", Severity::kCritical, 23);
  // Full (3 jobs): unrelated routine events are dropped.
  const PushOutcome dropped =
      submit("cam0-000006", EventType::kObjectLeft, "dock", Severity::kInfo, 24);
  EXPECT_EQ(dropped.kind, PushOutcome::kDropped);
  model->release();
  summarizer.finish();

  EXPECT_EQ(recorder.first_events,
            (std::vector<std::string>{"cam0-000001", "cam0-000005", "cam0-000004", "cam0-000002"}));
  const auto prompts = model->prompts();
  ASSERT_EQ(prompts.size(), 4u);
  // The burst's prompt covers both crossings, built by the report contract.
  std::vector<vision::Event> burst;
  for (const char* id : {"cam0-000002", "cam0-000003"})
    burst.push_back(store.event(run + "/" + id)->event);
  EXPECT_EQ(prompts[3], report_prompt(burst, "Test site"));
  EXPECT_EQ(store.event(run + "/cam0-000003")->report, "Something happened.");
  EXPECT_EQ(store.event(run + "/cam0-000006")->report_status, ReportStatus::kDropped);
  EXPECT_TRUE(store.pending_reports().empty());
  EXPECT_GT(recorder.pieces_before_done.load(), 0);  // streamed, not only delivered whole
  const SummarizerStats s = summarizer.stats();
  EXPECT_EQ(s.reports, 4u);
  EXPECT_EQ(s.events_reported, 5u);
  EXPECT_EQ(s.queue.dropped, 1u);
  // Latency stamps exist for the reported events.
  for (const auto& l : store.latencies(run)) {
    if (l.event_id == run + "/cam0-000006") continue;
    EXPECT_GT(l.first_token_unix, 0) << l.event_id;
    EXPECT_GE(l.report_done_unix, l.first_token_unix) << l.event_id;
  }
}

TEST(Summarizer, EmptyOrUnverifiedTextFallsBackToTheTemplate) {
  TempDir dir;
  EventStore::Options so;
  so.path = dir.file("vigil.db");
  EventStore store(so);
  const std::string run = store.begin_run("cam", 1);
  auto generator = std::make_unique<ScriptedGenerator>("");
  ScriptedGenerator* model = generator.get();
  // First report: nothing; second: a wrong zone and count.
  std::atomic<int> calls{0};
  model->respond = [&](const std::string&) {
    return ++calls == 1 ? std::string() : std::string("3 people loitered at the dock at 10:00.");
  };
  SummarizerOptions opt;
  opt.verify = true;
  opt.zones = {"lawn", "plaza", "dock"};
  opt.classes = {"person"};
  Summarizer summarizer(store, std::move(generator), opt);
  summarizer.start();
  auto a = make_event("cam0-000001", EventType::kIntrusion, "lawn", 36000);
  auto b = make_event("cam0-000002", EventType::kLoitering, "plaza", 36100, "person", 100);
  summarizer.submit(store.record(run, a, Severity::kWarning, 1));
  summarizer.submit(store.record(run, b, Severity::kWarning, 2));
  summarizer.finish();
  for (const char* id : {"cam0-000001", "cam0-000002"}) {
    const auto e = store.event(run + "/" + id);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->report, template_report({e->event})) << id;
  }
  EXPECT_EQ(summarizer.stats().template_reports, 2u);
  const auto reports = store.reports("event");
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_EQ(reports[0].source, "template");
}

TEST(Summarizer, RunsTheTinyModel) {
  if (!std::filesystem::exists(testing::shared_test_model())) {
    GTEST_SKIP() << "shared test model missing: " << testing::shared_test_model();
  }
  TempDir dir;
  EventStore::Options so;
  so.path = dir.file("vigil.db");
  EventStore store(so);
  const std::string run = store.begin_run("cam", 1);
  SummarizerOptions opt;
  opt.max_tokens = 12;
  Summarizer summarizer(
      store, std::make_unique<EngineGenerator>(testing::shared_test_model(), 1, 256), opt);
  Recorder recorder;
  summarizer.add_listener(&recorder);
  summarizer.start();
  summarizer.submit(store.record(run,
                                 make_event("cam0-000001", EventType::kIntrusion, "lawn", 36000),
                                 Severity::kCritical, 1));
  summarizer.finish();
  const auto e = store.event(run + "/cam0-000001");
  ASSERT_TRUE(e);
  EXPECT_FALSE(e->report.empty());
  EXPECT_EQ(e->report_status, ReportStatus::kReported);
  ASSERT_EQ(recorder.texts.size(), 1u);
  const auto reports = store.reports("event");
  ASSERT_EQ(reports.size(), 1u);
  // Greedy decoding under a 12-token limit: the stop reason says why it ended.
  EXPECT_TRUE(reports[0].stop_reason == "length" || reports[0].stop_reason == "eos" ||
              reports[0].stop_reason == "stop")
      << reports[0].stop_reason;
}

}  // namespace
}  // namespace vigil::fusion
