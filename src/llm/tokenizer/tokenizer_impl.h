// Internal state of a Tokenizer, shared by the loaders (GGUF, tokenizer.json), the encoders and
// the decoder. Not part of the public API.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "llm/tokenizer/split_regex.h"
#include "llm/tokenizer/tokenizer.h"
#include "llm/tokenizer/unicode.h"

namespace vigil {
namespace tok {

// Hash that lets unordered_map<std::string, ...> be searched with a string_view.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// Token attributes, as llama.cpp derives them from tokenizer.ggml.token_type (plus strip flags).
enum TokenAttr : uint16_t {
  kAttrUndefined = 0,
  kAttrUnknown = 1 << 0,
  kAttrUnused = 1 << 1,
  kAttrNormal = 1 << 2,
  kAttrControl = 1 << 3,
  kAttrUserDefined = 1 << 4,
  kAttrByte = 1 << 5,
  kAttrLstrip = 1 << 6,  // a match in the text also swallows the whitespace before it
  kAttrRstrip = 1 << 7,  // ... and after it
};

// GGUF tokenizer.ggml.token_type values.
enum TokenType : int {
  kTypeUndefined = 0,
  kTypeNormal = 1,
  kTypeUnknown = 2,
  kTypeControl = 3,
  kTypeUserDefined = 4,
  kTypeUnused = 5,
  kTypeByte = 6,
};
uint16_t attr_from_type(int64_t type);

struct TokenData {
  std::string text;
  float score = 0.0f;
  uint16_t attr = kAttrNormal;
};

enum class Algorithm {
  kSentencePieceScores,  // llama.cpp SPM: merge the best-scoring adjacent pair
  kBpeMerges,            // merge the adjacent pair of lowest merge rank (byte-level or not)
  kWordPiece,            // BERT
};

// One step of text normalization, applied to each stretch of text between special tokens.
struct NormalizerStep {
  enum Kind { kUnicode, kPrepend, kReplace, kLowercase };
  Kind kind = kUnicode;
  NormalForm form = NormalForm::NFC;  // kUnicode
  std::string text;                   // kPrepend: prefix; kReplace: pattern
  std::string replacement;            // kReplace
  bool first_fragment_only = false;   // kPrepend: only the text at the very start of the input
  bool unless_present = false;        // kPrepend: not when the text already starts with it
};

// How a token's text becomes output bytes.
enum class PieceStyle {
  kSentencePiece,  // U+2581 -> ' ', <0xNN> byte tokens -> that byte
  kByteLevel,      // GPT-2 byte characters -> bytes
  kWordPiece,      // as kSentencePiece, and special tokens stand apart: " [SEP]" (HF joins
                   // BERT tokens with spaces)
};

}  // namespace tok

struct Tokenizer::Impl {
  std::string source;  // file name, for messages
  Kind kind = Kind::SentencePiece;
  tok::Algorithm algorithm = tok::Algorithm::kSentencePieceScores;
  std::string pre = "default";

  std::vector<tok::TokenData> tokens;
  std::unordered_map<std::string, int32_t, tok::StringHash, std::equal_to<>> ids;
  std::vector<int32_t> byte_tokens;  // [256]: token of each byte for fallback, -1 if none

  int32_t bos_id = -1;
  int32_t eos_id = -1;
  int32_t eot_id = -1;
  int32_t eom_id = -1;
  int32_t unk_id = -1;
  int32_t pad_id = -1;
  int32_t sep_id = -1;
  int32_t cls_id = -1;
  int32_t mask_id = -1;
  bool add_bos = false;
  bool add_eos = false;
  std::vector<int32_t> eog_ids;         // sorted
  std::vector<int32_t> special_tokens;  // matched in text, longest text first

  // Normalization of each text fragment, then pre-tokenization into words.
  std::vector<tok::NormalizerStep> normalizer;
  std::vector<tok::SplitRegex> pre_regexes;  // empty: the whole fragment is one word

  // BPE.
  struct Merge {
    int32_t rank;
    int32_t result;
  };
  std::unordered_map<uint64_t, Merge> merges;  // key: (left id << 32) | right id
  // Map bytes to GPT-2 characters before merging.
  bool byte_level = false;
  // A word that is a whole token is taken as it is (llama3).
  bool ignore_merges = false;
  // HF: a character not in the vocabulary becomes its <0xNN> byte tokens ...
  bool byte_fallback = false;
  // ... or else unk (llama.cpp instead looks its bytes up as one-character tokens).
  bool unknown_to_unk = false;
  // HF: consecutive unknown characters make one unk token.
  bool fuse_unk = false;

  // WordPiece. Words longer than max_word_chars are [UNK] (HF max_input_chars_per_word). GGUF
  // marks word starts with U+2581 and continuations with nothing (HF: "" and "##").
  size_t max_token_bytes = 0;
  size_t max_word_chars = 100;
  std::string word_prefix = "\xE2\x96\x81";
  std::string continuation_prefix;

  // Decoding.
  tok::PieceStyle piece_style = tok::PieceStyle::kSentencePiece;
  bool strip_leading_space = false;  // remove one space at the start of decoded text

  // Shared by the loaders once tokens, attributes and special ids are known: validates the
  // special ids, builds `ids`, the special-token list and the end-of-generation set.
  void finish();

  std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special) const;
  // One stretch of text between special tokens; `at_input_start`: it begins the input.
  void encode_fragment(std::string_view text, bool at_input_start, std::vector<int32_t>& out) const;
  void encode_spm(const std::string& text, std::vector<int32_t>& out) const;
  void encode_bpe_word(std::string_view word, std::vector<int32_t>& out) const;
  void encode_wordpiece(std::string_view text, std::vector<int32_t>& out) const;
  int32_t byte_token(uint8_t byte) const;  // -1 if the vocabulary has none

  std::string piece(int32_t id, bool render_special) const;
  void check_id(int32_t id) const;
  int32_t find(std::string_view text) const {
    auto it = ids.find(text);
    return it == ids.end() ? -1 : it->second;
  }
};

}  // namespace vigil
