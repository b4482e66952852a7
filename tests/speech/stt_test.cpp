// Speech to text. The round trip: operator phrases synthesised by espeak-ng in several voices and
// rates, resampled from 22.05 kHz, recognised with the site grammar. Also: the free-form fallback,
// word timing, the `listen` pipeline (WAV -> VAD -> STT) and clear errors for bad input and models.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "base/error.h"
#include "operator_phrases.h"
#include "speech/speech.h"

namespace vigil::speech {
namespace {

const char* const kModelDir = "/usr/share/pocketsphinx/model/en-us";

// The voice/rate variants of the round trip: espeak-ng's default US voice, a female variant, and
// two variants of its other (Klatt) synthesiser, from slow to fast speech. docs/SPEECH.md lists
// how other voices fare.
const VoiceOptions kVariants[] = {
    {"en-us", 175, 100, 50, ""},
    {"en-us+f2", 170, 100, 50, ""},
    {"en-us+klatt4", 190, 100, 50, ""},
    {"en-us+klatt", 150, 100, 50, ""},
};

struct Utterance {
  std::string text;
  std::string voice;
  std::vector<float> samples;  // 16 kHz mono
};

// Synthesised once for all the tests of this file.
const std::vector<Utterance>& round_trip_set() {
  static const std::vector<Utterance> set = [] {
    std::vector<Utterance> out;
    for (const VoiceOptions& v : kVariants) {
      Synthesizer tts(v);
      for (std::string_view p : testing::kOperatorPhrases) {
        out.push_back({std::string(p), v.voice + "@" + std::to_string(v.rate_wpm),
                       to_speech_format(tts.synthesize(p))});
      }
    }
    return out;
  }();
  return set;
}

std::vector<std::string> words_of(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> w;
  for (std::string x; in >> x;) w.push_back(x);
  return w;
}

size_t word_errors(const std::string& reference, const std::string& hypothesis) {
  const auto a = words_of(reference), b = words_of(hypothesis);
  std::vector<size_t> d(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) d[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = d[0];
    d[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = d[j];
      d[j] = std::min({d[j] + 1, d[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return d[b.size()];
}

struct Score {
  size_t exact = 0, utterances = 0, word_errors = 0, words = 0;
  void add(const std::string& reference, const std::string& hypothesis) {
    ++utterances;
    exact += reference == hypothesis;
    word_errors += speech::word_errors(reference, hypothesis);
    words += words_of(reference).size();
  }
  double accuracy() const { return utterances ? static_cast<double>(exact) / utterances : 0; }
  double wer() const { return words ? static_cast<double>(word_errors) / words : 0; }
};

class Stt : public ::testing::Test {
 protected:
  static Recognizer& recognizer() {
    static Recognizer r(default_vocabulary());
    return r;
  }
};

TEST_F(Stt, RoundTripGrammarAccuracyIsAtLeast95Percent) {
  ASSERT_GE(testing::kOperatorPhrases.size(), 40u);
  Score total;
  std::map<std::string, Score> per_voice;
  for (const Utterance& u : round_trip_set()) {
    const Transcript t = recognizer().recognize(u.samples, RecognitionMode::kGrammarOnly, 0.0);
    total.add(u.text, t.text);
    per_voice[u.voice].add(u.text, t.text);
    if (t.text != u.text) {
      std::printf("  [%s] said: %s\n  %*s heard: %s (confidence %.2f)\n", u.voice.c_str(),
                  u.text.c_str(), static_cast<int>(u.voice.size()), "", t.text.c_str(),
                  t.confidence);
    }
  }
  for (const auto& [voice, s] : per_voice) {
    std::printf("grammar, %-18s %zu/%zu exactly right, WER %.1f%%\n", voice.c_str(), s.exact,
                s.utterances, 100 * s.wer());
  }
  std::printf("grammar, all voices: %zu/%zu = %.1f%% exactly right, WER %.1f%%\n", total.exact,
              total.utterances, 100 * total.accuracy(), 100 * total.wer());
  EXPECT_EQ(total.utterances, std::size(kVariants) * testing::kOperatorPhrases.size());
  EXPECT_GE(total.accuracy(), 0.95);
}

// The general language model on (a quarter of) the same audio, for comparison: it has no idea of
// the site's vocabulary, so it is far less accurate; it must still be recognising speech, not
// guessing (the full set runs in test_speech_slow).
TEST_F(Stt, FreeFormFallbackAccuracyForComparison) {
  Score grammar, free;
  const auto& set = round_trip_set();
  for (size_t i = 0; i < set.size(); i += 4) {
    const Utterance& u = set[i];
    free.add(u.text, recognizer().recognize(u.samples, RecognitionMode::kFreeForm, 0.0).text);
    grammar.add(u.text, recognizer().recognize(u.samples, RecognitionMode::kGrammarOnly, 0.0).text);
  }
  std::printf(
      "free-form LM on %zu of the round-trip utterances: %zu exactly right (%.1f%%), "
      "WER %.1f%%; grammar on the same: %.1f%%, WER %.1f%%\n",
      free.utterances, free.exact, 100 * free.accuracy(), 100 * free.wer(),
      100 * grammar.accuracy(), 100 * grammar.wer());
  EXPECT_LT(free.wer(), 0.9);  // most words are still found
  EXPECT_GT(grammar.accuracy(), free.accuracy() + 0.3);
  EXPECT_LT(grammar.wer(), free.wer() / 3);
}

TEST_F(Stt, OutOfGrammarSpeechFallsBackToTheLanguageModel) {
  Synthesizer tts;
  const char* outside[] = {"the weather is nice today and I would like a pizza",
                           "remind me to buy milk tomorrow", "turn on the kitchen lights",
                           "how much does a new car cost", "please send the report to my office"};
  size_t fell_back = 0;
  for (const char* text : outside) {
    const std::vector<float> audio = to_speech_format(tts.synthesize(text));
    const Transcript grammar_only = recognizer().recognize(audio, RecognitionMode::kGrammarOnly, 0);
    const Transcript t = recognizer().recognize(audio, 0.0);
    EXPECT_EQ(t.from_grammar, grammar_only.confidence >= 0.25f);
    if (!t.from_grammar) {
      ++fell_back;
      EXPECT_FALSE(t.text.empty()) << text;
    }
    std::printf("  out of grammar: %s\n    grammar only: %s (%.2f)\n    default mode: %s (%s)\n",
                text, grammar_only.text.c_str(), grammar_only.confidence, t.text.c_str(),
                t.from_grammar ? "grammar" : "free-form");
  }
  // Speech that the grammar cannot express is (nearly always) recognised as such.
  EXPECT_GE(fell_back, 4u);

  // In-grammar speech stays with the grammar, with high confidence.
  const std::string phrase = "is there a package at the front door";
  const Transcript in = recognizer().recognize(to_speech_format(tts.synthesize(phrase)), 0.0);
  EXPECT_TRUE(in.from_grammar);
  EXPECT_EQ(in.text, phrase);
  EXPECT_GT(in.confidence, 0.5f);
}

TEST_F(Stt, TimesAreSecondsIntoTheInput) {
  const std::string phrase = "is there a car in the driveway";
  const std::vector<float> speech = to_speech_format(Synthesizer().synthesize(phrase));
  std::vector<float> padded(kSpeechRate, 0.0f);  // one second of silence first
  padded.insert(padded.end(), speech.begin(), speech.end());
  padded.resize(padded.size() + kSpeechRate / 2, 0.0f);
  const Transcript t = recognizer().recognize(padded, RecognitionMode::kGrammarOnly, 10.0);
  EXPECT_EQ(t.text, phrase);
  const double speech_s = static_cast<double>(speech.size()) / kSpeechRate;
  EXPECT_NEAR(t.start_s, 11.0, 0.25);
  EXPECT_NEAR(t.end_s, 11.0 + speech_s, 0.4);
  EXPECT_LT(t.start_s, t.end_s);
}

TEST_F(Stt, SilenceAndNoiseGiveNoWordsOrLowConfidence) {
  const Transcript silence = recognizer().recognize(std::vector<float>(kSpeechRate, 0.0f), 3.0);
  EXPECT_TRUE(silence.text.empty() || silence.confidence < 0.25f) << silence.text;
  std::mt19937 rng(3);
  std::normal_distribution<float> gauss(0.0f, 0.05f);
  std::vector<float> noise(kSpeechRate);
  for (float& v : noise) v = gauss(rng);
  const Transcript t = recognizer().recognize(noise, RecognitionMode::kGrammarOnly, 0.0);
  EXPECT_TRUE(t.text.empty() || t.confidence < 0.25f) << t.text << " " << t.confidence;
}

// The `vigil listen --wav` pipeline: a 44.1 kHz stereo recording with three utterances and
// background noise, resampled, split by the VAD and recognised utterance by utterance.
TEST_F(Stt, ListenPipelineTranscribesEachUtteranceOfARecording) {
  const char* phrases[] = {"is there anyone in the back yard", "acknowledge all alerts",
                           "how many cars were in the driveway today"};
  Synthesizer tts;
  std::vector<float> mono(tts.sample_rate(), 0.0f);
  for (const char* p : phrases) {
    const Audio a = tts.synthesize(p);
    mono.insert(mono.end(), a.samples.begin(), a.samples.end());
    mono.resize(mono.size() + tts.sample_rate(), 0.0f);
  }
  std::mt19937 rng(5);
  std::normal_distribution<float> gauss(0.0f, 0.01f);  // about 20 dB below the speech
  Audio recording;
  recording.sample_rate = 44100;
  recording.channels = 2;
  for (float v : resample(mono, tts.sample_rate(), 44100)) {
    recording.samples.push_back(v + gauss(rng));
    recording.samples.push_back(v + gauss(rng));
  }
  const std::string path = ::testing::TempDir() + "/vigil_listen_pipeline.wav";
  write_wav(path, recording);

  const std::vector<float> samples = to_speech_format(read_wav(path));
  const std::vector<Segment> segments = detect_utterances(samples);
  ASSERT_EQ(segments.size(), 3u);
  for (size_t i = 0; i < segments.size(); ++i) {
    const Segment& s = segments[i];
    const Transcript t = recognizer().recognize(
        std::span<const float>(samples.data() + s.begin, s.end - s.begin), s.start_s());
    EXPECT_EQ(t.text, phrases[i]);
    EXPECT_TRUE(t.from_grammar);
    EXPECT_GE(t.start_s, s.start_s());
    EXPECT_LE(t.end_s, s.end_s() + 0.01);
  }
  std::filesystem::remove(path);
}

TEST_F(Stt, UnknownWordsArePronouncedByEspeak) {
  SiteVocabulary v = default_vocabulary();
  v.zones = {"Zorblax Gate", "carport"};
  Recognizer r(v, {kModelDir, RecognitionMode::kGrammarOnly, 0.25f});
  EXPECT_NE(r.grammar().find("zorblax gate"), std::string::npos);
  Synthesizer tts;
  const Transcript t =
      r.recognize(to_speech_format(tts.synthesize("is there anyone at the zorblax gate")), 0.0);
  EXPECT_EQ(t.text, "is there anyone at the zorblax gate");
}

TEST_F(Stt, EmptyAudioIsAnError) {
  try {
    recognizer().recognize(std::vector<float>{}, 0.0);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("empty audio"), std::string::npos) << e.what();
  }
}

std::string construction_error(const SiteVocabulary& v, const RecognizerOptions& o) {
  try {
    Recognizer r(v, o);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(SttModel, MissingModelFilesAreNamed) {
  const SiteVocabulary v = default_vocabulary();
  std::string e =
      construction_error(v, {"/nonexistent/model", RecognitionMode::kGrammarOnly, 0.25f});
  EXPECT_NE(e.find("acoustic model file not found at /nonexistent/model/en-us/mdef"),
            std::string::npos)
      << e;

  // A copy of the model folder (links) missing one file at a time.
  const std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) / "vigil_model";
  auto build = [&](const std::string& skip) {
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir / "en-us");
    for (const auto& entry : std::filesystem::recursive_directory_iterator(kModelDir)) {
      if (!entry.is_regular_file()) continue;
      const auto relative = std::filesystem::relative(entry.path(), kModelDir);
      if (relative.string() == skip) continue;
      std::filesystem::create_symlink(entry.path(), dir / relative);
    }
  };
  build("cmudict-en-us.dict");
  e = construction_error(v, {dir.string(), RecognitionMode::kGrammarOnly, 0.25f});
  EXPECT_NE(e.find("pronunciation dictionary not found at " + dir.string()), std::string::npos)
      << e;
  build("en-us/means");
  e = construction_error(v, {dir.string(), RecognitionMode::kGrammarOnly, 0.25f});
  EXPECT_NE(e.find("acoustic model file not found at " + dir.string() + "/en-us/means"),
            std::string::npos)
      << e;
  build("en-us.lm.bin");
  e = construction_error(v, {dir.string(), RecognitionMode::kGrammarWithFallback, 0.25f});
  EXPECT_NE(e.find("language model not found at " + dir.string() + "/en-us.lm.bin"),
            std::string::npos)
      << e;
  // Without the language model the grammar alone still works.
  EXPECT_EQ(construction_error(v, {dir.string(), RecognitionMode::kGrammarOnly, 0.25f}), "");
  std::filesystem::remove_all(dir);
}

TEST(SttModel, BadVocabularyAndOptionsAreNamed) {
  SiteVocabulary v = default_vocabulary();
  v.pronunciations["zorblax"] = "Q Q Q";
  v.zones.push_back("zorblax");
  std::string e = construction_error(v, {kModelDir, RecognitionMode::kGrammarOnly, 0.25f});
  EXPECT_NE(e.find("cannot add the word 'zorblax' with phones 'Q Q Q'"), std::string::npos) << e;
  e = construction_error(default_vocabulary(), {kModelDir, RecognitionMode::kGrammarOnly, 1.5f});
  EXPECT_NE(e.find("fallback_below is 1.5"), std::string::npos) << e;
  SiteVocabulary none;
  e = construction_error(none, {kModelDir, RecognitionMode::kGrammarOnly, 0.25f});
  EXPECT_NE(e.find("no zone names"), std::string::npos) << e;
}

}  // namespace
}  // namespace vigil::speech
