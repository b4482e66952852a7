#include "fusion/alerts.h"

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "base/error.h"
#include "base/log.h"
#include "base/units.h"
#include "fusion/report_prompt.h"

namespace vigil::fusion {

namespace {

constexpr size_t kSpeechQueue = 256;  // sentences waiting for the TTS thread

}  // namespace

// ---------------------------------------------------------------------------------------------
// SentenceStream

std::vector<std::string> SentenceStream::push(std::string_view piece) {
  text_ += piece;
  const std::vector<std::string> sentences = speech::split_sentences(text_);
  std::vector<std::string> done;
  // The last sentence may still grow; the ones before it are complete.
  while (sentences.size() >= 2 && emitted_ + 1 < sentences.size())
    done.push_back(sentences[emitted_++]);
  return done;
}

std::vector<std::string> SentenceStream::finish() {
  const std::vector<std::string> sentences = speech::split_sentences(text_);
  std::vector<std::string> rest;
  while (emitted_ < sentences.size()) rest.push_back(sentences[emitted_++]);
  return rest;
}

// ---------------------------------------------------------------------------------------------
// SpeechAlerts

SpeechAlerts::SpeechAlerts(const SpeechAlertOptions& options, const speech::VoiceOptions& voice,
                           std::string wav_dir, std::string run_id, EventStore* store)
    : options_(options),
      voice_(voice),
      wav_dir_(std::move(wav_dir)),
      run_id_(std::move(run_id)),
      store_(store) {}

SpeechAlerts::~SpeechAlerts() {
  stop();
}

void SpeechAlerts::start() {
  if (worker_.joinable()) return;
  std::error_code ec;
  std::filesystem::create_directories(wav_dir_, ec);
  if (ec)
    spdlog::warn("speech alerts: cannot create {} ({}); audio is not saved", wav_dir_,
                 ec.message());
  worker_ = std::thread([this] { run(); });
}

void SpeechAlerts::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    wake_.notify_all();
  }
  if (worker_.joinable()) worker_.join();
}

void SpeechAlerts::enqueue(Task task) {
  std::lock_guard lock(mutex_);
  if (tasks_.size() >= kSpeechQueue && !task.last) {
    ++stats_.dropped;
    return;
  }
  tasks_.push_back(std::move(task));
  wake_.notify_all();
}

void SpeechAlerts::begin(uint64_t seq, std::vector<std::string> event_ids) {
  streams_[seq] = SentenceStream();
  std::lock_guard lock(mutex_);
  ids_[seq] = std::move(event_ids);
}

void SpeechAlerts::piece(uint64_t seq, std::string_view text) {
  auto it = streams_.find(seq);
  if (it == streams_.end()) return;
  for (std::string& s : it->second.push(text)) enqueue({seq, std::move(s), false});
}

void SpeechAlerts::end(uint64_t seq, const std::string& correction) {
  auto it = streams_.find(seq);
  if (it == streams_.end()) return;
  for (std::string& s : it->second.finish()) enqueue({seq, std::move(s), false});
  if (!correction.empty()) enqueue({seq, "Correction: " + correction, false});
  enqueue({seq, "", true});
  streams_.erase(it);
}

SpeechStats SpeechAlerts::stats() const {
  std::lock_guard lock(mutex_);
  SpeechStats s = stats_;
  s.depth = tasks_.size();
  return s;
}

