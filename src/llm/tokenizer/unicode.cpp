#include "llm/tokenizer/unicode.h"

#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include <array>

#include "base/error.h"

namespace vigil::tok {
namespace {

bool is_continuation(uint8_t c) {
  return (c & 0xC0) == 0x80;
}

// Allowed range of the second byte after `lead` (Unicode Table 3-7, well-formed UTF-8).
bool second_byte_ok(uint8_t lead, uint8_t c) {
  switch (lead) {
    case 0xE0:
      return c >= 0xA0 && c <= 0xBF;
    case 0xED:
      return c >= 0x80 && c <= 0x9F;
    case 0xF0:
      return c >= 0x90 && c <= 0xBF;
    case 0xF4:
      return c >= 0x80 && c <= 0x8F;
    default:
      return is_continuation(c);
  }
}

// Total length of a well-formed sequence starting with `lead`, 0 if `lead` cannot start one.
size_t expected_length(uint8_t lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

// Length of the valid prefix of a sequence at `pos` (1..len), and whether it is complete.
size_t valid_prefix(std::string_view s, size_t pos, size_t len) {
  const auto lead = static_cast<uint8_t>(s[pos]);
  size_t k = 1;
  while (k < len && pos + k < s.size()) {
    const auto c = static_cast<uint8_t>(s[pos + k]);
    if (k == 1 ? !second_byte_ok(lead, c) : !is_continuation(c)) break;
    ++k;
  }
  return k;
}

const icu::Normalizer2* normalizer(NormalForm form) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* n = nullptr;
  switch (form) {
    case NormalForm::NFC:
      n = icu::Normalizer2::getNFCInstance(status);
      break;
    case NormalForm::NFD:
      n = icu::Normalizer2::getNFDInstance(status);
      break;
    case NormalForm::NFKC:
      n = icu::Normalizer2::getNFKCInstance(status);
      break;
    case NormalForm::NFKD:
      n = icu::Normalizer2::getNFKDInstance(status);
      break;
  }
  if (U_FAILURE(status) || n == nullptr)
    fail("ICU: cannot load normalizer: {}", u_errorName(status));
  return n;
}

icu::UnicodeString normalize_icu(const icu::UnicodeString& in, NormalForm form) {
  const icu::Normalizer2* n = normalizer(form);
  UErrorCode status = U_ZERO_ERROR;
  if (n->isNormalized(in, status) && U_SUCCESS(status)) return in;
  status = U_ZERO_ERROR;
  icu::UnicodeString out = n->normalize(in, status);
  if (U_FAILURE(status)) fail("ICU: normalization failed: {}", u_errorName(status));
  return out;
}

struct ByteLevelTables {
  std::array<uint32_t, 256> byte_to_cp{};
  std::array<int16_t, 0x144> cp_to_byte{};  // every image is below U+0144
  ByteLevelTables() {
    cp_to_byte.fill(-1);
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
      byte_to_cp[b] = printable ? static_cast<uint32_t>(b) : next++;
      cp_to_byte[byte_to_cp[b]] = static_cast<int16_t>(b);
    }
  }
};

const ByteLevelTables& byte_level_tables() {
  static const ByteLevelTables tables;
  return tables;
}

}  // namespace

uint32_t decode_utf8(std::string_view s, size_t& pos) {
  const auto lead = static_cast<uint8_t>(s[pos]);
  const size_t len = expected_length(lead);
  if (len == 1) {
    ++pos;
    return lead;
  }
  if (len == 0 || valid_prefix(s, pos, len) != len) {
    ++pos;
    return kReplacementChar;
  }
  uint32_t cp = lead & (0x7F >> len);
  for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<uint8_t>(s[pos + k]) & 0x3F);
  pos += len;
  return cp;
}

