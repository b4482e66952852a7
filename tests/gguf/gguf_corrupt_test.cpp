// Corrupt GGUF files: each one is the writer's sample file with a few bytes patched. The parser
// must throw vigil::Error with one line that names the file and the field, must not crash (this
// suite also runs under ASan/UBSan), and must not allocate the sizes the file claims.
#include <gtest/gtest.h>

#include <limits>

#include "gguf_test_util.h"

namespace vigil::gguf {
namespace {

using testing::as_span;
using testing::expect_parse_error;
using testing::key_fields;
using testing::peek;
using testing::poke;
using testing::sample_bytes;
using testing::tensor_fields;

constexpr uint64_t k2_62 = 1ull << 62;
constexpr uint64_t k2_63 = 1ull << 63;

TEST(GgufCorrupt, SampleIsValid) {
  const std::string bytes = sample_bytes();
  const GgufFile f = GgufFile::parse(as_span(bytes), "sample.gguf");
  EXPECT_EQ(f.tensors().size(), 7u);
  EXPECT_EQ(f.metadata().size(), 13u);
  EXPECT_EQ(f.get_string("general.architecture"), "llama");
}

TEST(GgufCorrupt, TruncatedAtEveryByte) {
  const std::string bytes = sample_bytes();
  const GgufFile full = GgufFile::parse(as_span(bytes), "sample.gguf");
  uint64_t data_end = 0;  // the end of the last tensor's data; after it only padding follows
  for (const auto& t : full.tensors()) {
    data_end = std::max(data_end, full.data_offset() + t.offset + t.size_bytes);
  }
  ASSERT_LT(data_end, bytes.size());
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    SCOPED_TRACE("cut at " + std::to_string(cut) + " of " + std::to_string(bytes.size()));
    const std::string truncated = bytes.substr(0, cut);
    if (cut >= data_end) {
      // Only trailing padding is missing: the file is still complete.
      EXPECT_NO_THROW(GgufFile::parse(as_span(truncated), "corrupt.gguf"));
    } else if (cut < 4) {
      expect_parse_error(truncated, {"GGUF"});
    } else if (cut >= full.data_offset()) {
      expect_parse_error(truncated, {"past the end of the data section"});
    } else {
      expect_parse_error(truncated, {});
    }
  }
}

TEST(GgufCorrupt, EmptyAndTinyFiles) {
  expect_parse_error("", {"GGUF"});
  expect_parse_error("GGU", {"GGUF"});
  expect_parse_error("GGUF", {"version"});
  expect_parse_error(std::string("GGUF\x03\0\0\0", 8), {"tensor_count"});
}

TEST(GgufCorrupt, WrongMagic) {
  std::string bytes = sample_bytes();
  bytes[3] = 'X';
  expect_parse_error(bytes, {"magic", "GGUX"});
  std::string ggml = sample_bytes();
  ggml.replace(0, 4, "lmgg");  // the pre-GGUF ggml magic
  expect_parse_error(ggml, {"magic"});
}

TEST(GgufCorrupt, UnsupportedVersion) {
  for (uint32_t version : {0u, 1u, 4u, 0xFFFFFFFFu}) {
    SCOPED_TRACE(version);
    std::string bytes = sample_bytes();
    poke<uint32_t>(bytes, 4, version);
    expect_parse_error(bytes, {"version", std::to_string(version)});
  }
  // Version 2 has the same layout as 3 (little-endian) and is accepted.
  std::string v2 = sample_bytes();
  poke<uint32_t>(v2, 4, 2);
  EXPECT_EQ(GgufFile::parse(as_span(v2), "v2.gguf").version(), 2u);
}

TEST(GgufCorrupt, AbsurdTensorCount) {
  for (uint64_t count : {k2_63, std::numeric_limits<uint64_t>::max(), uint64_t{1} << 32}) {
    std::string bytes = sample_bytes();
    poke<uint64_t>(bytes, 8, count);
    expect_parse_error(bytes, {"tensor_count", std::to_string(count)});
  }
}

TEST(GgufCorrupt, AbsurdMetadataCount) {
  for (uint64_t count : {k2_63, std::numeric_limits<uint64_t>::max(), uint64_t{100000}}) {
    std::string bytes = sample_bytes();
    poke<uint64_t>(bytes, 16, count);
    expect_parse_error(bytes, {"kv_count", std::to_string(count)});
  }
}

TEST(GgufCorrupt, CountsOneTooLarge) {
  // Counts that fit the file size test but run out of data while reading.
  std::string bytes = sample_bytes();
  poke<uint64_t>(bytes, 8, 8);  // 7 tensors in the file
  expect_parse_error(bytes, {});
  std::string kv = sample_bytes();
  poke<uint64_t>(kv, 16, 14);  // 13 pairs: the 14th key is read from the tensor infos
  expect_parse_error(kv, {});
}

TEST(GgufCorrupt, AbsurdKeyLength) {
  std::string bytes = sample_bytes();
  poke<uint64_t>(bytes, key_fields(bytes, "general.name").length, k2_63);
  expect_parse_error(bytes, {"string length", std::to_string(k2_63)});
}

TEST(GgufCorrupt, AbsurdStringValueLength) {
  std::string bytes = sample_bytes();
  poke<uint64_t>(bytes, key_fields(bytes, "general.name").value, k2_63);
  expect_parse_error(bytes, {"general.name", "string length", std::to_string(k2_63)});
  std::string minus_one = sample_bytes();
  poke<uint64_t>(minus_one, key_fields(minus_one, "general.name").value,
                 std::numeric_limits<uint64_t>::max());
  expect_parse_error(minus_one, {"general.name", "string length"});
}

TEST(GgufCorrupt, AbsurdStringInArray) {
  std::string bytes = sample_bytes();
  // test.strings = [u32 type, u64 count, (u64 len, bytes) x3]; corrupt the second item's length.
  const size_t first_item = key_fields(bytes, "test.strings").value + 12;
  poke<uint64_t>(bytes, first_item + 8 + 5, k2_63);
  expect_parse_error(bytes, {"test.strings", "string length"});
}

TEST(GgufCorrupt, AbsurdArrayCount) {
  for (const char* key : {"test.strings", "test.floats", "test.nested"}) {
    for (uint64_t count : {k2_62, k2_63, std::numeric_limits<uint64_t>::max()}) {
      SCOPED_TRACE(std::string(key) + " count " + std::to_string(count));
      std::string bytes = sample_bytes();
      poke<uint64_t>(bytes, key_fields(bytes, key).value + 4, count);
      expect_parse_error(bytes, {key, std::to_string(count)});
    }
  }
}

TEST(GgufCorrupt, AbsurdNestedArrayCount) {
  std::string bytes = sample_bytes();
  // test.nested = [ARRAY, 2, (UINT8, 1, x), (UINT8, 2, x, y)]; the first inner array's count.
  const size_t inner = key_fields(bytes, "test.nested").value + 12;
  ASSERT_EQ(peek<uint32_t>(bytes, inner), static_cast<uint32_t>(ValueType::UINT8));
  poke<uint64_t>(bytes, inner + 4, k2_62);
  expect_parse_error(bytes, {"test.nested", std::to_string(k2_62)});
}

TEST(GgufCorrupt, UnknownValueTypes) {
  std::string bytes = sample_bytes();
  poke<uint32_t>(bytes, key_fields(bytes, "test.u32").type, 13);
  expect_parse_error(bytes, {"test.u32", "unknown value type 13"});
  std::string elem = sample_bytes();
  poke<uint32_t>(elem, key_fields(elem, "test.floats").value, 0xFFFFFFFF);
  expect_parse_error(elem, {"test.floats", "element type"});
}

TEST(GgufCorrupt, BoolOutOfRange) {
  std::string bytes = sample_bytes();
  poke<uint8_t>(bytes, key_fields(bytes, "test.bool").value, 2);
  expect_parse_error(bytes, {"test.bool", "bool"});
}

TEST(GgufCorrupt, InvalidUtf8Key) {
  for (uint8_t bad : {uint8_t{0xFF}, uint8_t{0xC0}, uint8_t{0x80}}) {
    std::string bytes = sample_bytes();
    poke<uint8_t>(bytes, key_fields(bytes, "general.name").text + 3, bad);
    expect_parse_error(bytes, {"UTF-8"});
  }
}

TEST(GgufCorrupt, InvalidUtf8TensorName) {
  std::string bytes = sample_bytes();
  poke<uint8_t>(bytes, tensor_fields(bytes, "blk.0.dup_a").text, 0xFE);
  expect_parse_error(bytes, {"UTF-8"});
}

TEST(GgufCorrupt, DuplicateKey) {
  std::string bytes = sample_bytes();
  const auto f = key_fields(bytes, "dup.key.aab");
  poke<uint8_t>(bytes, f.text + 10, 'a');  // "dup.key.aab" -> "dup.key.aaa"
  expect_parse_error(bytes, {"dup.key.aaa", "duplicate"});
}

TEST(GgufCorrupt, DuplicateTensorName) {
  std::string bytes = sample_bytes();
  const auto f = tensor_fields(bytes, "blk.0.dup_b");
  poke<uint8_t>(bytes, f.text + 10, 'a');  // "blk.0.dup_b" -> "blk.0.dup_a"
  expect_parse_error(bytes, {"blk.0.dup_a", "duplicate"});
}

TEST(GgufCorrupt, TooManyOrZeroDimensions) {
  for (uint32_t n_dims : {0u, 5u, 64u, 0xFFFFFFFFu}) {
    SCOPED_TRACE(n_dims);
    std::string bytes = sample_bytes();
    poke<uint32_t>(bytes, tensor_fields(bytes, "blk.1.conv4d.weight").n_dims, n_dims);
    expect_parse_error(bytes, {"blk.1.conv4d.weight", "dimensions"});
  }
}

TEST(GgufCorrupt, ZeroDimension) {
  for (size_t d = 0; d < 4; ++d) {
    std::string bytes = sample_bytes();
    poke<uint64_t>(bytes, tensor_fields(bytes, "blk.1.conv4d.weight").dims[d], 0);
    expect_parse_error(bytes, {"blk.1.conv4d.weight", "dimension"});
  }
}

TEST(GgufCorrupt, OverflowingDimensions) {
  std::string bytes = sample_bytes();
  const auto f = tensor_fields(bytes, "blk.1.conv4d.weight");
  for (size_t d = 0; d < 4; ++d) poke<uint64_t>(bytes, f.dims[d], uint64_t{1} << 20);  // 2^80
  expect_parse_error(bytes, {"blk.1.conv4d.weight"});
  std::string huge = sample_bytes();
  poke<uint64_t>(huge, tensor_fields(huge, "blk.0.dup_a").dims[0],
                 std::numeric_limits<uint64_t>::max());
  expect_parse_error(huge, {"blk.0.dup_a"});
  // 2^61 f64 values need 2^64 bytes: the byte size overflows, not the count.
  std::string bytes_overflow = sample_bytes();
  const auto g = tensor_fields(bytes_overflow, "blk.0.dup_a");
  poke<uint32_t>(bytes_overflow, g.type, static_cast<uint32_t>(GgmlType::F64));
  poke<uint64_t>(bytes_overflow, g.dims[0], uint64_t{1} << 61);
  expect_parse_error(bytes_overflow, {"blk.0.dup_a"});
}

TEST(GgufCorrupt, UnknownTensorType) {
  for (uint32_t type : {4u, 5u, 31u, 39u, 1000u, 0xFFFFFFFFu}) {
    SCOPED_TRACE(type);
    std::string bytes = sample_bytes();
    poke<uint32_t>(bytes, tensor_fields(bytes, "token_embd.weight").type, type);
    expect_parse_error(bytes, {"token_embd.weight", "type", std::to_string(type)});
  }
}

TEST(GgufCorrupt, RowLengthNotMultipleOfBlock) {
  std::string bytes = sample_bytes();
  const auto f = tensor_fields(bytes, "blk.0.attn_q.weight");  // Q8_0 [64, 2]
  poke<uint64_t>(bytes, f.dims[0], 48);
  poke<uint64_t>(bytes, f.dims[1], 1);
  expect_parse_error(bytes, {"blk.0.attn_q.weight", "48", "block"});
  // A type change can break it too: F32 [8, 4] declared Q4_K (block 256).
  std::string retyped = sample_bytes();
  poke<uint32_t>(retyped, tensor_fields(retyped, "token_embd.weight").type,
                 static_cast<uint32_t>(GgmlType::Q4_K));
  expect_parse_error(retyped, {"token_embd.weight", "block"});
}

TEST(GgufCorrupt, OffsetPastTheEnd) {
  for (uint64_t offset : {uint64_t{1} << 20, k2_62, std::numeric_limits<uint64_t>::max() - 31}) {
    SCOPED_TRACE(offset);
    std::string bytes = sample_bytes();
    poke<uint64_t>(bytes, tensor_fields(bytes, "blk.1.conv4d.weight").offset, offset);
    expect_parse_error(bytes, {"blk.1.conv4d.weight", "past the end"});
  }
}

TEST(GgufCorrupt, TensorLargerThanTheFile) {
  // A valid-looking shape whose data runs past the end (offset fine, size huge).
  std::string bytes = sample_bytes();
  poke<uint64_t>(bytes, tensor_fields(bytes, "blk.1.conv4d.weight").dims[3], 1ull << 30);
  expect_parse_error(bytes, {"blk.1.conv4d.weight", "past the end"});
}

TEST(GgufCorrupt, OverlappingTensors) {
  std::string bytes = sample_bytes();
  const uint64_t a = peek<uint64_t>(bytes, tensor_fields(bytes, "token_embd.weight").offset);
  // blk.0.dup_a starts inside token_embd.weight's 128 bytes.
  poke<uint64_t>(bytes, tensor_fields(bytes, "blk.0.dup_a").offset, a + 64);
  expect_parse_error(bytes, {"overlap", "blk.0.dup_a", "token_embd.weight"});
  std::string same = sample_bytes();
  poke<uint64_t>(same, tensor_fields(same, "blk.0.dup_b").offset,
                 peek<uint64_t>(same, tensor_fields(same, "blk.0.dup_a").offset));
  expect_parse_error(same, {"overlap", "blk.0.dup_"});
}

TEST(GgufCorrupt, MisalignedOffset) {
  for (uint64_t delta : {1u, 4u, 16u}) {
    std::string bytes = sample_bytes();
    const size_t at = tensor_fields(bytes, "blk.0.attn_norm.weight").offset;
    poke<uint64_t>(bytes, at, peek<uint64_t>(bytes, at) + delta);
    expect_parse_error(bytes, {"blk.0.attn_norm.weight", "alignment"});
  }
}

TEST(GgufCorrupt, BadAlignmentKey) {
  for (uint32_t alignment : {0u, 3u, 48u, 0x80000000u}) {
    SCOPED_TRACE(alignment);
    GgufWriter w = testing::sample_writer();
    w.set("general.alignment", Value::of_u32(64));
    std::string bytes = w.to_bytes(testing::pattern_producer(w));
    poke<uint32_t>(bytes, key_fields(bytes, "general.alignment").value, alignment);
    expect_parse_error(bytes, {"general.alignment"});
  }
}

TEST(GgufCorrupt, DeeplyNestedArrays) {
  // 100 levels of [ARRAY, 1, ...] nesting ending in an empty u8 array.
  std::string bytes = sample_bytes();
  const auto f = key_fields(bytes, "test.u32");
  std::string value;
  auto put32 = [&](uint32_t v) { value.append(reinterpret_cast<const char*>(&v), 4); };
  auto put64 = [&](uint64_t v) { value.append(reinterpret_cast<const char*>(&v), 8); };
  for (int k = 0; k < 100; ++k) {
    put32(static_cast<uint32_t>(ValueType::ARRAY));
    put64(1);
  }
  put32(static_cast<uint32_t>(ValueType::UINT8));
  put64(0);
  poke<uint32_t>(bytes, f.type, static_cast<uint32_t>(ValueType::ARRAY));
  bytes.replace(f.value, 4, value);
  expect_parse_error(bytes, {"test.u32", "nested"});
}

TEST(GgufCorrupt, MissingAndMistypedTokenizerKeys) {
  const std::string bytes = sample_bytes();
  const GgufFile f = GgufFile::parse(as_span(bytes), "sample.gguf");
  for (const char* key : {"tokenizer.ggml.tokens", "tokenizer.ggml.scores",
                          "tokenizer.ggml.token_type", "tokenizer.ggml.merges"}) {
    try {
      (void)f.get_string_array(key);
      ADD_FAILURE() << key << " did not throw";
    } catch (const Error& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find("sample.gguf"), std::string::npos) << message;
      EXPECT_NE(message.find(key), std::string::npos) << message;
      EXPECT_NE(message.find("missing"), std::string::npos) << message;
    }
  }
  // Present with the wrong type: the message says what was expected and found.
  try {
    (void)f.get_string_array("tokenizer.ggml.model");
    ADD_FAILURE() << "a string read as a string array";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("tokenizer.ggml.model"), std::string::npos) << message;
    EXPECT_NE(message.find("string"), std::string::npos) << message;
  }
  EXPECT_THROW((void)f.get_float_array("test.strings"), Error);
  EXPECT_THROW((void)f.get_int("general.name"), Error);
  EXPECT_THROW((void)f.tensor("output.weight"), Error);
}

TEST(GgufCorrupt, RandomByteFlipsNeverCrash) {
  // Deterministic single- and multi-byte mutations across the header: each parse either
  // succeeds or throws vigil::Error, and never allocates more than a few MiB.
  const std::string original = sample_bytes();
  const GgufFile full = GgufFile::parse(as_span(original), "sample.gguf");
  uint64_t state = 0x9E3779B97F4A7C15ull;
  auto next = [&]() {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  size_t errors = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string bytes = original;
    const int flips = 1 + static_cast<int>(next() % 4);
    for (int k = 0; k < flips; ++k) {
      const size_t at = next() % full.data_offset();
      bytes[at] = static_cast<char>(next() & 0xFF);
    }
    testing::reset_peak_allocation();
    try {
      const GgufFile f = GgufFile::parse(as_span(bytes), "mutated.gguf");
      for (const auto& [key, value] : f.metadata()) (void)value.to_display();
    } catch (const Error& e) {
      ++errors;
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
    }
    EXPECT_LE(testing::peak_allocation(), size_t{4} << 20) << "round " << round;
  }
  EXPECT_GT(errors, 100u);  // most mutations of the header are detected
}

}  // namespace
}  // namespace vigil::gguf
