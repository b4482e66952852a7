// Encoding and decoding. The algorithms follow llama.cpp (src/llama-vocab.cpp) for GGUF
// vocabularies and Hugging Face `tokenizers` for tokenizer.json; comments point out where the two
// differ and which one a path follows.
#include <algorithm>
#include <queue>

#include "base/error.h"
#include "base/log.h"
#include "llm/tokenizer/tokenizer_impl.h"

namespace vigil {

using tok::kAttrByte;
using tok::kAttrControl;
using tok::kAttrLstrip;
using tok::kAttrNormal;
using tok::kAttrRstrip;
using tok::kAttrUnknown;
using tok::kAttrUserDefined;

namespace tok {

uint16_t attr_from_type(int64_t type) {
  switch (type) {
    case kTypeNormal:
      return kAttrNormal;
    case kTypeUnknown:
      return kAttrUnknown;
    case kTypeControl:
      return kAttrControl;
    case kTypeUserDefined:
      return kAttrUserDefined;
    case kTypeUnused:
      return kAttrUnused;
    case kTypeByte:
      return kAttrByte;
    default:
      return kAttrUndefined;
  }
}

}  // namespace tok

namespace {

constexpr std::string_view kSpaceMarker = "\xE2\x96\x81";  // U+2581, SentencePiece's space

// C isspace() in the "C" locale, which llama.cpp uses for the lstrip/rstrip of special tokens.
bool is_ascii_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  if (from.empty() || s.find(from) == std::string::npos) return;
  std::string out;
  out.reserve(s.size());
  size_t pos = 0;
  while (true) {
    const size_t hit = s.find(from, pos);
    if (hit == std::string::npos) break;
    out.append(s, pos, hit - pos);
    out.append(to);
    pos = hit + from.size();
  }
  out.append(s, pos, std::string::npos);
  s = std::move(out);
}

// End-of-turn style tokens that llama.cpp recognises by their text; they are forced to control
// tokens (so they are not matched in plain text unless parse_special) and end generation.
constexpr std::string_view kEotTexts[] = {
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "<|end_of_text|>",
    "<EOT>",
    "_<EOT>",
    "<\xEF\xBD\x9C"
    "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>",
};
constexpr std::string_view kEogTexts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>",   "<|endoftext|>",
    "<|eom_id|>", "<EOT>",      "_<EOT>",  "<|end_of_text|>",
};

