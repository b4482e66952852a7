#include "fusion/summarizer.h"

#include <algorithm>
#include <chrono>

#include "base/error.h"
#include "base/log.h"
#include "base/units.h"
#include "fusion/question.h"
#include "fusion/report_alias.h"
#include "fusion/report_eval.h"
#include "fusion/report_prompt.h"

namespace vigil::fusion {

namespace {

std::string trim(std::string s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  const size_t e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

std::string type_phrase(const vision::Event& e) {
  switch (e.type) {
    case vision::EventType::kIntrusion:
      return "Intrusion";
    case vision::EventType::kLoitering:
      return "Loitering";
    case vision::EventType::kCrowding:
      return "Crowding";
    case vision::EventType::kLineCrossing:
      return "Line crossing";
    case vision::EventType::kObjectLeft:
      return "Unattended object";
  }
  return "Event";
}

}  // namespace

std::string template_report(const std::vector<vision::Event>& events) {
  std::string text;
  for (const vision::Event& e : events) {
    const nlohmann::json f = event_facts(e);
    const int64_t count = f["count"].get<int64_t>();
    const std::string cls = f["class"].get<std::string>();
    std::string sentence;
    if (e.type == vision::EventType::kLineCrossing) {
      // A crossing's count is the line's running count in that direction.
      std::string dir = e.direction;
      std::replace(dir.begin(), dir.end(), '_', ' ');
      sentence = fmt::format("Line crossing at {}: a {} crossed {}{}{} ({} so far)",
                             f["time"].get<std::string>(), cls, e.zone, dir.empty() ? "" : ", ",
                             dir, count);
    } else {
      sentence = fmt::format("{} at {}: {} {} in {}", type_phrase(e), f["time"].get<std::string>(),
                             count, count == 1 ? cls : class_plural(cls), e.zone);
    }
    if (f["duration_s"].is_number_integer()) {
      sentence += fmt::format(", for {} s", f["duration_s"].get<int64_t>());
    }
    text += (text.empty() ? "" : " ") + sentence + ".";
  }
  return text;
}

Summarizer::Summarizer(EventStore& store, std::unique_ptr<TextGenerator> generator,
                       SummarizerOptions options)
    : store_(store),
      generator_(std::move(generator)),
      options_(std::move(options)),
      queue_(options_.queue, options_.burst_window_s, options_.max_burst) {}

Summarizer::~Summarizer() {
  queue_.close();
  if (worker_.joinable()) worker_.join();
}

void Summarizer::add_listener(ReportListener* listener) {
  listeners_.push_back(listener);
}

void Summarizer::start() {
  if (worker_.joinable()) return;
  worker_ = std::thread([this] { run(); });
}

PushOutcome Summarizer::submit(const StoredEvent& event) {
  QueuedEvent q;
  q.id = event.id;
  q.camera = event.event.camera;
  q.rule = event.event.rule;
  q.zone = event.event.zone;
  q.severity = event.severity;
  q.stream_s = event.event.start_s;
  q.detected_unix = event.detected_unix;
  PushOutcome outcome = queue_.push(q);
  if (!outcome.dropped_ids.empty()) {
    store_.set_report_status(outcome.dropped_ids, ReportStatus::kDropped);
    spdlog::warn("summarizer: queue full, {} event(s) will not get a report (first: {})",
                 outcome.dropped_ids.size(), outcome.dropped_ids.front());
  }
  return outcome;
}

void Summarizer::finish() {
  queue_.close();
  if (worker_.joinable()) worker_.join();
}

SummarizerStats Summarizer::stats() const {
  std::lock_guard lock(stats_mutex_);
  SummarizerStats s = stats_;
  s.queue = queue_.stats();
  s.busy = busy_.load();
  return s;
}

void Summarizer::run() {
  double next_shift = options_.shift_minutes > 0 ? unix_now() + options_.shift_minutes * 60 : 0;
  for (;;) {
    auto job = queue_.pop_for(std::chrono::milliseconds(200));
    if (job) {
      try {
        report(*job);
      } catch (const std::exception& e) {
        // A failed report must not stop the worker; the events stay pending for the next run.
        spdlog::error("summarizer: report for {} failed: {}", job->events.front().id, e.what());
      }
    } else if (queue_.closed()) {
      break;
    }
    if (next_shift > 0 && unix_now() >= next_shift) {
      try {
        shift_summary(next_shift);
      } catch (const std::exception& e) {
        spdlog::error("summarizer: shift summary failed: {}", e.what());
      }
      next_shift += options_.shift_minutes * 60;
    }
  }
}

void Summarizer::report(const ReportJob& job) {
  ReportContext ctx;
  ctx.seq = job.seq;
  ctx.kind = "event";
  ctx.severity = job.severity;
  std::vector<vision::Event> events;
  std::vector<std::string> ids;
  for (const QueuedEvent& q : job.events) {
    // The committed state: an event that has ended meanwhile reports its duration.
    auto stored = store_.event(q.id);
    if (!stored) continue;  // removed by retention
    events.push_back(stored->event);
    ids.push_back(stored->id);
    ctx.events.push_back(std::move(*stored));
  }
  if (events.empty()) return;
  busy_ = true;
  for (ReportListener* l : listeners_) l->on_report_start(ctx);
  // The model sees zone names it copies reliably; the real ones go back into its text as it
  // streams (report_alias.h).
  std::vector<vision::Event> shown = events;
  const ZoneAliases aliases =
      options_.alias_zones ? ZoneAliases::apply(shown, options_.site) : ZoneAliases{};
  ZoneAliases::Stream restore(aliases);
  const std::string prompt = report_prompt(shown, options_.site);
  bool first = true;
  Generation g = generator_->generate(prompt, options_.max_tokens, [&](std::string_view piece) {
    if (first) {
      first = false;
      store_.stamp_latency(ids, "first_token", unix_now());
    }
    const std::string text = restore.feed(piece);
    if (!text.empty()) {
      for (ReportListener* l : listeners_) l->on_report_piece(ctx, text);
    }
    return true;
  });
  if (const std::string tail = restore.flush(); !tail.empty()) {
    for (ReportListener* l : listeners_) l->on_report_piece(ctx, tail);
  }
  g.text = aliases.restore(g.text);
  StoredReport r;
  r.kind = "event";
  r.prompt = prompt;
  r.stop_reason = g.stop_reason;
  r.first_token_ms = g.first_token_ms;
  r.done_ms = g.total_ms;
  r.event_ids = ids;
  r.text = trim(g.text);
  r.source = "llm";
  std::string rejected;
  if (r.text.empty()) {
    rejected = "the model wrote nothing";
  } else if (options_.verify) {
    ReportChecker checker(ReportVocabulary{options_.zones, options_.classes});
    const ReportCheck check =
        checker.check(r.text, nlohmann::json::parse(report_request_json(events, options_.site)));
    if (check.facts_found() < check.facts_checked() || !check.hallucinations.empty()) {
      rejected = fmt::format(
          "{} of {} facts stated{}", check.facts_found(), check.facts_checked(),
          check.hallucinations.empty() ? "" : ", invented " + check.hallucinations.front());
    }
  }
  if (!rejected.empty()) {
    spdlog::warn("summarizer: report for {} replaced by the template ({}): \"{}\"", ids.front(),
                 rejected, printable(r.text, 200));
    r.text = template_report(events);
    r.source = "template";
  }
  r.created_unix = unix_now();
  r.id = store_.add_report(r);
  store_.stamp_latency(ids, "report_done", r.created_unix);
  if (first) store_.stamp_latency(ids, "first_token", r.created_unix);
  {
    std::lock_guard lock(stats_mutex_);
    ++stats_.reports;
    if (r.source != "llm") ++stats_.template_reports;
    stats_.events_reported += ids.size();
  }
  for (ReportListener* l : listeners_) l->on_report_done(ctx, r);
  busy_ = false;
}

void Summarizer::shift_summary(double now_unix) {
  Question q;
  q.intent = "what_happened";
  q.window_min = static_cast<int>(std::lround(options_.shift_minutes));
  if (q.window_min < 1) q.window_min = 1;
  q.text = fmt::format("Shift summary: what happened in the last {} minutes?", q.window_min);
  nlohmann::json facts = answer_facts(store_, q, now_unix);
  ReportContext ctx;
  ctx.seq = next_seq_++;
  ctx.kind = "shift";
  busy_ = true;
  for (ReportListener* l : listeners_) l->on_report_start(ctx);
  Answer a =
      phrase_answer(generator_.get(), q, facts, options_.max_tokens, [&](std::string_view piece) {
        for (ReportListener* l : listeners_) l->on_report_piece(ctx, piece);
        return true;
      });
  StoredReport r;
  r.kind = "shift";
  r.text = a.text;
  r.source = a.source;
  r.prompt = answer_prompt(q.text, q.intent, facts);
  r.stop_reason = a.generation.stop_reason;
  r.first_token_ms = a.generation.first_token_ms;
  r.done_ms = a.generation.total_ms;
  r.created_unix = unix_now();
  r.id = store_.add_report(r);
  {
    std::lock_guard lock(stats_mutex_);
    ++stats_.shift_reports;
  }
  for (ReportListener* l : listeners_) l->on_report_done(ctx, r);
  busy_ = false;
}

}  // namespace vigil::fusion