void SpeechAlerts::run() {
  std::unique_ptr<speech::Synthesizer> tts;
  std::unique_ptr<speech::Speaker> speaker;
  try {
    tts = std::make_unique<speech::Synthesizer>(voice_);
  } catch (const std::exception& e) {
    spdlog::error("speech alerts off: {}", e.what());
    std::lock_guard lock(mutex_);
    stats_.error = e.what();
  }
  if (tts && options_.play) {
    try {
      speaker = std::make_unique<speech::Speaker>(options_.device, tts->sample_rate(), 1);
    } catch (const std::exception& e) {
      spdlog::error("speech alerts: not playing ({}); WAV files are still written", e.what());
    }
  }
  std::map<uint64_t, speech::Audio> audio;  // per report being spoken
  for (;;) {
    Task task;
    std::vector<std::string> ids;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !tasks_.empty(); });
      if (tasks_.empty()) break;  // stopping and drained
      task = std::move(tasks_.front());
      tasks_.pop_front();
      if (auto it = ids_.find(task.seq); it != ids_.end()) ids = it->second;
    }
    if (!tts) continue;
    speech::Audio& a = audio[task.seq];
    a.sample_rate = tts->sample_rate();
    if (!task.sentence.empty()) {
      const bool first = a.samples.empty();
      bool stamped = !first;
      try {
        tts->speak(task.sentence, [&](std::span<const float> pcm, size_t) {
          if (!stamped && !pcm.empty()) {
            stamped = true;
            if (store_ != nullptr && !ids.empty())
              store_->stamp_latency(ids, "first_audio", unix_now());
          }
          a.samples.insert(a.samples.end(), pcm.begin(), pcm.end());
          if (speaker) {
            try {
              speaker->write(pcm);
            } catch (const std::exception& e) {
              spdlog::error("speech alerts: playback stopped ({})", e.what());
              speaker.reset();
            }
          }
          return true;
        });
      } catch (const std::exception& e) {
        spdlog::error("speech alerts: cannot synthesise \"{}\": {}", printable(task.sentence, 60),
                      e.what());
      }
      std::lock_guard lock(mutex_);
      ++stats_.sentences;
    }
    if (task.last) {
      if (!a.samples.empty()) {
        const std::string path =
            (std::filesystem::path(wav_dir_) / fmt::format("{}-{:04d}.wav", run_id_, task.seq))
                .string();
        try {
          speech::write_wav(path, a);
          std::lock_guard lock(mutex_);
          stats_.wav_files.push_back(path);
          ++stats_.reports;
        } catch (const std::exception& e) {
          spdlog::error("speech alerts: {}", e.what());
        }
      }
      audio.erase(task.seq);
      std::lock_guard lock(mutex_);
      ids_.erase(task.seq);
    }
  }
  if (speaker) speaker->drain();
}

// ---------------------------------------------------------------------------------------------
// AlertHub

AlertHub::AlertHub(const RunConfig& config, EventStore& store, std::string wav_dir,
                   std::string run_id)
    : config_(config) {
  const AlertsConfig& a = config.alerts;
  if (a.console.enabled) console_ = std::make_unique<ConsoleDispatcher>();
  if (!a.webhook.url.empty()) webhook_ = std::make_unique<WebhookDispatcher>(a.webhook);
  if (!a.mqtt.host.empty()) mqtt_ = std::make_unique<MqttDispatcher>(a.mqtt, config.site);
  if (a.speech.enabled) {
    speech_ = std::make_unique<SpeechAlerts>(a.speech, config.speech.voice, std::move(wav_dir),
                                             run_id, &store);
  }
}

AlertHub::~AlertHub() {
  stop(0);
}

void AlertHub::start() {
  if (console_) console_->start();
  if (webhook_) webhook_->start();
  if (mqtt_) mqtt_->start();
  if (speech_) speech_->start();
}

void AlertHub::stop(double drain_s) {
  // Speech first: it is local and finishes what it has; the network channels get the deadline.
  if (speech_) speech_->stop();
  if (console_) console_->stop(drain_s);
  if (webhook_) webhook_->stop(drain_s);
  if (mqtt_) mqtt_->stop(drain_s);
}

bool AlertHub::routed(const std::string& channel, Severity min,
                      const std::vector<std::string>& rules, Severity severity) const {
  if (severity < min) return false;
  for (const std::string& rule : rules) {
    const auto& channels = config_.alerts.for_rule(rule).channels;
    if (std::find(channels.begin(), channels.end(), channel) != channels.end()) return true;
  }
  return false;
}

