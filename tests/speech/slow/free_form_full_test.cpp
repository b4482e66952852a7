// The free-form language model on the whole round-trip set (4 voices x 45 phrases), next to the
// grammar, for the comparison in docs/SPEECH.md. Slow: label "slow".
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "operator_phrases.h"
#include "speech/speech.h"

namespace vigil::speech {
namespace {

size_t word_errors(const std::string& reference, const std::string& hypothesis,
                   size_t* reference_words) {
  auto split = [](const std::string& s) {
    std::istringstream in(s);
    std::vector<std::string> w;
    for (std::string x; in >> x;) w.push_back(x);
    return w;
  };
  const auto a = split(reference), b = split(hypothesis);
  *reference_words += a.size();
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

TEST(SpeechSlow, FreeFormOnTheWholeRoundTripSet) {
  const VoiceOptions variants[] = {{"en-us", 175, 100, 50, ""},
                                   {"en-us+f2", 170, 100, 50, ""},
                                   {"en-us+klatt4", 190, 100, 50, ""},
                                   {"en-us+klatt", 150, 100, 50, ""}};
  Recognizer recognizer(default_vocabulary());
  size_t n = 0, grammar_exact = 0, free_exact = 0, grammar_errors = 0, free_errors = 0, words = 0,
         unused = 0;
  for (const VoiceOptions& v : variants) {
    Synthesizer tts(v);
    for (std::string_view phrase : testing::kOperatorPhrases) {
      const std::string p(phrase);
      const std::vector<float> audio = to_speech_format(tts.synthesize(p));
      const std::string g = recognizer.recognize(audio, RecognitionMode::kGrammarOnly, 0).text;
      const std::string f = recognizer.recognize(audio, RecognitionMode::kFreeForm, 0).text;
      ++n;
      grammar_exact += g == p;
      free_exact += f == p;
      grammar_errors += word_errors(p, g, &words);
      free_errors += word_errors(p, f, &unused);
    }
  }
  std::printf(
      "whole round-trip set, %zu utterances:\n"
      "  grammar:   %zu exactly right (%.1f%%), WER %.1f%%\n"
      "  free-form: %zu exactly right (%.1f%%), WER %.1f%%\n",
      n, grammar_exact, 100.0 * grammar_exact / n, 100.0 * grammar_errors / words, free_exact,
      100.0 * free_exact / n, 100.0 * free_errors / words);
  EXPECT_LT(free_errors, words * 9 / 10);
  EXPECT_GT(grammar_exact, free_exact + n / 3);
}

}  // namespace
}  // namespace vigil::speech
