// The site file: the demo config loads, and bad values name the file, line and key path.
#include "fusion/config.h"

#include <gtest/gtest.h>

#include <fstream>
#include <regex>

#include "base/error.h"
#include "base/file.h"
#include "fusion_test_util.h"

namespace vigil::fusion {
namespace {

const std::string kDemo = std::string(VIGIL_SOURCE_DIR) + "/configs/demo.yaml";

TEST(Config, DemoLoads) {
  const RunConfig c = load_run_config(kDemo);
  EXPECT_EQ(c.site, "Campus demo");
  EXPECT_EQ(c.vision.zones.size(), 3u);
  EXPECT_EQ(c.vision.rules.size(), 4u);
  EXPECT_EQ(c.alerts.for_rule("keep_off_the_grass").severity, Severity::kCritical);
  EXPECT_EQ(c.alerts.for_rule("passers_by").severity, Severity::kInfo);
  EXPECT_EQ(c.alerts.for_rule("gathering").severity, Severity::kWarning);  // default
  EXPECT_EQ(c.llm.max_tokens, 80);
  EXPECT_TRUE(c.vision.source.uri.ends_with("data/vtest.avi")) << c.vision.source.uri;
  EXPECT_EQ(c.class_names(), (std::vector<std::string>{"person"}));
  // The speech module read its sections from the same file.
  EXPECT_EQ(c.speech.voice.rate_wpm, 175);
}

// Replaces `from` (which must occur) in the demo text and parses it.
std::string error_for(const std::string& from, const std::string& to) {
  std::string text = read_file(kDemo);
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at == std::string::npos) return "";
  text.replace(at, from.size(), to);
  try {
    parse_run_config(text, "site.yaml");
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

int line_of(const std::string& needle) {
  const std::string text = read_file(kDemo);
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + text.find(needle), '\n'));
}

TEST(Config, ErrorsNameTheKeyPathAndExpectedType) {
  std::string e = error_for("max_tokens: 80", "max_tokens: many");
  EXPECT_EQ(e, fmt::format("site.yaml:{}: llm.max_tokens: expected a whole number of tokens, got "
                           "\"many\"",
                           line_of("max_tokens: 80")));
  e = error_for("webhook: {url: \"\"}", "webhook: {url: \"\", retry: {max_attempts: [1]}}");
  EXPECT_NE(e.find("alerts.webhook.retry.max_attempts: expected a whole number, got a list"),
            std::string::npos)
      << e;
  e = error_for("console: {enabled: true", "console: {colour: red, enabled: true");
  EXPECT_NE(e.find("alerts.console: unknown key \"colour\""), std::string::npos) << e;
  e = error_for("passers_by: {severity: info", "passers_by: {severity: loud");
  EXPECT_NE(e.find("alerts.rules.passers_by.severity: \"loud\" is not a severity"),
            std::string::npos)
      << e;
  e = error_for("    passers_by: {severity", "    nobody: {severity");
  EXPECT_NE(e.find("alerts.rules.nobody: no perception rule is named \"nobody\""),
            std::string::npos)
      << e;
  e = error_for("channels: [console, webhook, mqtt]", "channels: [console, pager]");
  EXPECT_NE(e.find("alerts.rules.passers_by.channels[1]: expected a channel"), std::string::npos)
      << e;
  e = error_for("webhook: {url: \"\"}", "webhook: {url: \"ftp://x\"}");
  EXPECT_NE(e.find("alerts.webhook.url: \"ftp://x\" is not an http"), std::string::npos) << e;
  e = error_for("synchronous: full", "synchronous: maybe");
  EXPECT_NE(e.find("store.synchronous"), std::string::npos) << e;
  e = error_for("site: Campus demo", "site: [a, b]");
  EXPECT_NE(e.find("site.yaml:7: site: expected the site's name"), std::string::npos) << e;
  e = error_for("\nllm:", "\nllms:");
  EXPECT_NE(e.find("unknown key \"llms\""), std::string::npos) << e;
  // Perception keys in the same file keep their own messages and line numbers.
  e = error_for("dwell_s: 8", "dwell_s: soon");
  EXPECT_NE(e.find(fmt::format("site.yaml:{}: rules[1].dwell_s", line_of("dwell_s: 8"))),
            std::string::npos)
      << e;
}

TEST(Config, DecisionSectionsAreHiddenFromVisionKeepingLines) {
  const std::string text = "site: x\nllm:\n  threads: 1\nzones: []\nalerts:\n  console: {}\n";
  const std::string v = vision_sections(text, "t.yaml");
  EXPECT_EQ(v, "\n\n\nzones: []\n\n\n");
  EXPECT_THROW(vision_sections("{site: x, zones: []}", "t.yaml"), Error);
}

}  // namespace
}  // namespace vigil::fusion