std::vector<uint32_t> to_code_points(std::string_view s) {
  std::vector<uint32_t> cps;
  cps.reserve(s.size());
  size_t pos = 0;
  while (pos < s.size()) cps.push_back(decode_utf8(s, pos));
  return cps;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = kReplacementChar;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::string to_utf8(uint32_t cp) {
  std::string s;
  append_utf8(s, cp);
  return s;
}

size_t utf8_sequence_length(uint8_t lead) {
  static constexpr uint8_t kLengths[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLengths[lead >> 4];
}

std::string sanitize_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t pos = 0;
  while (pos < s.size()) {
    const auto lead = static_cast<uint8_t>(s[pos]);
    const size_t len = expected_length(lead);
    if (len == 1) {
      out += static_cast<char>(lead);
      ++pos;
      continue;
    }
    const size_t valid = len == 0 ? 1 : valid_prefix(s, pos, len);
    if (valid == len) {
      out.append(s.substr(pos, len));
    } else {
      append_utf8(out, kReplacementChar);  // one U+FFFD per maximal ill-formed subpart
    }
    pos += valid;
  }
  return out;
}

uint16_t code_point_classes(uint32_t cp) {
  if (cp > 0x10FFFF) return kClassControl;
  const auto c = static_cast<UChar32>(cp);
  const uint32_t mask = U_GET_GC_MASK(c);
  uint16_t classes = 0;
  if (mask & U_GC_L_MASK) classes |= kClassLetter;
  if (mask & U_GC_N_MASK) classes |= kClassNumber;
  if (mask & U_GC_P_MASK) classes |= kClassPunctuation;
  if (mask & U_GC_S_MASK) classes |= kClassSymbol;
  if (mask & U_GC_M_MASK) classes |= kClassMark;
  if (mask & U_GC_Z_MASK) classes |= kClassSeparator;
  if (mask & U_GC_C_MASK) classes |= kClassControl;
  if (u_isUWhiteSpace(c)) classes |= kClassWhitespace;
  return classes;
}

bool is_nonspacing_mark(uint32_t cp) {
  return cp <= 0x10FFFF && u_charType(static_cast<UChar32>(cp)) == U_NON_SPACING_MARK;
}

uint32_t to_lower(uint32_t cp) {
  if (cp > 0x10FFFF) return cp;
  return static_cast<uint32_t>(u_tolower(static_cast<UChar32>(cp)));
}

std::string normalize(std::string_view s, NormalForm form) {
  bool ascii = true;
  for (char c : s) ascii = ascii && static_cast<uint8_t>(c) < 0x80;
  if (ascii) return std::string(s);  // ASCII is invariant under every normalization form
  std::string valid = sanitize_utf8(s);
  icu::UnicodeString in = icu::UnicodeString::fromUTF8(
      icu::StringPiece(valid.data(), static_cast<int32_t>(valid.size())));
  std::string out;
  normalize_icu(in, form).toUTF8String(out);
  return out;
}

std::vector<uint32_t> normalize(const std::vector<uint32_t>& cps, NormalForm form) {
  bool ascii = true;
  for (uint32_t c : cps) ascii = ascii && c < 0x80;
  if (ascii) return cps;
  icu::UnicodeString in = icu::UnicodeString::fromUTF32(
      reinterpret_cast<const UChar32*>(cps.data()), static_cast<int32_t>(cps.size()));
  icu::UnicodeString norm = normalize_icu(in, form);
  std::vector<uint32_t> out;
  out.reserve(static_cast<size_t>(norm.length()));
  for (int32_t i = 0; i < norm.length();) {
    const UChar32 c = norm.char32At(i);
    out.push_back(static_cast<uint32_t>(c));
    i += U16_LENGTH(c);
  }
  return out;
}

uint32_t byte_to_code_point(uint8_t byte) {
  return byte_level_tables().byte_to_cp[byte];
}

int code_point_to_byte(uint32_t cp) {
  const auto& t = byte_level_tables();
  return cp < t.cp_to_byte.size() ? t.cp_to_byte[cp] : -1;
}

std::string bytes_to_byte_level(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) append_utf8(out, byte_to_code_point(static_cast<uint8_t>(c)));
  return out;
}

}  // namespace vigil::tok
