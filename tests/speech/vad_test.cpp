// Voice activity detection: five spoken utterances separated by silence, mixed with noise, must
// come out as exactly five segments at the right places; noise alone, hum and clicks are not
// speech.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <random>
#include <string>
#include <vector>

#include "base/error.h"
#include "speech/speech.h"

namespace vigil::speech {
namespace {

struct Placed {
  size_t begin, end;  // samples of the clean utterance within the mix
};

double rms(const std::vector<float>& x) {
  double e = 0;
  for (float v : x) e += static_cast<double>(v) * v;
  return x.empty() ? 0.0 : std::sqrt(e / x.size());
}

// Five utterances (two voices) with pauses of 0.6..1.6 s, then white noise at `snr_db` below the
// speech level, mains hum and a few clicks in the pauses.
std::vector<float> make_mix(double snr_db, std::vector<Placed>* placed) {
  const char* phrases[] = {"is there anyone in the back yard", "acknowledge alert number three",
                           "show me the latest alerts", "how many cars were in the driveway today",
                           "never mind"};
  const double pauses_s[] = {1.0, 0.6, 1.6, 0.8, 1.2, 1.0};
  Synthesizer male({"en-us", 170, 100, 50, ""});
  Synthesizer female({"en-us+f2", 180, 100, 50, ""});
  std::vector<float> mix(static_cast<size_t>(pauses_s[0] * kSpeechRate), 0.0f);
  std::vector<float> speech_only;
  for (int i = 0; i < 5; ++i) {
    Synthesizer& tts = i % 2 ? female : male;
    const std::vector<float> u = to_speech_format(tts.synthesize(phrases[i]));
    placed->push_back({mix.size(), mix.size() + u.size()});
    mix.insert(mix.end(), u.begin(), u.end());
    speech_only.insert(speech_only.end(), u.begin(), u.end());
    mix.resize(mix.size() + static_cast<size_t>(pauses_s[i + 1] * kSpeechRate), 0.0f);
  }
  const double noise_rms = rms(speech_only) / std::pow(10.0, snr_db / 20.0);
  std::mt19937 rng(7);
  std::normal_distribution<double> gauss(0.0, noise_rms);
  for (size_t i = 0; i < mix.size(); ++i) {
    const double hum = 0.5 * noise_rms * std::sin(2 * std::numbers::pi * 50.0 * i / kSpeechRate);
    mix[i] += static_cast<float>(gauss(rng) + hum);
  }
  // Clicks: 2 ms bursts, loud, in the first pause and in the middle of the longest one.
  for (size_t at : {size_t(0.5 * kSpeechRate), (*placed)[1].end + size_t(0.8 * kSpeechRate)}) {
    for (size_t k = 0; k < 32; ++k) mix[at + k] += (k % 2 ? -0.5f : 0.5f);
  }
  return mix;
}

void expect_matches(const std::vector<Segment>& segments, const std::vector<Placed>& placed,
                    const std::string& what) {
  ASSERT_EQ(segments.size(), placed.size()) << what;
  for (size_t i = 0; i < placed.size(); ++i) {
    const double true_start = static_cast<double>(placed[i].begin) / kSpeechRate;
    const double true_end = static_cast<double>(placed[i].end) / kSpeechRate;
    // The segment must hold the utterance (with its padding) and not much more.
    EXPECT_NEAR(segments[i].start_s(), true_start, 0.3) << what << " utterance " << i;
    EXPECT_NEAR(segments[i].end_s(), true_end, 0.45) << what << " utterance " << i;
    if (i > 0) {
      EXPECT_GE(segments[i].begin, segments[i - 1].end) << what;
    }
  }
}

TEST(Vad, FiveUtterancesInNoiseGiveFiveSegments) {
  for (double snr_db : {20.0, 10.0}) {
    std::vector<Placed> placed;
    const std::vector<float> mix = make_mix(snr_db, &placed);
    expect_matches(detect_utterances(mix), placed, "SNR " + std::to_string(snr_db) + " dB");
  }
}

TEST(Vad, StreamingInChunksFindsTheSameSegments) {
  std::vector<Placed> placed;
  const std::vector<float> mix = make_mix(15.0, &placed);
  VoiceActivityDetector vad;
  std::vector<Segment> streamed;
  size_t reported_before_end = 0;
  for (size_t at = 0; at < mix.size(); at += 1234) {  // odd chunk size: frames straddle chunks
    const size_t n = std::min<size_t>(1234, mix.size() - at);
    for (const Segment& s : vad.push({mix.data() + at, n})) {
      streamed.push_back(s);
      ++reported_before_end;
    }
  }
  for (const Segment& s : vad.finish()) streamed.push_back(s);
  expect_matches(streamed, placed, "streaming");
  // Utterances are reported as soon as their trailing pause is over, not only at the end.
  EXPECT_EQ(reported_before_end, placed.size());
  const std::vector<Segment> whole = detect_utterances(mix);
  ASSERT_EQ(whole.size(), streamed.size());
  for (size_t i = 0; i < whole.size(); ++i) {
    EXPECT_EQ(whole[i].begin, streamed[i].begin);
    EXPECT_EQ(whole[i].end, streamed[i].end);
  }
}

TEST(Vad, NoiseHumAndClicksAloneAreNotSpeech) {
  std::mt19937 rng(11);
  std::normal_distribution<double> gauss(0.0, 0.02);
  std::vector<float> x(10 * kSpeechRate);
  for (size_t i = 0; i < x.size(); ++i) {
    x[i] = static_cast<float>(gauss(rng) +
                              0.02 * std::sin(2 * std::numbers::pi * 60.0 * i / kSpeechRate));
  }
  for (size_t at = kSpeechRate; at < x.size(); at += 2 * kSpeechRate) {
    for (size_t k = 0; k < 40; ++k) x[at + k] += (k % 2 ? -0.6f : 0.6f);
  }
  EXPECT_TRUE(detect_utterances(x).empty());
  EXPECT_TRUE(detect_utterances(std::vector<float>(kSpeechRate, 0.0f)).empty());
  EXPECT_TRUE(detect_utterances({}).empty());
}

TEST(Vad, SpeechRunningToTheEndIsClosedByFinish) {
  Synthesizer tts;
  std::vector<float> x(kSpeechRate / 2, 0.0f);
  const std::vector<float> u = to_speech_format(tts.synthesize("show me the driveway"));
  x.insert(x.end(), u.begin(), u.end() - static_cast<long>(kSpeechRate / 10));  // cut at the end
  VoiceActivityDetector vad;
  EXPECT_TRUE(vad.push(x).empty());
  EXPECT_TRUE(vad.in_speech());
  const std::vector<Segment> last = vad.finish();
  ASSERT_EQ(last.size(), 1u);
  EXPECT_LE(last[0].end, x.size());
  EXPECT_FALSE(vad.in_speech());
}

TEST(Vad, LongSpeechIsCutAtTheMaximumLength) {
  Synthesizer tts;
  std::vector<float> x(kSpeechRate / 2, 0.0f);
  const std::vector<float> u = to_speech_format(tts.synthesize(
      "how many people were at the front door in the last ten minutes, and how many cars were in "
      "the driveway today, and was there a truck at the loading dock last night"));
  x.insert(x.end(), u.begin(), u.end());
  x.resize(x.size() + kSpeechRate, 0.0f);
  VadOptions options;
  options.max_utterance_s = 2.0f;
  options.max_pause_s = 0.8f;  // commas stay inside
  const std::vector<Segment> segments = detect_utterances(x, options);
  ASSERT_GE(segments.size(), 3u);
  for (const Segment& s : segments) {
    EXPECT_LE(s.end_s() - s.start_s(), 2.0 + 2 * options.padding_s + 0.011);
  }
}

TEST(Vad, RejectsInconsistentOptions) {
  VadOptions bad;
  bad.padding_s = 1.0f;
  bad.max_pause_s = 0.5f;
  EXPECT_THROW(VoiceActivityDetector{bad}, Error);
}

}  // namespace
}  // namespace vigil::speech
