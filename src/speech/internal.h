// Pieces shared between the speech sources (and their tests); not part of the public API.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace vigil::speech::internal {

// The IPA transcription espeak-ng gives a word or phrase (voice "en-us"), e.g. "kˈɑːɹpɔːɹt".
// Uses the process-wide espeak-ng engine (tts.cpp). Throws vigil::Error if it cannot start.
std::string espeak_ipa(std::string_view text);

// Maps espeak-ng's English IPA onto the ARPAbet phones of the CMU dictionary / PocketSphinx en-us
// model ("kˈɑːɹpɔːɹt" -> "K AA R P AO R T"). Stress marks are dropped; unknown symbols skipped.
std::string ipa_to_arpabet(std::string_view ipa);

// The words a JSGF grammar can produce, in order of first use: the header, rule names,
// operators, weights and comments are removed.
std::vector<std::string> grammar_words(std::string_view jsgf);

}  // namespace vigil::speech::internal
