// Text to speech: sentence splitting, synthesis into memory, streaming, voice settings, errors.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include "base/error.h"
#include "speech/speech.h"

namespace vigil::speech {
namespace {

double rms(const std::vector<float>& x) {
  double e = 0;
  for (float v : x) e += static_cast<double>(v) * v;
  return x.empty() ? 0.0 : std::sqrt(e / x.size());
}

std::string error_of(const VoiceOptions& options) {
  try {
    Synthesizer tts(options);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Sentences, SplitsAtSentenceEndsOnly) {
  EXPECT_EQ(
      split_sentences("Alert! Someone is at the front door. Is it a delivery?"),
      (std::vector<std::string>{"Alert!", "Someone is at the front door.", "Is it a delivery?"}));
  EXPECT_EQ(split_sentences("It was 3.5 metres away, e.g. near Mr. Smith. Done"),
            (std::vector<std::string>{"It was 3.5 metres away, e.g. near Mr. Smith.", "Done"}));
  EXPECT_EQ(split_sentences("Saved to file.txt now.\nNext line"),
            (std::vector<std::string>{"Saved to file.txt now.", "Next line"}));
  EXPECT_EQ(split_sentences("Really?!\" he said."),
            (std::vector<std::string>{"Really?!\"", "he said."}));
  EXPECT_TRUE(split_sentences("  \n ").empty());
}

TEST(Synthesizer, SynthesisesSpeechIntoMemory) {
  Synthesizer tts;
  EXPECT_EQ(tts.sample_rate(), 22050);
  const Audio audio = tts.synthesize("Someone is at the front door.");
  EXPECT_EQ(audio.channels, 1);
  EXPECT_EQ(audio.sample_rate, 22050);
  EXPECT_GT(audio.duration_s(), 1.0);
  EXPECT_LT(audio.duration_s(), 4.0);
  EXPECT_GT(rms(audio.samples), 0.02);
  EXPECT_TRUE(tts.synthesize("").samples.empty());
}

TEST(Synthesizer, StreamsChunksSentenceBySentenceBeforeTheTextIsDone) {
  Synthesizer tts;
  const std::string text =
      "Alert. A person is at the front door. A car is in the driveway. The back yard is clear.";
  const size_t whole = tts.synthesize(text).samples.size();
  std::vector<size_t> sentence_of_chunk;
  size_t delivered_at_first_chunk = 0, delivered = 0;
  tts.speak(text, [&](std::span<const float> pcm, size_t sentence) {
    if (sentence_of_chunk.empty()) delivered_at_first_chunk = pcm.size();
    sentence_of_chunk.push_back(sentence);
    delivered += pcm.size();
    return true;
  });
  // espeak-ng carries a little state (pauses) from call to call, so lengths differ slightly.
  EXPECT_NEAR(static_cast<double>(delivered), static_cast<double>(whole), 0.03 * whole);
  ASSERT_GT(sentence_of_chunk.size(), 4u);
  EXPECT_EQ(sentence_of_chunk.front(), 0u);
  EXPECT_EQ(sentence_of_chunk.back(), 3u);
  EXPECT_TRUE(std::is_sorted(sentence_of_chunk.begin(), sentence_of_chunk.end()));
  // The first chunk is a small part of the whole: audio is handed over as it is made.
  EXPECT_LT(delivered_at_first_chunk * 10, whole);
}

TEST(Synthesizer, StopsWhenTheSinkSaysSo) {
  Synthesizer tts;
  size_t calls = 0;
  tts.speak("First sentence here. Second sentence. Third one.",
            [&](std::span<const float>, size_t) { return ++calls < 2; });
  EXPECT_EQ(calls, 2u);
  // The engine is usable again afterwards.
  EXPECT_GT(tts.synthesize("Still working.").samples.size(), 1000u);
}

TEST(Synthesizer, VoiceRateAndVolumeApply) {
  Synthesizer slow({"en-us", 120, 100, 50, ""});
  Synthesizer fast({"en-us", 300, 100, 50, ""});
  Synthesizer quiet({"en-us", 120, 30, 50, ""});
  const std::string text = "How many people were in the driveway today";
  const Audio a = slow.synthesize(text), b = fast.synthesize(text), c = quiet.synthesize(text);
  EXPECT_GT(a.duration_s(), 1.6 * b.duration_s());
  EXPECT_LT(rms(c.samples), 0.5 * rms(a.samples));
  // Each Synthesizer keeps its own settings although the engine is shared.
  // (espeak-ng's output varies by a few milliseconds from call to call.)
  EXPECT_NEAR(slow.synthesize(text).duration_s(), a.duration_s(), 0.03 * a.duration_s());
  Synthesizer female({"en-us+f2", 120, 100, 50, ""});
  EXPECT_NE(female.synthesize(text).samples, a.samples);
}

TEST(Synthesizer, SharedEngineIsSafeAcrossThreads) {
  std::vector<size_t> sizes(4);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < sizes.size(); ++i) {
    threads.emplace_back([&sizes, i] {
      Synthesizer tts({i % 2 ? "en-us+f2" : "en-us", 175, 100, 50, ""});
      sizes[i] = tts.synthesize("Alert number " + std::to_string(i)).samples.size();
    });
  }
  for (auto& t : threads) t.join();
  for (size_t s : sizes) EXPECT_GT(s, 5000u);
}

TEST(Synthesizer, BadSettingsGiveClearErrors) {
  EXPECT_NE(error_of({"xx-nonexistent", 175, 100, 50, ""}).find("voice 'xx-nonexistent'"),
            std::string::npos);
  EXPECT_NE(error_of({"en-us", 20, 100, 50, ""}).find("rate 20 words/min, expected 80..450"),
            std::string::npos);
  EXPECT_NE(error_of({"en-us", 175, 500, 50, ""}).find("volume 500%"), std::string::npos);
  EXPECT_NE(error_of({"en-us", 175, 100, -1, ""}).find("pitch -1"), std::string::npos);
  const std::string missing = error_of({"en-us", 175, 100, 50, "/nonexistent/espeak-ng-data"});
  EXPECT_NE(missing.find("espeak-ng data not found in /nonexistent/espeak-ng-data"),
            std::string::npos)
      << missing;
  // A failed data folder leaves the engine usable with the default one.
  EXPECT_GT(Synthesizer().synthesize("ok").samples.size(), 0u);
}

}  // namespace
}  // namespace vigil::speech
