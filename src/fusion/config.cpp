#include "fusion/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <sstream>

#include "base/error.h"
#include "base/file.h"
#include "base/yaml_section.h"
#include "vision/source.h"

namespace vigil::fusion {

namespace {

// Top-level sections owned by this module and by the speech module (vision owns the rest).
const std::set<std::string>& decision_sections() {
  static const std::set<std::string> keys = {"site", "llm", "store", "alerts"};
  return keys;
}
const std::set<std::string>& speech_sections() {
  static const std::set<std::string> keys = {"classes", "pronunciations", "speech"};
  return keys;
}

// A map of the run configuration: YamlSection plus the decision engine's own value kinds.
class Reader : public YamlSection {
 public:
  using YamlSection::YamlSection;

  void read_severity(const std::string& key, Severity& out) {
    std::string text(severity_name(out));
    read(key, text, "a severity (info, warning or critical)");
    try {
      out = parse_severity(text);
    } catch (const Error&) {
      fail("{}: \"{}\" is not a severity, expected info, warning or critical",
           yaml_where(origin(), child(key), child_path(key)), printable(text));
    }
  }

  void read_channels(const std::string& key, std::vector<std::string>& out) {
    YAML::Node value = child(key);
    if (!value || value.IsNull()) return;
    if (!value.IsSequence()) {
      fail("{}: expected a list of channels (console, speech, webhook, mqtt), got {}",
           yaml_where(origin(), value, child_path(key)), yaml_describe(value));
    }
    out.clear();
    for (size_t i = 0; i < value.size(); ++i) {
      const std::string item_path = fmt::format("{}[{}]", child_path(key), i);
      const YAML::Node& item = value[i];
      const std::string name = item.IsScalar() ? item.Scalar() : std::string();
      if (name != "console" && name != "speech" && name != "webhook" && name != "mqtt") {
        fail("{}: expected a channel (console, speech, webhook or mqtt), got {}",
             yaml_where(origin(), item, item_path), yaml_describe(item));
      }
      out.push_back(name);
    }
  }
};

constexpr const char* kNumber = "a number";
constexpr const char* kWhole = "a whole number";
constexpr const char* kBool = "true or false";
constexpr const char* kText = "a string";

void read_retry(Reader& parent, const std::string& key, RetryOptions& o) {
  Reader r(parent.child(key), parent.child_path(key), parent.origin());
  r.read_range("max_attempts", o.max_attempts, 1, 1000, kWhole);
  r.read_range("backoff_initial_s", o.backoff_initial_s, 0.0, 3600.0, kNumber);
  r.read_range("backoff_max_s", o.backoff_max_s, 0.0, 86400.0, kNumber);
  r.read_range("queue", o.queue, size_t{1}, size_t{1000000}, kWhole);
  r.finish();
}

void read_rule_alert(Reader r, RuleAlert& o) {
  r.read_severity("severity", o.severity);
  r.read_channels("channels", o.channels);
  r.finish();
}

void read_alerts(Reader a, AlertsConfig& o, const vision::VisionConfig& vision) {
  read_rule_alert(Reader(a.child("default"), a.child_path("default"), a.origin()), o.defaults);
  {
    YAML::Node rules = a.child("rules");
    const std::string rules_path = a.child_path("rules");
    if (rules && !rules.IsNull()) {
      if (!rules.IsMap()) {
        fail("{}: expected a map of rule name -> {{severity, channels}}, got {}",
             yaml_where(a.origin(), rules, rules_path), yaml_describe(rules));
      }
      for (const auto& kv : rules) {
        const std::string name = kv.first.as<std::string>();
        const bool exists = std::any_of(vision.rules.begin(), vision.rules.end(),
                                        [&](const vision::RuleSpec& r) { return r.name == name; });
        if (!exists) {
          std::string names;
          for (const auto& r : vision.rules) names += (names.empty() ? "" : ", ") + r.name;
          fail("{}: no perception rule is named \"{}\" (rules: {})",
               yaml_where(a.origin(), kv.first, rules_path + "." + name), printable(name),
               names.empty() ? "none" : names);
        }
        RuleAlert alert = o.defaults;
        read_rule_alert(Reader(kv.second, rules_path + "." + name, a.origin()), alert);
        o.rules[name] = alert;
      }
    }
  }
  {
    Reader c(a.child("console"), a.child_path("console"), a.origin());
    c.read("enabled", o.console.enabled, kBool);
    c.read_severity("min_severity", o.console.min_severity);
    c.finish();
  }
  {
    Reader s(a.child("speech"), a.child_path("speech"), a.origin());
    s.read("enabled", o.speech.enabled, kBool);
    s.read_severity("min_severity", o.speech.min_severity);
    s.read("play", o.speech.play, kBool);
    s.read("device", o.speech.device, kText);
    s.finish();
  }
  {
    Reader w(a.child("webhook"), a.child_path("webhook"), a.origin());
    w.read("url", o.webhook.url, kText);
    if (!o.webhook.url.empty() && o.webhook.url.rfind("http://", 0) != 0 &&
        o.webhook.url.rfind("https://", 0) != 0) {
      fail("{}: \"{}\" is not an http:// or https:// URL",
           yaml_where(a.origin(), w.child("url"), w.child_path("url")), printable(o.webhook.url));
    }
    w.read_severity("min_severity", o.webhook.min_severity);
    w.read_range("timeout_s", o.webhook.timeout_s, 0.01, 600.0, kNumber);
    read_retry(w, "retry", o.webhook.retry);
    w.finish();
  }
  {
    Reader m(a.child("mqtt"), a.child_path("mqtt"), a.origin());
    m.read("host", o.mqtt.host, kText);
    m.read_range("port", o.mqtt.port, 1, 65535, "a TCP port");
    m.read("topic_prefix", o.mqtt.topic_prefix, kText);
    m.read("client_id", o.mqtt.client_id, kText);
    m.read("username", o.mqtt.username, kText);
    m.read("password", o.mqtt.password, kText);
    m.read_range("qos", o.mqtt.qos, 0, 2, "an MQTT QoS level");
    m.read_range("keepalive_s", o.mqtt.keepalive_s, 5, 65535, kWhole);
    m.read_severity("min_severity", o.mqtt.min_severity);
    read_retry(m, "retry", o.mqtt.retry);
    m.finish();
  }
  a.finish();
}

void read_llm(Reader r, LlmOptions& o) {
  r.read("model", o.model, "a model file path");
  r.read_range("threads", o.threads, 0, 1024, kWhole);
  r.read_range("ctx", o.ctx, 64, 1 << 20, "a whole number of tokens");
  r.read_range("max_tokens", o.max_tokens, 1, 4096, "a whole number of tokens");
  r.read_range("queue", o.queue, size_t{1}, size_t{100000}, kWhole);
  r.read_range("burst_window_s", o.burst_window_s, 0.0, 3600.0, "a number of seconds");
  r.read_range("max_burst", o.max_burst, 1, 64, kWhole);
  r.read_range("shift_minutes", o.shift_minutes, 0.0, 1440.0, "a number of minutes");
  r.finish();
}

void read_store(Reader r, StoreOptions& o) {
  r.read("path", o.path, "a file path");
  if (o.path.empty())
    fail("{}: the store needs a file path", yaml_where(r.origin(), r.node(), r.child_path("path")));
  r.read_range("retention_days", o.retention_days, 0.0, 36500.0, "a number of days");
  r.read_range("max_mb", o.max_mb, 0.0, 1e9, "a number of megabytes");
  std::string sync = o.synchronous_full ? "full" : "normal";
  r.read("synchronous", sync, "full or normal");
  if (sync != "full" && sync != "normal") {
    fail("{}: \"{}\": expected full or normal",
         yaml_where(r.origin(), r.child("synchronous"), r.child_path("synchronous")),
         printable(sync));
  }
  o.synchronous_full = sync == "full";
  r.finish();
}

}  // namespace

std::string_view severity_name(Severity severity) {
  switch (severity) {
    case Severity::kInfo:
      return "info";
    case Severity::kWarning:
      return "warning";
    case Severity::kCritical:
      return "critical";
  }
  return "info";
}

Severity parse_severity(std::string_view text) {
  if (text == "info") return Severity::kInfo;
  if (text == "warning") return Severity::kWarning;
  if (text == "critical") return Severity::kCritical;
  fail("\"{}\" is not a severity (expected info, warning or critical)", printable(text));
}

const RuleAlert& AlertsConfig::for_rule(const std::string& rule) const {
  auto it = rules.find(rule);
  return it != rules.end() ? it->second : defaults;
}

std::vector<std::string> RunConfig::class_names() const {
  std::vector<std::string> names;
  auto add = [&](const std::string& n) {
    if (!n.empty() && std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);
  };
  if (vision.detector.type == "hog") {
    add("person");
  } else {
    for (const auto& c : vision.detector.onnx.classes) add(c);
  }
  for (const auto& rule : vision.rules) {
    for (const auto& c : rule.classes) add(c);
  }
  return names;
}

std::string vision_sections(const std::string& yaml_text, const std::string& origin) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    fail("{}:{}: not valid YAML ({})", origin, e.mark.line + 1, e.msg);
  }
  if (!root || root.IsNull()) return yaml_text;
  if (!root.IsMap())
    fail("{}: expected a map of sections at the top, got {}", origin, yaml_describe(root));
  // Line where each top-level key starts, in file order.
  std::vector<std::pair<int, std::string>> starts;
  for (const auto& kv : root) starts.emplace_back(kv.first.Mark().line, kv.first.as<std::string>());
  std::sort(starts.begin(), starts.end());
  std::vector<std::string> lines;
  {
    std::istringstream in(yaml_text);
    std::string line;
    while (std::getline(in, line)) lines.push_back(line);
  }
  for (size_t i = 0; i < starts.size(); ++i) {
    const auto& [line, key] = starts[i];
    if (!decision_sections().count(key) && !speech_sections().count(key)) continue;
    const int end = i + 1 < starts.size() ? starts[i + 1].first : static_cast<int>(lines.size());
    if (end <= line || line < 0) {
      fail(
          "{}:{}: section \"{}\" shares its line with another section; write top-level "
          "sections in block style, one per line",
          origin, line + 1, printable(key));
    }
    for (int l = line; l < end && l < static_cast<int>(lines.size()); ++l) lines[l].clear();
  }
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