void AlertHub::on_event(const StoredEvent& e) {
  AlertMessage m;
  m.kind = "event";
  m.severity = e.severity;
  m.rule = e.event.rule;
  m.payload = {{"kind", "event"},
               {"site", config_.site},
               {"id", e.id},
               {"state", e.event.ongoing() || e.event.end_s == e.event.start_s ? "start" : "end"},
               {"severity", std::string(severity_name(e.severity))},
               {"event", e.event}};
  m.text =
      fmt::format("[{}] event {} {} {} in {}", format_local_time(e.event.start_unix, "%H:%M:%S"),
                  e.id, vision::event_type_name(e.event.type), e.event.object_class, e.event.zone);
  const std::vector<std::string> rules = {e.event.rule};
  if (webhook_ && routed("webhook", config_.alerts.webhook.min_severity, rules, e.severity)) {
    webhook_->post(m);
  }
  if (mqtt_ && routed("mqtt", config_.alerts.mqtt.min_severity, rules, e.severity)) mqtt_->post(m);
}

void AlertHub::on_report_start(const ReportContext& ctx) {
  if (!speech_) return;
  std::vector<std::string> rules, ids;
  for (const auto& e : ctx.events) {
    rules.push_back(e.event.rule);
    ids.push_back(e.id);
  }
  const bool speak = ctx.kind == "event" &&
                     routed("speech", config_.alerts.speech.min_severity, rules, ctx.severity);
  speaking_[ctx.seq] = speak;
  if (speak) speech_->begin(ctx.seq, ids);
}

void AlertHub::on_report_piece(const ReportContext& ctx, std::string_view piece) {
  if (speech_ && speaking_[ctx.seq]) speech_->piece(ctx.seq, piece);
}

void AlertHub::on_report_done(const ReportContext& ctx, const StoredReport& report) {
  if (speech_ && speaking_[ctx.seq]) {
    speech_->end(ctx.seq, report.source == "llm" ? "" : report.text);
  }
  speaking_.erase(ctx.seq);
  std::vector<std::string> rules;
  std::vector<vision::Event> events;
  for (const auto& e : ctx.events) {
    rules.push_back(e.event.rule);
    events.push_back(e.event);
  }
  if (ctx.kind != "event") {
    // Shift summaries go to every channel that takes routine messages.
    for (const auto& r : config_.vision.rules) rules.push_back(r.name);
    if (rules.empty()) rules.push_back("");
  }
  AlertMessage m;
  m.kind = "report";
  m.severity = ctx.severity;
  m.rule = rules.empty() ? "" : rules.front();
  m.payload = {{"kind", ctx.kind == "event" ? "report" : ctx.kind},
               {"site", config_.site},
               {"report_id", report.id},
               {"text", report.text},
               {"source", report.source},
               {"severity", std::string(severity_name(ctx.severity))},
               {"events", report.event_ids}};
  if (!events.empty()) {
    m.payload["facts"] = nlohmann::json::parse(report_request_json(events, config_.site));
  }
  const std::string label =
      ctx.kind == "event" ? std::string(severity_name(ctx.severity)) : std::string("shift");
  std::string upper = label;
  std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
  m.text = fmt::format("[{}] {}{}: {}", format_local_time(report.created_unix, "%H:%M:%S"), upper,
                       ctx.kind == "event" ? " " + m.rule : "", report.text);
  if (console_ && routed("console", config_.alerts.console.min_severity, rules, ctx.severity)) {
    console_->post(m);
  }
  if (webhook_ && routed("webhook", config_.alerts.webhook.min_severity, rules, ctx.severity)) {
    webhook_->post(m);
  }
  if (mqtt_ && routed("mqtt", config_.alerts.mqtt.min_severity, rules, ctx.severity))
    mqtt_->post(m);
}

std::vector<AlertHub::ChannelStats> AlertHub::channel_stats() const {
  std::vector<ChannelStats> out;
  if (console_) out.push_back({"console", console_->stats()});
  if (webhook_) out.push_back({"webhook", webhook_->stats()});
  if (mqtt_) out.push_back({"mqtt", mqtt_->stats()});
  return out;
}

SpeechStats AlertHub::speech_stats() const {
  return speech_ ? speech_->stats() : SpeechStats{};
}

size_t AlertHub::queued() const {
  size_t n = 0;
  for (const auto& c : channel_stats()) n += c.stats.depth;
  return n + speech_stats().depth;
}

}  // namespace vigil::fusion