// A stretch of the input: a special token (token >= 0) or text [offset, offset + length).
struct Fragment {
  int32_t token = -1;
  size_t offset = 0;
  size_t length = 0;
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Setup shared by the loaders.

void Tokenizer::Impl::finish() {
  const auto n = static_cast<int32_t>(tokens.size());
  ids.clear();
  ids.reserve(tokens.size());
  size_t longest = 0;
  for (int32_t i = 0; i < n; ++i) {
    ids[tokens[i].text] = i;  // a duplicate text resolves to the last id, as in llama.cpp
    longest = std::max(longest, tokens[i].text.size());
  }
  max_token_bytes = longest;

  for (int32_t* id :
       {&bos_id, &eos_id, &eot_id, &eom_id, &unk_id, &pad_id, &sep_id, &cls_id, &mask_id}) {
    if (*id < -1 || *id >= n) *id = -1;
  }

  // End of turn / end of generation by text, in id order (llama.cpp walks a hash map, so its
  // choice among several candidates is arbitrary; vocabularies have at most one in practice).
  for (int32_t i = 0; i < n; ++i) {
    const std::string& text = tokens[i].text;
    const bool eot_like =
        std::find(std::begin(kEotTexts), std::end(kEotTexts), text) != std::end(kEotTexts);
    const bool eog_like =
        std::find(std::begin(kEogTexts), std::end(kEogTexts), text) != std::end(kEogTexts);
    if (eot_like && eot_id < 0) eot_id = i;
    if (text == "<|eom_id|>" && eom_id < 0) eom_id = i;
    if (eot_like || eog_like) {
      if ((tokens[i].attr & kAttrControl) == 0) {
        spdlog::debug("{}: token {} '{}' looks like a control token; treating it as one", source, i,
                      printable(text));
        tokens[i].attr = kAttrControl | (tokens[i].attr & (kAttrLstrip | kAttrRstrip));
      }
    }
    if (eog_like) eog_ids.push_back(i);
  }
  for (int32_t id : {eos_id, eot_id, eom_id}) {
    if (id >= 0) eog_ids.push_back(id);
  }
  std::sort(eog_ids.begin(), eog_ids.end());
  eog_ids.erase(std::unique(eog_ids.begin(), eog_ids.end()), eog_ids.end());

  special_tokens.clear();
  for (int32_t i = 0; i < n; ++i) {
    if ((tokens[i].attr & (kAttrControl | kAttrUserDefined | kAttrUnknown)) &&
        !tokens[i].text.empty()) {
      special_tokens.push_back(i);
    }
  }
  std::stable_sort(special_tokens.begin(), special_tokens.end(), [&](int32_t a, int32_t b) {
    return tokens[a].text.size() > tokens[b].text.size();
  });

  byte_tokens.assign(256, -1);
  for (int b = 0; b < 256; ++b) {
    int32_t id = -1;
    if (piece_style != tok::PieceStyle::kByteLevel) {
      id = find(fmt::format("<0x{:02X}>", b));
      if (id < 0) id = find(std::string(1, static_cast<char>(b)));
    } else {
      id = find(tok::to_utf8(tok::byte_to_code_point(static_cast<uint8_t>(b))));
    }
    byte_tokens[b] = id;
  }
}

int32_t Tokenizer::Impl::byte_token(uint8_t byte) const {
  return byte_tokens[byte];
}

void Tokenizer::Impl::check_id(int32_t id) const {
  if (id < 0 || id >= static_cast<int32_t>(tokens.size())) {
    fail("token id {} is out of range [0, {}) of the vocabulary of {}", id, tokens.size(), source);
  }
}

// ---------------------------------------------------------------------------------------------
// Encoding.

std::vector<int32_t> Tokenizer::Impl::encode(std::string_view text, bool add_special,
                                             bool parse_special) const {
  // Split the input at special tokens, longest token text first (llama.cpp's
  // tokenizer_st_partition). Control and unknown tokens count only with parse_special;
  // user-defined tokens always do.
  std::vector<Fragment> fragments;
  if (!text.empty()) fragments.push_back({-1, 0, text.size()});
  std::vector<Fragment> next;
  for (int32_t special : special_tokens) {
    const tok::TokenData& data = tokens[special];
    if (!parse_special && (data.attr & (kAttrControl | kAttrUnknown))) continue;
    const std::string_view needle = data.text;
    next.clear();
    for (const Fragment& f : fragments) {
      if (f.token >= 0) {
        next.push_back(f);
        continue;
      }
      size_t offset = f.offset;
      size_t length = f.length;
      while (true) {
        const size_t match = text.substr(0, offset + length).find(needle, offset);
        if (match == std::string_view::npos) {
          next.push_back({-1, offset, length});
          break;
        }
        size_t left = match - offset;
        if (data.attr & kAttrLstrip) {
          while (left > 0 && is_ascii_space(text[offset + left - 1])) --left;
        }
        if (left > 0) next.push_back({-1, offset, left});
        next.push_back({special, 0, 0});
        size_t right_offset = match + needle.size();
        size_t right = offset + length - right_offset;
        if (data.attr & kAttrRstrip) {
          while (right > 0 && is_ascii_space(text[right_offset])) {
            ++right_offset;
            --right;
          }
        }
        if (right == 0) break;
        offset = right_offset;
        length = right;
      }
    }
    fragments.swap(next);
  }

  std::vector<int32_t> out;
  if (add_special) {
    if (kind == Kind::WordPiece) {
      const int32_t first = cls_id >= 0 ? cls_id : bos_id;
      if (first >= 0) out.push_back(first);
    } else if (add_bos && bos_id >= 0) {
      out.push_back(bos_id);
    }
  }
  for (const Fragment& f : fragments) {
    if (f.token >= 0) {
      out.push_back(f.token);
    } else {
      encode_fragment(text.substr(f.offset, f.length), f.offset == 0, out);
    }
  }
  if (add_special) {
    if (kind == Kind::WordPiece) {
      if (sep_id >= 0) out.push_back(sep_id);
    } else if (add_eos && eos_id >= 0) {
      out.push_back(eos_id);
    }
  }
  return out;
}

void Tokenizer::Impl::encode_fragment(std::string_view fragment, bool at_input_start,
                                      std::vector<int32_t>& out) const {
  std::string text(fragment);
  for (const tok::NormalizerStep& step : normalizer) {
    switch (step.kind) {
      case tok::NormalizerStep::kUnicode:
        text = tok::normalize(text, step.form);
        break;
      case tok::NormalizerStep::kPrepend:
        if (text.empty() || (step.first_fragment_only && !at_input_start)) break;
        if (step.unless_present && text.starts_with(step.text)) break;
        text.insert(0, step.text);
        break;
      case tok::NormalizerStep::kReplace:
        replace_all(text, step.text, step.replacement);
        break;
      case tok::NormalizerStep::kLowercase: {
        std::string lower;
        lower.reserve(text.size());
        for (uint32_t cp : tok::to_code_points(text)) tok::append_utf8(lower, tok::to_lower(cp));
        text = std::move(lower);
        break;
      }
    }
  }
  if (text.empty()) return;

  switch (algorithm) {
    case tok::Algorithm::kSentencePieceScores:
      encode_spm(text, out);
      return;
    case tok::Algorithm::kWordPiece:
      encode_wordpiece(text, out);
      return;
    case tok::Algorithm::kBpeMerges:
      break;
  }
  if (pre_regexes.empty()) {
    encode_bpe_word(byte_level ? tok::bytes_to_byte_level(text) : text, out);
    return;
  }
  // Pre-tokenize over code points (invalid UTF-8 becomes U+FFFD here, as in llama.cpp).
  const std::vector<uint32_t> cps = tok::to_code_points(text);
  const std::vector<size_t> lengths = tok::split_with_all(cps, pre_regexes);
  size_t start = 0;
  std::string word;
  for (size_t len : lengths) {
    word.clear();
    for (size_t i = start; i < start + len; ++i) tok::append_utf8(word, cps[i]);
    start += len;
    encode_bpe_word(byte_level ? tok::bytes_to_byte_level(word) : word, out);
  }
}

// llama.cpp's SentencePiece tokenizer: start from UTF-8 characters and repeatedly merge the
// adjacent pair whose concatenation is the vocabulary token of highest score (leftmost on ties).
// Pieces that are not tokens in the end are emitted as byte tokens.
void Tokenizer::Impl::encode_spm(const std::string& text, std::vector<int32_t>& out) const {
  struct Symbol {
    int prev;
    int next;
    size_t offset;
    size_t n;  // bytes; 0 once merged into the symbol on its left
  };
  struct Bigram {
    int left;
    int right;
    float score;
    size_t size;
  };
  struct Lower {
    bool operator()(const Bigram& a, const Bigram& b) const {
      return a.score < b.score || (a.score == b.score && a.left > b.left);
    }
  };

  std::vector<Symbol> symbols;
  symbols.reserve(text.size());
  for (size_t offset = 0; offset < text.size();) {
    const size_t len = std::min(tok::utf8_sequence_length(static_cast<uint8_t>(text[offset])),
                                text.size() - offset);
    const int index = static_cast<int>(symbols.size());
    symbols.push_back({index - 1, offset + len == text.size() ? -1 : index + 1, offset, len});
    offset += len;
  }
  if (symbols.empty()) return;

  std::priority_queue<Bigram, std::vector<Bigram>, Lower> queue;
  auto try_add = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const std::string_view piece(text.data() + symbols[left].offset,
                                 symbols[left].n + symbols[right].n);
    const int32_t id = find(piece);
    if (id < 0) return;
    queue.push({left, right, tokens[id].score, piece.size()});
  };
  for (int i = 1; i < static_cast<int>(symbols.size()); ++i) try_add(i - 1, i);

