// Site vocabulary -> spoken forms -> JSGF grammar; the YAML configuration; espeak-based spelling.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "base/error.h"
#include "speech/internal.h"
#include "speech/speech.h"

namespace vigil::speech {
namespace {

std::string write_temp(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

std::string config_error(const std::string& yaml) {
  try {
    load_speech_config(write_temp("vigil_speech_bad.yaml", yaml));
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(SpokenForm, NormalisesNamesIntoWords) {
  EXPECT_EQ(spoken_form("Front_Door"), "front door");
  EXPECT_EQ(spoken_form("  gate 2 "), "gate two");
  EXPECT_EQ(spoken_form("Zone B12"), "zone b twelve");
  EXPECT_EQ(spoken_form("bay-45"), "bay forty five");
  EXPECT_EQ(spoken_form("Dock 101"), "dock one zero one");
  EXPECT_EQ(spoken_form("driver's side"), "driver's side");
  EXPECT_EQ(spoken_form("o'clock"), "o'clock");
  EXPECT_EQ(spoken_form("'quoted'"), "quoted");
  EXPECT_EQ(spoken_form("!!!"), "");
}

TEST(Grammar, SlotsTheVocabularyIntoTheQuestionForms) {
  SiteVocabulary v;
  v.zones = {"Front_Door", "gate 2", "front door"};  // duplicates after normalising are merged
  v.classes = {"person", "bus", "traffic light", "puppy"};
  v.rules = {"loitering"};
  const std::string g = build_grammar(v);
  EXPECT_TRUE(contains(g, "#JSGF V1.0;")) << g;
  EXPECT_TRUE(contains(g, "<zone> = front door | gate two;")) << g;
  EXPECT_TRUE(contains(g, "<thing> = person | bus | traffic light | puppy;")) << g;
  EXPECT_TRUE(contains(g, "<things> = people | buses | traffic lights | puppies;")) << g;
  EXPECT_TRUE(contains(g, "<rule_name> = loitering;")) << g;
  EXPECT_TRUE(contains(g, "public <command> =")) << g;
  EXPECT_TRUE(contains(g, "<ack>")) << g;

  v.rules.clear();
  EXPECT_FALSE(contains(build_grammar(v), "rule_name"));
}

TEST(Grammar, NeedsZonesAndClasses) {
  SiteVocabulary v = default_vocabulary();
  v.zones = {"???"};
  EXPECT_THROW(build_grammar(v), Error);
  v = default_vocabulary();
  v.classes.clear();
  EXPECT_THROW(build_grammar(v), Error);
}

TEST(Grammar, WordListSkipsRuleNamesAndSyntax) {
  const std::string jsgf =
      "#JSGF V1.0;\ngrammar g;\n// a comment with words\n<a> = /2/ hello | (big world) [o'clock];\n"
      "public <b> = <a> again+ | hello;\n";
  const std::vector<std::string> words = internal::grammar_words(jsgf);
  EXPECT_EQ(words, (std::vector<std::string>{"hello", "big", "world", "o'clock", "again"}));
  // Every word of the real grammar is a plain lower-case token.
  for (const std::string& w : internal::grammar_words(build_grammar(default_vocabulary()))) {
    for (char c : w) EXPECT_TRUE(std::islower(static_cast<unsigned char>(c)) || c == '\'') << w;
  }
}

TEST(Spelling, MapsEspeakIpaToArpabet) {
  EXPECT_EQ(internal::ipa_to_arpabet("kˈɑːɹpoːɹt"), "K AA R P AO R T");
  EXPECT_EQ(internal::ipa_to_arpabet("dɪtˈɛkʃənz"), "D IH T EH K SH AH N Z");
  EXPECT_EQ(internal::ipa_to_arpabet("sˈʌmɚɹˌaɪz"), "S AH M ER AY Z");
  EXPECT_EQ(internal::ipa_to_arpabet("θˈɜːɾi"), "TH ER T IY");
  EXPECT_EQ(internal::ipa_to_arpabet(""), "");
  // Through espeak-ng itself: a made-up name still gets a plausible spelling.
  const std::string phones = internal::ipa_to_arpabet(internal::espeak_ipa("zorblax"));
  EXPECT_EQ(phones.substr(0, 2), "Z ") << phones;
  EXPECT_TRUE(contains(phones, "B L AE K S")) << phones;
}

TEST(Config, ReadsVocabularyAndSpeechSettings) {
  const std::string path = write_temp("vigil_speech_ok.yaml", R"(
# a site
zones:
  - Front_Door
  - name: gate 2
    polygon: [[0, 0], [1, 1]]
classes: [person, car]
rules: [loitering]
pronunciations:
  Zorblax: Z AO R B L AE K S
speech:
  voice: en-us+f2
  rate: 160
  volume: 80
  pitch: 40
  model_dir: /opt/models/en-us
  fallback_below: 0.4
  mode: grammar-only
cameras: {ignored: true}
)");
  const SpeechConfig c = load_speech_config(path);
  EXPECT_EQ(c.vocabulary.zones, (std::vector<std::string>{"Front_Door", "gate 2"}));
  EXPECT_EQ(c.vocabulary.classes, (std::vector<std::string>{"person", "car"}));
  EXPECT_EQ(c.vocabulary.rules, (std::vector<std::string>{"loitering"}));
  EXPECT_EQ(c.vocabulary.pronunciations.at("zorblax"), "Z AO R B L AE K S");
  EXPECT_EQ(c.voice.voice, "en-us+f2");
  EXPECT_EQ(c.voice.rate_wpm, 160);
  EXPECT_EQ(c.voice.volume, 80);
  EXPECT_EQ(c.voice.pitch, 40);
  EXPECT_EQ(c.recognizer.model_dir, "/opt/models/en-us");
  EXPECT_FLOAT_EQ(c.recognizer.fallback_below, 0.4f);
  EXPECT_EQ(c.recognizer.mode, RecognitionMode::kGrammarOnly);
  std::filesystem::remove(path);
}

TEST(Config, EmptyFileMeansDefaults) {
  const SpeechConfig c = load_speech_config(write_temp("vigil_speech_empty.yaml", ""));
  EXPECT_EQ(c.vocabulary.zones, default_vocabulary().zones);
  EXPECT_EQ(c.voice.voice, "en-us");
}

TEST(Config, BadValuesNameTheKeyAndLine) {
  EXPECT_TRUE(contains(config_error("zones: front door\n"), ":1: zones: expected a list of names"))
      << config_error("zones: front door\n");
  EXPECT_TRUE(contains(config_error("zones:\n  - [a, b]\n"), "expected a name or a map"));
  EXPECT_TRUE(contains(config_error("zones: ['***']\n"), "no speakable letters"));
  EXPECT_TRUE(contains(config_error("speech:\n  rate: fast\n"), ":2: speech.rate: expected"))
      << config_error("speech:\n  rate: fast\n");
  EXPECT_TRUE(contains(config_error("speech:\n  mode: loud\n"), "'loud', expected grammar"));
  EXPECT_TRUE(contains(config_error("zones: [a\n"), "YAML syntax error"));
  EXPECT_TRUE(contains(config_error("- just\n- a list\n"), "expected a map of settings"));
  try {
    load_speech_config("/nonexistent/vigil/site.yaml");
    FAIL();
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "/nonexistent/vigil/site.yaml: cannot read")) << e.what();
  }
}

}  // namespace
}  // namespace vigil::speech
