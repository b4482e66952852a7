// Spelling unknown words: espeak-ng's IPA mapped onto the CMU dictionary's ARPAbet phones, and
// the word list of a JSGF grammar (to find the words the dictionary lacks).
#include <array>
#include <cctype>
#include <set>

#include "speech/internal.h"

namespace vigil::speech::internal {
namespace {

struct IpaPhone {
  std::string_view ipa;
  std::string_view arpabet;  // may be two phones ("AA R")
};

// Longest symbols first: matching is greedy, so "aɪ" must be tried before "a".
constexpr std::array kIpaTable = {
    IpaPhone{"ɑːɹ", "AA R"}, IpaPhone{"ɔːɹ", "AO R"},  IpaPhone{"oːɹ", "AO R"},
    IpaPhone{"ɛɹ", "EH R"},  IpaPhone{"ɪɹ", "IH R"},   IpaPhone{"ʊɹ", "UH R"},
    IpaPhone{"ɚɹ", "ER"},    IpaPhone{"aɪə", "AY ER"}, IpaPhone{"aʊə", "AW ER"},
    IpaPhone{"tʃ", "CH"},    IpaPhone{"dʒ", "JH"},     IpaPhone{"aɪ", "AY"},
    IpaPhone{"aʊ", "AW"},    IpaPhone{"eɪ", "EY"},     IpaPhone{"oʊ", "OW"},
    IpaPhone{"əʊ", "OW"},    IpaPhone{"ɔɪ", "OY"},     IpaPhone{"iə", "IH R"},
    IpaPhone{"eə", "EH R"},  IpaPhone{"ɜː", "ER"},     IpaPhone{"ɑː", "AA"},
    IpaPhone{"ɔː", "AO"},    IpaPhone{"iː", "IY"},     IpaPhone{"uː", "UW"},
    IpaPhone{"oː", "AO"},    IpaPhone{"ɚ", "ER"},      IpaPhone{"ɝ", "ER"},
    IpaPhone{"ə", "AH"},     IpaPhone{"ɐ", "AH"},      IpaPhone{"ʌ", "AH"},
    IpaPhone{"ᵻ", "IH"},     IpaPhone{"ɪ", "IH"},      IpaPhone{"i", "IY"},
    IpaPhone{"ɛ", "EH"},     IpaPhone{"e", "EH"},      IpaPhone{"æ", "AE"},
    IpaPhone{"a", "AE"},     IpaPhone{"ɑ", "AA"},      IpaPhone{"ɒ", "AA"},
    IpaPhone{"ɔ", "AO"},     IpaPhone{"o", "OW"},      IpaPhone{"ʊ", "UH"},
    IpaPhone{"u", "UW"},     IpaPhone{"p", "P"},       IpaPhone{"b", "B"},
    IpaPhone{"t", "T"},      IpaPhone{"d", "D"},       IpaPhone{"ɾ", "T"},
    IpaPhone{"ʔ", "T"},      IpaPhone{"k", "K"},       IpaPhone{"ɡ", "G"},
    IpaPhone{"g", "G"},      IpaPhone{"f", "F"},       IpaPhone{"v", "V"},
    IpaPhone{"θ", "TH"},     IpaPhone{"ð", "DH"},      IpaPhone{"s", "S"},
    IpaPhone{"z", "Z"},      IpaPhone{"ʃ", "SH"},      IpaPhone{"ʒ", "ZH"},
    IpaPhone{"h", "HH"},     IpaPhone{"x", "HH"},      IpaPhone{"m", "M"},
    IpaPhone{"n", "N"},      IpaPhone{"ŋ", "NG"},      IpaPhone{"l", "L"},
    IpaPhone{"ɬ", "L"},      IpaPhone{"ɹ", "R"},       IpaPhone{"r", "R"},
    IpaPhone{"w", "W"},      IpaPhone{"j", "Y"},
};

bool is_word_char(unsigned char c) {
  return std::isalnum(c) || c == '\'' || c == '_' || c >= 0x80;
}

}  // namespace

std::string ipa_to_arpabet(std::string_view ipa) {
  std::string out;
  size_t i = 0;
  while (i < ipa.size()) {
    bool matched = false;
    for (const IpaPhone& p : kIpaTable) {
      if (ipa.substr(i, p.ipa.size()) == p.ipa) {
        if (!out.empty()) out += ' ';
        out += p.arpabet;
        i += p.ipa.size();
        matched = true;
        break;
      }
    }
    if (matched) continue;
    // Stress and length marks, ties, spaces and anything unknown: skip one UTF-8 character.
    ++i;
    while (i < ipa.size() && (static_cast<unsigned char>(ipa[i]) & 0xC0) == 0x80) ++i;
  }
  return out;
}

std::vector<std::string> grammar_words(std::string_view jsgf) {
  std::vector<std::string> words;
  std::set<std::string> seen;
  size_t i = 0;
  // Skip the "#JSGF ...;" and "grammar name;" header statements.
  for (int statement = 0; statement < 2; ++statement) {
    const size_t end = jsgf.find(';', i);
    if (end == std::string_view::npos) return words;
    i = end + 1;
  }
  bool in_rule_body = false;
  while (i < jsgf.size()) {
    const auto c = static_cast<unsigned char>(jsgf[i]);
    if (c == '/' && i + 1 < jsgf.size() && jsgf[i + 1] == '/') {  // comment to end of line
      while (i < jsgf.size() && jsgf[i] != '\n') ++i;
    } else if (c == '/') {  // weight: /2.5/
      const size_t end = jsgf.find('/', i + 1);
      i = end == std::string_view::npos ? jsgf.size() : end + 1;
    } else if (c == '<') {  // rule reference or definition
      const size_t end = jsgf.find('>', i);
      i = end == std::string_view::npos ? jsgf.size() : end + 1;
    } else if (c == '=') {
      in_rule_body = true;
      ++i;
    } else if (c == ';') {
      in_rule_body = false;
      ++i;
    } else if (is_word_char(c)) {
      size_t j = i;
      while (j < jsgf.size() && is_word_char(static_cast<unsigned char>(jsgf[j]))) ++j;
      std::string word(jsgf.substr(i, j - i));
      // "public" before a rule name is a keyword, not a word.
      if (in_rule_body && seen.insert(word).second) words.push_back(word);
      i = j;
    } else {
      ++i;
    }
  }
  return words;
}

}  // namespace vigil::speech::internal