  while (!queue.empty()) {
    const Bigram bigram = queue.top();
    queue.pop();
    Symbol& left = symbols[bigram.left];
    Symbol& right = symbols[bigram.right];
    // Skip pairs that changed since they were queued.
    if (left.n == 0 || right.n == 0 || left.n + right.n != bigram.size) continue;
    left.n += right.n;
    right.n = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = bigram.left;
    try_add(left.prev, bigram.left);
    try_add(bigram.left, left.next);
  }

  for (int i = 0; i != -1; i = symbols[i].next) {
    const std::string_view piece(text.data() + symbols[i].offset, symbols[i].n);
    const int32_t id = find(piece);
    if (id >= 0) {
      out.push_back(id);
      continue;
    }
    for (char c : piece) {
      const int32_t b = byte_token(static_cast<uint8_t>(c));
      if (b >= 0) {
        out.push_back(b);
      } else if (unk_id >= 0) {
        out.push_back(unk_id);
      }
    }
  }
}

// BPE over one word: start from characters (or, with byte fallback, byte tokens for characters
// that are not in the vocabulary) and repeatedly apply the listed merge of lowest rank (leftmost
// on ties). Both llama.cpp and HF `tokenizers` do this; they differ only for characters missing
// from the vocabulary (see unknown_to_unk).
void Tokenizer::Impl::encode_bpe_word(std::string_view word, std::vector<int32_t>& out) const {
  if (word.empty()) return;
  if (ignore_merges) {
    const int32_t id = find(word);
    if (id >= 0) {
      out.push_back(id);
      return;
    }
  }
  struct Symbol {
    int prev;
    int next;
    int32_t id;  // -1: not in the vocabulary (llama.cpp mode only)
    size_t offset;
    size_t n;  // bytes; 0 once merged away
  };
  std::vector<Symbol> symbols;
  symbols.reserve(word.size());
  auto add_symbol = [&](int32_t id, size_t offset, size_t n) {
    symbols.push_back({static_cast<int>(symbols.size()) - 1, -1, id, offset, n});
  };
  bool last_is_unknown = false;  // for fuse_unk
  for (size_t offset = 0; offset < word.size();) {
    const size_t len = std::min(tok::utf8_sequence_length(static_cast<uint8_t>(word[offset])),
                                word.size() - offset);
    const std::string_view ch = word.substr(offset, len);
    const int32_t id = find(ch);
    if (id >= 0 || !unknown_to_unk) {
      add_symbol(id, offset, len);
      last_is_unknown = false;
    } else {
      bool all_bytes = byte_fallback;
      for (size_t k = 0; all_bytes && k < len; ++k) {
        all_bytes = byte_token(static_cast<uint8_t>(ch[k])) >= 0;
      }
      if (all_bytes) {
        for (size_t k = 0; k < len; ++k) {
          add_symbol(byte_token(static_cast<uint8_t>(ch[k])), offset + k, 1);
        }
        last_is_unknown = false;
      } else if (unk_id >= 0) {
        if (fuse_unk && last_is_unknown) {
          symbols.back().n += len;
        } else {
          add_symbol(unk_id, offset, len);
        }
        last_is_unknown = true;
      }
    }
    offset += len;
  }
  for (size_t i = 0; i + 1 < symbols.size(); ++i) symbols[i].next = static_cast<int>(i + 1);

  struct Candidate {
    int32_t rank;
    int left;
    int right;
    int32_t left_id;
    int32_t right_id;
    int32_t result;
  };
  struct Later {
    bool operator()(const Candidate& a, const Candidate& b) const {
      return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
    }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, Later> queue;
  auto try_add = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const int32_t a = symbols[left].id;
    const int32_t b = symbols[right].id;
    if (a < 0 || b < 0) return;
    auto it = merges.find((static_cast<uint64_t>(a) << 32) | static_cast<uint32_t>(b));
    if (it == merges.end()) return;
    queue.push({it->second.rank, left, right, a, b, it->second.result});
  };
  for (size_t i = 1; i < symbols.size(); ++i) try_add(static_cast<int>(i - 1), static_cast<int>(i));

  while (!queue.empty()) {
    const Candidate c = queue.top();
    queue.pop();
    Symbol& left = symbols[c.left];
    Symbol& right = symbols[c.right];
    // Skip pairs that changed since they were queued.
    if (left.n == 0 || right.n == 0 || left.next != c.right || left.id != c.left_id ||
        right.id != c.right_id) {
      continue;
    }
    left.n += right.n;
    left.id = c.result;
    right.n = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = c.left;
    try_add(left.prev, c.left);
    try_add(c.left, left.next);
  }

  for (const Symbol& s : symbols) {
    if (s.n == 0) continue;
    if (s.id >= 0) {
      out.push_back(s.id);
      continue;
    }
    // llama.cpp: a piece that is no token is emitted byte by byte, each byte looked up as a
    // one-character token (found only for ASCII bytes in byte-level vocabularies).
    for (size_t k = 0; k < s.n; ++k) {
      const int32_t id = find(word.substr(s.offset + k, 1));
      if (id >= 0) out.push_back(id);
    }
  }
}

