#include "server/fusion_adapter.h"

#include <algorithm>
#include <chrono>

#include "base/error.h"
#include "base/units.h"
#include "fusion/question.h"
#include "fusion/report_prompt.h"
#include "speech/speech.h"
#include "vision/event.h"

namespace vigil::server {

using nlohmann::json;

json event_json(const fusion::StoredEvent& e) {
  json j = e.event;  // vision::to_json: the perception record
  j["perception_id"] = e.event.id;
  j["id"] = e.id;
  j["run_id"] = e.run_id;
  j.erase("snapshot");  // a file path: clients get snapshot_url instead
  j["has_snapshot"] = !e.event.snapshot_path.empty();
  j["severity"] = std::string(fusion::severity_name(e.severity));
  j["detected_unix"] = e.detected_unix;
  j["updated_unix"] = e.updated_unix;
  j["report_status"] = std::string(fusion::report_status_name(e.report_status));
  j["report"] = e.report;
  j["report_id"] = e.report_id;
  return j;
}

json report_json(const fusion::StoredReport& r) {
  return {{"id", r.id},
          {"kind", r.kind},
          {"created_unix", r.created_unix},
          {"text", r.text},
          {"source", r.source},
          {"stop_reason", r.stop_reason},
          {"first_token_ms", r.first_token_ms},
          {"done_ms", r.done_ms},
          {"event_ids", r.event_ids}};
}

// ---- StoreEventSource -------------------------------------------------------------------------

StoreEventSource::StoreEventSource(const fusion::EventStore& store, std::string snapshot_root)
    : store_(store), snapshot_root_(std::move(snapshot_root)) {}

void StoreEventSource::on_event(const fusion::StoredEvent& event) {
  publish({"event", event_json(event)});
}

void StoreEventSource::on_report_piece(const fusion::ReportContext& ctx, std::string_view piece) {
  json ids = json::array();
  for (const auto& e : ctx.events) ids.push_back(e.id);
  publish({"report_piece", {{"seq", ctx.seq}, {"text", std::string(piece)}, {"event_ids", ids}}});
}

void StoreEventSource::on_report_done(const fusion::ReportContext& ctx,
                                      const fusion::StoredReport& report) {
  json r = report_json(report);
  r["seq"] = ctx.seq;
  publish({"report", r});
  // The events now carry the report (committed before this call).
  for (const auto& id : report.event_ids) {
    if (auto e = store_.event(id)) publish({"event", event_json(*e)});
  }
}

EventPage StoreEventSource::list(const EventFilter& filter) const {
  fusion::EventQuery q;
  q.since_unix = filter.since_unix;
  q.until_unix = filter.until_unix;
  q.zone = filter.zone;
  q.rule = filter.rule;
  q.type = filter.type;
  q.object_class = filter.object_class;
  EventPage page;
  page.total = store_.count(q);
  if (filter.limit <= 0 || filter.offset >= page.total) return page;
  // The store has no OFFSET: read the first offset + limit, newest first, and keep the page.
  q.newest_first = true;
  q.limit = filter.offset + filter.limit;
  const std::vector<fusion::StoredEvent> events = store_.events(q);
  for (size_t i = static_cast<size_t>(std::max<int64_t>(filter.offset, 0)); i < events.size();
       ++i) {
    page.events.push_back(event_json(events[i]));
  }
  return page;
}

std::optional<json> StoreEventSource::get(const std::string& id) const {
  if (auto e = store_.event(id)) return event_json(*e);
  return std::nullopt;
}

std::string StoreEventSource::snapshot_file(const std::string& id) const {
  if (auto e = store_.event(id)) return e->event.snapshot_path;
  return "";
}

std::map<std::string, int64_t> StoreEventSource::zone_counts() const {
  std::map<std::string, int64_t> counts;
  for (const auto& e : store_.events(fusion::EventQuery{})) ++counts[e.event.zone];
  return counts;
}

// ---- SchedulerGenerator -----------------------------------------------------------------------

SchedulerGenerator::SchedulerGenerator(Scheduler& scheduler, std::string description)
    : scheduler_(scheduler), description_(std::move(description)) {}

fusion::Generation SchedulerGenerator::generate(
    const std::string& prompt, int max_tokens,
    const std::function<bool(std::string_view)>& on_piece) {
  const auto start = std::chrono::steady_clock::now();
  Engine& engine = scheduler_.engine();
  GenerateRequest request;
  request.prompt_ids = engine.tokenizer().encode(prompt, /*add_special=*/false,
                                                 /*parse_special=*/true);
  if (request.prompt_ids.empty()) fail("report prompt: no tokens");
  // Room for the answer: a long prompt keeps its end (EngineGenerator's truncate_prompt).
  const int32_t n_ctx = engine.context().n_ctx();
  const int32_t room = std::max<int32_t>(1, n_ctx - 1 - std::max(1, max_tokens));
  if (static_cast<int32_t>(request.prompt_ids.size()) > room) {
    request.prompt_ids.erase(request.prompt_ids.begin(), request.prompt_ids.end() - room);
  }
  request.max_tokens = max_tokens;
  request.add_bos = false;
  request.sampling.temperature = 0;
  request.stop = {std::string(fusion::kEndToken)};
  std::shared_ptr<Job> job = scheduler_.submit(std::move(request));
  fusion::Generation g;
  std::string text;
  bool cancelled = false;
  for (;;) {
    std::string piece;
    const bool done = job->next(&piece, std::chrono::milliseconds(200));
    if (!piece.empty()) {
      if (!g.first_token_ms) {
        g.first_token_ms =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                .count();
      }
      text += piece;
      if (on_piece && !cancelled && !on_piece(piece)) {
        cancelled = true;
        job->cancel();
      }
    }
    if (done) break;
  }
  if (!job->error().empty()) fail("{}", job->error());
  g.text = std::move(text);
  g.stop_reason = job->result().stop_reason;
  g.tokens = static_cast<int>(job->result().tokens.size());
  g.total_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return g;
}

// ---- StoreAnswerer ----------------------------------------------------------------------------

StoreAnswerer::StoreAnswerer(const fusion::RunConfig& config, const fusion::EventStore& store,
                             fusion::TextGenerator* generator, bool speak, int max_tokens)
    : config_(config),
      store_(store),
      generator_(generator),
      speak_(speak),
      max_tokens_(max_tokens) {}

std::string StoreAnswerer::transcribe(const std::string& wav) {
  const speech::Audio audio = speech::parse_wav(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(wav.data()), wav.size()),
      "uploaded audio");
  const std::vector<float> samples = speech::to_speech_format(audio);
  // The longest utterance is the question (clicks and breaths around it are dropped).
  speech::Segment best{0, samples.size()};
  size_t best_len = 0;
  for (const auto& s : speech::detect_utterances(samples)) {
    if (s.end - s.begin > best_len) {
      best = s;
      best_len = s.end - s.begin;
    }
  }
  speech::SiteVocabulary vocabulary = config_.speech.vocabulary;
  for (const auto& c : config_.class_names()) {
    if (std::find(vocabulary.classes.begin(), vocabulary.classes.end(), c) ==
        vocabulary.classes.end()) {
      vocabulary.classes.push_back(c);
    }
  }
  speech::Recognizer recognizer(vocabulary, config_.speech.recognizer);
  const speech::Transcript t = recognizer.recognize(
      std::span<const float>(samples).subspan(best.begin, best.end - best.begin), best.start_s());
  if (t.text.empty()) fail("uploaded audio: no speech recognised");
  return t.text;
}

AskOutput StoreAnswerer::ask(const AskInput& input) {
  AskOutput out;
  out.heard = input.wav.empty() ? input.text : transcribe(input.wav);
  const double now = unix_now();
  const fusion::Question q =
      fusion::parse_question(out.heard, fusion::QuestionVocabulary::from_config(config_), now);
  json facts = fusion::answer_facts(store_, q, now);
  fusion::Answer a;
  {
    std::lock_guard lock(generator_mutex_);
    a = fusion::phrase_answer(generator_, q, std::move(facts), max_tokens_);
  }
  out.answer = a.text;
  out.source = a.source;
  out.intent = q.intent;
  out.facts = a.facts;
  if (speak_ && !a.text.empty()) {
    speech::Synthesizer tts(config_.speech.voice);
    out.answer_wav = speech::encode_wav(tts.synthesize(a.text));
  }
  return out;
}

}  // namespace vigil::server
