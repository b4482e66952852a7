// Helpers for the GGUF tests: a small sample file built with the writer, byte patching by field,
// error-message assertions and an allocation high-water mark.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "llm/format/gguf.h"

namespace vigil::gguf::testing {

// Largest single operator-new request since the last reset (alloc_tracker.cpp replaces the
// global operator new of the test binary).
void reset_peak_allocation();
size_t peak_allocation();

inline std::span<const uint8_t> as_span(const std::string& bytes) {
  return {reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()};
}

// Deterministic bytes for tensor i: (i * 31 + k * 7) mod 251, so every tensor differs.
inline std::string pattern_bytes(size_t index, uint64_t size) {
  std::string out(size, '\0');
  for (uint64_t k = 0; k < size; ++k) {
    out[k] = static_cast<char>((index * 31 + k * 7) % 251);
  }
  return out;
}

// Producer that fills each tensor with pattern_bytes.
inline GgufWriter::TensorProducer pattern_producer(const GgufWriter& w) {
  return [&w](size_t i, std::string& out) { out += pattern_bytes(i, w.tensors()[i].size_bytes); };
}

// The sample file every corrupt-file test starts from. Keys and tensor names are unique byte
// strings (nothing else in the file contains them), so fields can be found by searching.
GgufWriter sample_writer();
std::string sample_bytes();

// Position of the only occurrence of `needle` (fails the test when it is missing or repeated).
size_t find_unique(const std::string& bytes, std::string_view needle);

// Offsets of the fields around a metadata key: the key's u64 length, its bytes, the value type
// u32 and the value.
struct KeyFields {
  size_t length;  // u64 key length
  size_t text;    // key bytes
  size_t type;    // u32 value type
  size_t value;   // value (for arrays: u32 element type, then u64 count at value + 4)
};
KeyFields key_fields(const std::string& bytes, std::string_view key);

// Offsets of the fields of a tensor info.
struct TensorFields {
  size_t length;             // u64 name length
  size_t text;               // name bytes
  size_t n_dims;             // u32
  std::vector<size_t> dims;  // u64 each
  size_t type;               // u32
  size_t offset;             // u64
};
TensorFields tensor_fields(const std::string& bytes, std::string_view name);

template <typename T>
void poke(std::string& bytes, size_t at, T value) {
  ASSERT_LE(at + sizeof(T), bytes.size());
  std::memcpy(bytes.data() + at, &value, sizeof(T));
}

template <typename T>
T peek(const std::string& bytes, size_t at) {
  T value{};
  if (at + sizeof(T) <= bytes.size()) std::memcpy(&value, bytes.data() + at, sizeof(T));
  return value;
}

// Parses `bytes` expecting a vigil::Error whose message contains every one of `needles`, starts
// with the file name and is a single line. Also checks that no single allocation during the
// parse exceeded `max_alloc` bytes (the claimed sizes in these files are up to 2^63).
void expect_parse_error(const std::string& bytes, std::initializer_list<std::string_view> needles,
                        size_t max_alloc = 1 << 20);

}  // namespace vigil::gguf::testing