namespace {

bool is_cjk_ideograph(uint32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
         (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
         (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

bool is_bert_punctuation(uint32_t cp) {
  const bool ascii_punct = (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) ||
                           (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126);
  return ascii_punct || (tok::code_point_classes(cp) & tok::kClassPunctuation);
}

}  // namespace

// BERT: HF BertNormalizer (clean text, space out CJK ideographs, strip accents, lowercase), then
// BertPreTokenizer (split on whitespace, punctuation on its own), then WordPiece greedy
// longest-match-first per word. llama.cpp's WPM differs slightly (it keeps accents); the
// reference ids are HF's.
void Tokenizer::Impl::encode_wordpiece(std::string_view text, std::vector<int32_t>& out) const {
  std::vector<uint32_t> cleaned;
  cleaned.reserve(text.size());
  for (uint32_t cp : tok::to_code_points(text)) {
    const uint16_t classes = tok::code_point_classes(cp);
    const bool tab_or_newline = cp == '\t' || cp == '\n' || cp == '\r';
    if (cp == 0 || cp == tok::kReplacementChar ||
        ((classes & tok::kClassControl) && !tab_or_newline)) {
      continue;
    }
    if (tab_or_newline || (classes & tok::kClassWhitespace)) {
      cleaned.push_back(' ');
    } else if (is_cjk_ideograph(cp)) {
      cleaned.push_back(' ');
      cleaned.push_back(cp);
      cleaned.push_back(' ');
    } else {
      cleaned.push_back(cp);
    }
  }
  std::vector<uint32_t> normalized;
  normalized.reserve(cleaned.size());
  for (uint32_t cp : tok::normalize(cleaned, tok::NormalForm::NFD)) {
    if (!tok::is_nonspacing_mark(cp)) normalized.push_back(tok::to_lower(cp));
  }

  auto emit_word = [&](std::span<const uint32_t> chars) {
    if (chars.empty()) return;
    if (chars.size() > max_word_chars) {
      if (unk_id >= 0) out.push_back(unk_id);
      return;
    }
    const size_t mark = out.size();
    std::string key;
    size_t start = 0;
    while (start < chars.size()) {
      int32_t found = -1;
      size_t end = chars.size();
      for (; end > start; --end) {
        key = start == 0 ? word_prefix : continuation_prefix;
        for (size_t i = start; i < end; ++i) tok::append_utf8(key, chars[i]);
        if (key.size() > max_token_bytes) continue;
        found = find(key);
        if (found >= 0) break;
      }
      if (found < 0) {
        out.resize(mark);  // the whole word is unknown
        if (unk_id >= 0) out.push_back(unk_id);
        return;
      }
      out.push_back(found);
      start = end;
    }
  };

  size_t word_start = 0;
  for (size_t i = 0; i < normalized.size(); ++i) {
    const uint32_t cp = normalized[i];
    if (tok::is_whitespace(cp)) {
      emit_word(std::span(normalized).subspan(word_start, i - word_start));
      word_start = i + 1;
    } else if (is_bert_punctuation(cp)) {
      emit_word(std::span(normalized).subspan(word_start, i - word_start));
      emit_word(std::span(normalized).subspan(i, 1));
      word_start = i + 1;
    }
  }
  emit_word(std::span(normalized).subspan(word_start));
}

// ---------------------------------------------------------------------------------------------
// Decoding.

std::string Tokenizer::Impl::piece(int32_t id, bool render_special) const {
  const tok::TokenData& t = tokens[id];
  const bool word_piece = piece_style == tok::PieceStyle::kWordPiece;
  if (t.attr & (kAttrControl | kAttrUnknown)) {
    if (!render_special) return {};
    return word_piece ? " " + t.text : t.text;
  }
  if (t.attr & kAttrUserDefined) return word_piece ? " " + t.text : t.text;
  if (t.attr & kAttrNormal) {
    if (piece_style != tok::PieceStyle::kByteLevel) {
      std::string s = t.text;
      replace_all(s, kSpaceMarker, " ");
      return s;
    }
    // Byte level: every character maps back to one byte; a token with characters outside the
    // table is shown as its own text (HF's ByteLevel decoder does the same).
    std::string bytes;
    bytes.reserve(t.text.size());
    size_t pos = 0;
    while (pos < t.text.size()) {
      const int b = tok::code_point_to_byte(tok::decode_utf8(t.text, pos));
      if (b < 0) return t.text;
      bytes += static_cast<char>(b);
    }
    return bytes;
  }
  if ((t.attr & kAttrByte) && piece_style != tok::PieceStyle::kByteLevel) {
    // "<0xNN>"
    const std::string& s = t.text;
    if (s.size() == 6 && s.starts_with("<0x") && s.back() == '>') {
      auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        return -1;
      };
      const int hi = hex(s[3]);
      const int lo = hex(s[4]);
      if (hi >= 0 && lo >= 0) return std::string(1, static_cast<char>(hi * 16 + lo));
    }
    return t.text;
  }
  return {};  // unused / undefined tokens render as nothing, as in llama.cpp
}

// ---------------------------------------------------------------------------------------------
// Public API.

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::~Tokenizer() = default;

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special,
                                       bool parse_special) const {
  return impl_->encode(text, add_special, parse_special);
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool render_special) const {
  std::string text;
  for (int32_t id : ids) {
    impl_->check_id(id);
    text += impl_->piece(id, render_special);
  }
  if (impl_->strip_leading_space && !text.empty() && text[0] == ' ') text.erase(0, 1);
  return tok::sanitize_utf8(text);
}

std::string Tokenizer::token_to_piece(int32_t id, bool render_special) const {
  impl_->check_id(id);
  return impl_->piece(id, render_special);
}

Tokenizer::Kind Tokenizer::kind() const {
  return impl_->kind;
}
const std::string& Tokenizer::pre() const {
  return impl_->pre;
}
int32_t Tokenizer::n_vocab() const {
  return static_cast<int32_t>(impl_->tokens.size());
}
int32_t Tokenizer::bos() const {
  return impl_->bos_id;
}
int32_t Tokenizer::eos() const {
  return impl_->eos_id;
}
int32_t Tokenizer::unk() const {
  return impl_->unk_id;
}
int32_t Tokenizer::pad() const {
  return impl_->pad_id;
}
bool Tokenizer::add_bos() const {
  return impl_->add_bos;
}
bool Tokenizer::add_eos() const {
  return impl_->add_eos;
}

bool Tokenizer::is_eog(int32_t id) const {
  return std::binary_search(impl_->eog_ids.begin(), impl_->eog_ids.end(), id);
}

bool Tokenizer::is_control(int32_t id) const {
  impl_->check_id(id);
  return impl_->tokens[id].attr & (kAttrControl | kAttrUnknown);
}

const std::string& Tokenizer::token_text(int32_t id) const {
  impl_->check_id(id);
  return impl_->tokens[id].text;
}

int32_t Tokenizer::token_id(std::string_view text) const {
  return impl_->find(text);
}

}  // namespace vigil
