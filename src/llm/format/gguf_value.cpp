// GGUF metadata values: constructors, numeric conversions and the short display form used by
// `vigil inspect`.
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "base/error.h"
#include "llm/format/gguf.h"

namespace vigil::gguf {
namespace {

bool is_float_type(ValueType type) {
  return type == ValueType::FLOAT32 || type == ValueType::FLOAT64;
}

bool is_unsigned_type(ValueType type) {
  return type == ValueType::UINT8 || type == ValueType::UINT16 || type == ValueType::UINT32 ||
         type == ValueType::UINT64;
}

bool is_signed_type(ValueType type) {
  return type == ValueType::INT8 || type == ValueType::INT16 || type == ValueType::INT32 ||
         type == ValueType::INT64;
}

// Length of the valid UTF-8 sequence starting at s[i], or 0 if the bytes there are not one
// (overlong forms, surrogates and code points above U+10FFFF are invalid).
size_t utf8_sequence_length(std::string_view s, size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) return 1;
  size_t len = 0;
  uint32_t cp = 0;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2;
    cp = b0 & 0x1F;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3;
    cp = b0 & 0x0F;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4;
    cp = b0 & 0x07;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3F);
  }
  static constexpr uint32_t kMinForLength[5] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMinForLength[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

// Quotes a string for display: valid UTF-8 is kept (tokens like "▁the" stay readable), control
// characters, quotes and backslashes are escaped, invalid bytes become \xNN. At most `max_bytes`
// bytes of the input are shown; a cut string ends in `..." (N bytes)`.
std::string quote(std::string_view s, size_t max_bytes) {
  std::string out = "\"";
  size_t i = 0;
  while (i < s.size()) {
    if (i >= max_bytes) {
      out += fmt::format("...\" ({} bytes)", s.size());
      return out;
    }
    const auto c = static_cast<unsigned char>(s[i]);
    const size_t len = utf8_sequence_length(s, i);
    if (len > 1) {
      out.append(s.substr(i, len));
      i += len;
      continue;
    }
    if (len == 0) {
      out += fmt::format("\\x{:02x}", c);
    } else if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
    ++i;
  }
  out += '"';
  return out;
}

// Top-level strings (names, chat templates) get more room than the items of a string array.
constexpr size_t kMaxStringBytes = 120;
constexpr size_t kMaxItemStringBytes = 40;

std::string display(const Value& v, size_t max_items, size_t max_string_bytes) {
  switch (v.type) {
    case ValueType::UINT8:
    case ValueType::UINT16:
    case ValueType::UINT32:
    case ValueType::UINT64:
      return fmt::format("{}", v.u);
    case ValueType::INT8:
    case ValueType::INT16:
    case ValueType::INT32:
    case ValueType::INT64:
      return fmt::format("{}", v.i);
    case ValueType::FLOAT32:
      // Shortest form that reads back as the same float32 (1e-06, not 9.99999997e-07).
      return fmt::format("{}", static_cast<float>(v.f));
    case ValueType::FLOAT64:
      return fmt::format("{}", v.f);
    case ValueType::BOOL:
      return v.u != 0 ? "true" : "false";
    case ValueType::STRING:
      return quote(v.s, max_string_bytes);
    case ValueType::ARRAY: {
      std::string out = "[";
      const size_t n = v.array.size();
      if (n > max_items) {
        const std::string_view elem = value_type_name(v.array_type);
        const bool plural = v.array_type == ValueType::STRING || v.array_type == ValueType::ARRAY;
        out += fmt::format("{} {}{}: ", n, elem, plural ? "s" : "");
      }
      const size_t shown = n > max_items ? max_items : n;
      for (size_t k = 0; k < shown; ++k) {
        if (k > 0) out += ", ";
        out += display(v.array[k], max_items, kMaxItemStringBytes);
      }
      if (shown < n) out += shown > 0 ? ", ..." : "...";
      out += "]";
      return out;
    }
  }
  return fmt::format("<value of unknown type {}>", static_cast<uint32_t>(v.type));
}

}  // namespace

std::string_view value_type_name(ValueType type) {
  switch (type) {
    case ValueType::UINT8:
      return "uint8";
    case ValueType::INT8:
      return "int8";
    case ValueType::UINT16:
      return "uint16";
    case ValueType::INT16:
      return "int16";
    case ValueType::UINT32:
      return "uint32";
    case ValueType::INT32:
      return "int32";
    case ValueType::FLOAT32:
      return "float32";
    case ValueType::BOOL:
      return "bool";
    case ValueType::STRING:
      return "string";
    case ValueType::ARRAY:
      return "array";
    case ValueType::UINT64:
      return "uint64";
    case ValueType::INT64:
      return "int64";
    case ValueType::FLOAT64:
      return "float64";
  }
  return "unknown";
}

Value Value::of_u32(uint32_t v) {
  Value out;
  out.type = ValueType::UINT32;
  out.u = v;
  return out;
}

Value Value::of_i32(int32_t v) {
  Value out;
  out.type = ValueType::INT32;
  out.i = v;
  return out;
}

Value Value::of_u64(uint64_t v) {
  Value out;
  out.type = ValueType::UINT64;
  out.u = v;
  return out;
}

Value Value::of_f32(float v) {
  Value out;
  out.type = ValueType::FLOAT32;
  out.f = v;
  return out;
}

Value Value::of_bool(bool v) {
  Value out;
  out.type = ValueType::BOOL;
  out.u = v ? 1 : 0;
  return out;
}

Value Value::of_string(std::string v) {
  Value out;
  out.type = ValueType::STRING;
  out.s = std::move(v);
  return out;
}

Value Value::of_strings(const std::vector<std::string>& v) {
  Value out;
  out.type = ValueType::ARRAY;
  out.array_type = ValueType::STRING;
  out.array.reserve(v.size());
  for (const auto& s : v) out.array.push_back(of_string(s));
  return out;
}

Value Value::of_f32s(const std::vector<float>& v) {
  Value out;
  out.type = ValueType::ARRAY;
  out.array_type = ValueType::FLOAT32;
  out.array.reserve(v.size());
  for (float x : v) out.array.push_back(of_f32(x));
  return out;
}

Value Value::of_i32s(const std::vector<int32_t>& v) {
  Value out;
  out.type = ValueType::ARRAY;
  out.array_type = ValueType::INT32;
  out.array.reserve(v.size());
  for (int32_t x : v) out.array.push_back(of_i32(x));
  return out;
}

bool Value::is_integer() const {
  return is_unsigned_type(type) || is_signed_type(type);
}

int64_t Value::as_int() const {
  if (is_signed_type(type)) return i;
  if (is_unsigned_type(type) || type == ValueType::BOOL) {
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      fail("expected an integer that fits int64, found {} {}", value_type_name(type), u);
    }
    return static_cast<int64_t>(u);
  }
  fail("expected an integer, found {}", value_type_name(type));
}

double Value::as_float() const {
  if (is_float_type(type)) return f;
  if (is_signed_type(type)) return static_cast<double>(i);
  if (is_unsigned_type(type)) return static_cast<double>(u);
  fail("expected a number, found {}", value_type_name(type));
}

std::string Value::to_display(size_t max_items) const {
  return display(*this, max_items, kMaxStringBytes);
}

}  // namespace vigil::gguf