RunConfig parse_run_config(const std::string& yaml_text, const std::string& origin) {
  RunConfig config;
  config.path = origin;
  config.vision = vision::parse_config(vision_sections(yaml_text, origin), origin);
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    fail("{}:{}: not valid YAML ({})", origin, e.mark.line + 1, e.msg);
  }
  if (!root || root.IsNull()) return config;
  const YAML::Node& top = root;
  if (YAML::Node site = top["site"]; site && !site.IsNull()) {
    if (!site.IsScalar() || site.Scalar().empty()) {
      fail("{}: expected the site's name (a string), got {}", yaml_where(origin, site, "site"),
           yaml_describe(site));
    }
    config.site = site.Scalar();
  }
  read_llm(Reader(top["llm"], "llm", origin), config.llm);
  read_store(Reader(top["store"], "store", origin), config.store);
  read_alerts(Reader(top["alerts"], "alerts", origin), config.alerts, config.vision);
  return config;
}

RunConfig load_run_config(const std::string& path) {
  RunConfig config = parse_run_config(read_file(path), path);
  // Paths inside the file are relative to it, as vision::load_config does for its own keys.
  const std::filesystem::path base = std::filesystem::path(path).parent_path();
  auto resolve = [&](std::string& p) {
    if (!p.empty() && std::filesystem::path(p).is_relative()) p = (base / p).lexically_normal();
  };
  resolve(config.vision.detector.onnx.model);
  resolve(config.vision.pipeline.snapshot_dir);
  resolve(config.llm.model);
  if (!config.vision.source.uri.empty() &&
      vision::classify_source(config.vision.source.uri) == vision::SourceKind::kFile) {
    // A relative video path is relative to the working folder if it exists there, else to
    // the config file (so `configs/demo.yaml` can name `../data/vtest.avi`).
    if (!std::filesystem::exists(config.vision.source.uri)) resolve(config.vision.source.uri);
  }
  config.speech = speech::load_speech_config(path);
  return config;
}

std::string default_model_path() {
  namespace fs = std::filesystem;
  if (const char* env = std::getenv("VIGIL_MODEL"); env != nullptr && *env != '\0') return env;
  const fs::path bundled = fs::path(VIGIL_SOURCE_DIR) / "models" / "vigil-default-q8_0.gguf";
  if (fs::exists(bundled)) return bundled.string();
  const fs::path test_model = fs::path(VIGIL_SHARED_DIR) / "testdata/models/qwen2/model-q8_0.gguf";
  if (fs::exists(test_model)) return test_model.string();
  fail("no default model: {} and {} are missing (pass -m MODEL or set VIGIL_MODEL)",
       bundled.string(), test_model.string());
}

bool is_bundled_model(const std::string& path) {
  return std::filesystem::path(path).filename() == "vigil-default-q8_0.gguf";
}

}  // namespace vigil::fusion
