// The site configuration of `vigil run` / `vigil ask`: one YAML file holding the perception
// sections (source, detector, motion, tracker, zones, rules, pipeline: vision/config.h), the
// speech sections (classes, pronunciations, speech: speech/speech.h) and the decision engine's
// own: site, llm, store, alerts. Each module validates its own keys; unknown keys anywhere are
// errors of the form "FILE:LINE: alerts.webhook.timeout_s: expected a number, got \"soon\"".
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "speech/speech.h"
#include "vision/config.h"

namespace vigil::fusion {

// How urgent a rule's events are. Alerts (warning, critical) are reported before routine (info)
// events, and each dispatcher only takes events at or above its own minimum.
enum class Severity { kInfo = 0, kWarning = 1, kCritical = 2 };

// "info", "warning", "critical".
std::string_view severity_name(Severity severity);
// Inverse of severity_name; throws vigil::Error naming `text` when it is none of them.
Severity parse_severity(std::string_view text);

// Where a rule's events go. Channels: console, speech, webhook, mqtt.
struct RuleAlert {
  Severity severity = Severity::kWarning;
  std::vector<std::string> channels = {"console", "speech", "webhook", "mqtt"};
};

struct RetryOptions {
  int max_attempts = 5;            // per message, first try included
  double backoff_initial_s = 0.5;  // wait after the first failure; doubles per failure
  double backoff_max_s = 8;        // ceiling of the wait
  size_t queue = 256;              // pending messages; the oldest is dropped (counted) beyond
};

struct ConsoleOptions {
  bool enabled = true;
  Severity min_severity = Severity::kInfo;
};

struct SpeechAlertOptions {
  bool enabled = true;
  Severity min_severity = Severity::kWarning;
  bool play = false;               // play through ALSA as well as writing WAV files
  std::string device = "default";  // ALSA device for play
};

struct WebhookOptions {
  std::string url;  // http://host[:port]/path; "" = off
  Severity min_severity = Severity::kWarning;
  double timeout_s = 2;  // connect + read limit per attempt
  RetryOptions retry;
};

struct MqttOptions {
  std::string host;  // "" = off
  int port = 1883;
  std::string topic_prefix = "vigil";  // topics: <prefix>/<site>/events, <prefix>/<site>/reports
  std::string client_id;               // "" = vigil-<pid>
  std::string username, password;
  int qos = 1;
  int keepalive_s = 30;
  Severity min_severity = Severity::kInfo;
  RetryOptions retry;
};

struct AlertsConfig {
  RuleAlert defaults;                      // rules not listed below
  std::map<std::string, RuleAlert> rules;  // per perception rule name
  ConsoleOptions console;
  SpeechAlertOptions speech;
  WebhookOptions webhook;
  MqttOptions mqtt;

  const RuleAlert& for_rule(const std::string& rule) const;
};

struct LlmOptions {
  std::string model;          // GGUF path; "" = the default model (see default_model_path)
  int threads = 0;            // compute threads; 0 = all cores
  int ctx = 1024;             // KV cache tokens
  int max_tokens = 96;        // report length limit
  size_t queue = 32;          // report jobs waiting for the model (bounded)
  double burst_window_s = 5;  // related events this close (stream seconds) share a report
  int max_burst = 4;          // events per report at most
  double shift_minutes = 0;   // periodic shift summary every N minutes of wall time; 0 = off
};

struct StoreOptions {
  std::string path = "vigil.db";  // relative paths: to the output folder
  double retention_days = 30;     // events older than this are deleted (0 = keep forever)
  double max_mb = 1024;           // database + snapshots above this: oldest events go (0 = no cap)
  bool synchronous_full = true;   // fsync every commit (power-loss safe); false: WAL NORMAL
};

struct RunConfig {
  std::string path;  // the file it came from ("" for defaults)
  std::string site = "site";
  vision::VisionConfig vision;
  speech::SpeechConfig speech;
  LlmOptions llm;
  StoreOptions store;
  AlertsConfig alerts;

  // Object classes the detector can report (for question parsing and the STT vocabulary).
  std::vector<std::string> class_names() const;
};

// Parses a whole site file's text (perception and decision sections; the speech sections need a
// file, see load_run_config); `origin` names it in errors.
RunConfig parse_run_config(const std::string& yaml_text, const std::string& origin);
// Reads, parses and validates a file.
RunConfig load_run_config(const std::string& path);

// The perception part of a site file: the decision engine's and the speech module's top-level
// sections blanked out (line numbers kept), so vision::parse_config sees only its own keys.
std::string vision_sections(const std::string& yaml_text, const std::string& origin);

// The model `vigil run`/`ask` use without -m: $VIGIL_MODEL, else models/vigil-default-q8_0.gguf
// in the source tree, else the shared test model; throws when none exists.
std::string default_model_path();
// True when `path` is the bundled, trained report model (not a stand-in).
bool is_bundled_model(const std::string& path);

}  // namespace vigil::fusion
