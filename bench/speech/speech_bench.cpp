// bench_speech: the speech module's two latency numbers (docs/SPEECH.md).
//
//   STT real-time factor: processing time / audio duration for the 45 operator phrases spoken by
//   espeak-ng (en-us, 175 wpm), one utterance at a time on one thread, per recognition mode.
//   Both CPU time (this thread) and wall time are reported; on a shared machine CPU time is the
//   fair single-core figure.
//   TTS time to first audio: from speak() to the first PCM chunk for a 20-word sentence (median
//   and worst of 30 runs, the engine already started), and the cold first call.
//
// Usage: bench_speech [--quick]   (--quick: 15 phrases, 10 TTS runs)
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "../../tests/speech/operator_phrases.h"
#include "speech/speech.h"

namespace {

using Clock = std::chrono::steady_clock;
using vigil::speech::RecognitionMode;

double thread_cpu_s() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + ts.tv_nsec * 1e-9;
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const size_t phrases = quick ? 15 : vigil::speech::testing::kOperatorPhrases.size();

  // --- TTS: time to first audio -------------------------------------------------------------
  const std::string sentence =
      "Attention please, a person has been standing near the loading dock for more than five "
      "minutes without moving at all.";  // 20 words
  const auto cold_start = Clock::now();
  double cold_first = -1;
  {
    vigil::speech::Synthesizer tts;
    tts.speak(sentence, [&](std::span<const float>, size_t) {
      if (cold_first < 0) cold_first = seconds_since(cold_start);
      return true;
    });
  }
  vigil::speech::Synthesizer tts;
  std::vector<double> first_chunk, whole;
  const int runs = quick ? 10 : 30;
  for (int i = 0; i < runs; ++i) {
    double first = -1;
    const auto start = Clock::now();
    tts.speak(sentence, [&](std::span<const float>, size_t) {
      if (first < 0) first = seconds_since(start);
      return true;
    });
    first_chunk.push_back(first);
    whole.push_back(seconds_since(start));
  }
  std::sort(first_chunk.begin(), first_chunk.end());
  std::sort(whole.begin(), whole.end());
  const double audio_s = tts.synthesize(sentence).duration_s();
  std::printf("TTS (espeak-ng, en-us 175 wpm), 20-word sentence, %.2f s of audio, %d runs:\n",
              audio_s, runs);
  std::printf("  time to first audio: median %.1f ms, worst %.1f ms (cold first call %.1f ms)\n",
              1e3 * first_chunk[first_chunk.size() / 2], 1e3 * first_chunk.back(),
              1e3 * cold_first);
  std::printf("  whole sentence: median %.1f ms\n", 1e3 * whole[whole.size() / 2]);

  // --- STT: real-time factor ----------------------------------------------------------------
  std::vector<std::vector<float>> audio;
  double audio_total_s = 0;
  for (size_t i = 0; i < phrases; ++i) {
    audio.push_back(vigil::speech::to_speech_format(
        tts.synthesize(vigil::speech::testing::kOperatorPhrases[i])));
    audio_total_s += static_cast<double>(audio.back().size()) / vigil::speech::kSpeechRate;
  }
  const auto load_start = Clock::now();
  vigil::speech::Recognizer recognizer(vigil::speech::default_vocabulary());
  std::printf("STT (PocketSphinx en-us), %zu utterances, %.1f s of audio; model load %.2f s\n",
              phrases, audio_total_s, seconds_since(load_start));
  recognizer.recognize(audio[0], RecognitionMode::kFreeForm, 0.0);  // loads the LM: not timed

  const std::pair<const char*, RecognitionMode> modes[] = {
      {"grammar (default, with fallback)", RecognitionMode::kGrammarWithFallback},
      {"grammar only", RecognitionMode::kGrammarOnly},
      {"free-form language model", RecognitionMode::kFreeForm},
  };
  for (const auto& [name, mode] : modes) {
    size_t right = 0;
    const double cpu0 = thread_cpu_s();
    const auto wall0 = Clock::now();
    for (size_t i = 0; i < phrases; ++i) {
      right += recognizer.recognize(audio[i], mode, 0.0).text ==
               vigil::speech::testing::kOperatorPhrases[i];
    }
    const double cpu = thread_cpu_s() - cpu0, wall = seconds_since(wall0);
    std::printf("  %-34s RTF %.3f (CPU) / %.3f (wall), %zu/%zu exactly right\n", name,
                cpu / audio_total_s, wall / audio_total_s, right, phrases);
  }
  return 0;
}
