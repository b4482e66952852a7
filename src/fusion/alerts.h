// Alert routing and the spoken channel.
//
// AlertHub listens to committed events (on_event) and to the summarizer's reports, and hands
// each to the channels configured for its rule (alerts.rules.<rule>.channels, else
// alerts.default) whose min_severity it reaches: console, webhook, mqtt (Dispatcher threads,
// dispatcher.h) and speech (SpeechAlerts).
//
// SpeechAlerts speaks a report while the model is still writing it: the streamed text is cut
// into sentences (speech::split_sentences) and a sentence is handed to the TTS thread as soon
// as the next one has begun (the last one when the report is done). The audio of each report
// is written to <wav_dir>/<run id>-<n>.wav and, with `play`, sent to the ALSA device. The first
// synthesised sample stamps the events' first_audio latency.
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fusion/config.h"
#include "fusion/dispatcher.h"
#include "fusion/store.h"
#include "fusion/summarizer.h"

namespace vigil::fusion {

// Cuts streamed text into complete sentences.
class SentenceStream {
 public:
  // Adds a piece; returns the sentences it completed.
  std::vector<std::string> push(std::string_view piece);
  // The rest (the last sentence), at the end of the text.
  std::vector<std::string> finish();
  const std::string& text() const { return text_; }

 private:
  std::string text_;
  size_t emitted_ = 0;
};

struct SpeechStats {
  uint64_t reports = 0;  // reports spoken (WAV files written)
  uint64_t sentences = 0;
  uint64_t dropped = 0;  // sentences dropped because the TTS queue was full
  size_t depth = 0;
  std::vector<std::string> wav_files;
  std::string error;  // why speech is off ("" when fine)
};

class SpeechAlerts {
 public:
  SpeechAlerts(const SpeechAlertOptions& options, const speech::VoiceOptions& voice,
               std::string wav_dir, std::string run_id, EventStore* store);
  ~SpeechAlerts();
  void start();
  void stop();

  void begin(uint64_t seq, std::vector<std::string> event_ids);
  void piece(uint64_t seq, std::string_view text);
  // `correction`: spoken after the streamed text when the stored report differs from it.
  void end(uint64_t seq, const std::string& correction);
  SpeechStats stats() const;

 private:
  struct Task {
    uint64_t seq = 0;
    std::string sentence;  // "" with last: nothing more to say
    bool last = false;
  };
  void enqueue(Task task);
  void run();

  SpeechAlertOptions options_;
  speech::VoiceOptions voice_;
  std::string wav_dir_, run_id_;
  EventStore* store_;
  std::map<uint64_t, SentenceStream> streams_;        // summarizer thread only
  std::map<uint64_t, std::vector<std::string>> ids_;  // guarded by mutex_
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Task> tasks_;
  bool stopping_ = false;
  std::thread worker_;
  SpeechStats stats_;
};

class AlertHub : public ReportListener {
 public:
  AlertHub(const RunConfig& config, EventStore& store, std::string wav_dir, std::string run_id);
  ~AlertHub() override;

  // Starts the configured channels (console, speech, webhook, mqtt).
  void start();
  // Drains each channel for up to `drain_s` seconds and joins them.
  void stop(double drain_s);

  // A committed event record (start or end).
  void on_event(const StoredEvent& event);

  void on_report_start(const ReportContext& ctx) override;
  void on_report_piece(const ReportContext& ctx, std::string_view piece) override;
  void on_report_done(const ReportContext& ctx, const StoredReport& report) override;

  struct ChannelStats {
    std::string name;
    DispatcherStats stats;
  };
  std::vector<ChannelStats> channel_stats() const;
  SpeechStats speech_stats() const;
  size_t queued() const;  // messages waiting in all channels

 private:
  bool routed(const std::string& channel, Severity min, const std::vector<std::string>& rules,
              Severity severity) const;

  const RunConfig& config_;
  std::unique_ptr<ConsoleDispatcher> console_;
  std::unique_ptr<WebhookDispatcher> webhook_;
  std::unique_ptr<MqttDispatcher> mqtt_;
  std::unique_ptr<SpeechAlerts> speech_;
  std::map<uint64_t, bool> speaking_;  // report seq -> routed to speech (summarizer thread)
};

}  // namespace vigil::fusion
