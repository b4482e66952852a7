// Unicode helpers for the tokenizers: strict UTF-8 decoding, code point classes (from ICU, so the
// tables follow the Unicode version of the system's ICU), normalization forms, and the GPT-2
// byte <-> code point mapping used by byte-level BPE.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::tok {

constexpr uint32_t kReplacementChar = 0xFFFD;

// Decodes one code point at `pos` and advances `pos`. Invalid input (bad lead or continuation
// byte, truncation, overlong form, surrogate, > U+10FFFF) yields kReplacementChar and advances
// by exactly one byte, as llama.cpp does.
uint32_t decode_utf8(std::string_view s, size_t& pos);

// All code points of `s`, invalid bytes replaced one by one with U+FFFD.
std::vector<uint32_t> to_code_points(std::string_view s);

void append_utf8(std::string& out, uint32_t cp);
std::string to_utf8(uint32_t cp);

// Byte length of the UTF-8 sequence that starts with `lead`, judged by the lead byte alone
// (1 for ASCII and for stray continuation bytes). Used by the SentencePiece symbol split, which
// never validates its input.
size_t utf8_sequence_length(uint8_t lead);

// `s` with every ill-formed subsequence replaced by U+FFFD ("maximal subpart" rule of the
// Unicode standard, the same as WHATWG decoders and Rust's from_utf8_lossy).
std::string sanitize_utf8(std::string_view s);

// Coarse classes of a code point, as used by pre-tokenizer patterns.
enum CodePointClass : uint16_t {
  kClassLetter = 1 << 0,       // \p{L}
  kClassNumber = 1 << 1,       // \p{N}
  kClassPunctuation = 1 << 2,  // \p{P}
  kClassSymbol = 1 << 3,       // \p{S}
  kClassMark = 1 << 4,         // \p{M}
  kClassSeparator = 1 << 5,    // \p{Z}
  kClassControl = 1 << 6,      // \p{C} (Cc, Cf, Cs, Co, Cn)
  kClassWhitespace = 1 << 7,   // White_Space property (\s)
};
uint16_t code_point_classes(uint32_t cp);
inline bool is_whitespace(uint32_t cp) {
  return code_point_classes(cp) & kClassWhitespace;
}
bool is_nonspacing_mark(uint32_t cp);  // Mn
uint32_t to_lower(uint32_t cp);        // simple (1:1) lowercase mapping

enum class NormalForm { NFC, NFD, NFKC, NFKD };
// Normalizes valid UTF-8 (invalid bytes become U+FFFD first).
std::string normalize(std::string_view s, NormalForm form);
std::vector<uint32_t> normalize(const std::vector<uint32_t>& cps, NormalForm form);

// GPT-2 byte-level mapping: each byte is shown as a printable code point (printable Latin-1
// bytes map to themselves, the other 68 to U+0100..U+0143).
uint32_t byte_to_code_point(uint8_t byte);
// Inverse of byte_to_code_point; -1 when `cp` is not the image of a byte.
int code_point_to_byte(uint32_t cp);
// UTF-8 of the mapped code point of every byte of `bytes`.
std::string bytes_to_byte_level(std::string_view bytes);

}  // namespace vigil::tok
