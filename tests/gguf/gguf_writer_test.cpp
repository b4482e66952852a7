// Writer → reader round trips: every value type (nested arrays included), alignments other than
// 32, tensors of several types with their data, atomic file writes, and the writer's own checks.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>

#include "base/file.h"
#include "gguf_test_util.h"

namespace vigil::gguf {
namespace {

using testing::as_span;
using testing::pattern_bytes;
using testing::pattern_producer;

namespace fs = std::filesystem;

Value scalar_u(ValueType type, uint64_t v) {
  Value out;
  out.type = type;
  out.u = v;
  return out;
}
Value scalar_i(ValueType type, int64_t v) {
  Value out;
  out.type = type;
  out.i = v;
  return out;
}
Value scalar_f(ValueType type, double v) {
  Value out;
  out.type = type;
  out.f = v;
  return out;
}
Value array_of(ValueType elem, std::vector<Value> items) {
  Value out;
  out.type = ValueType::ARRAY;
  out.array_type = elem;
  out.array = std::move(items);
  return out;
}

// Compares two values field by field; floats bit for bit (NaN payloads and -0 included).
void expect_same(const Value& want, const Value& got, const std::string& where) {
  ASSERT_EQ(want.type, got.type) << where;
  switch (want.type) {
    case ValueType::UINT8:
    case ValueType::UINT16:
    case ValueType::UINT32:
    case ValueType::UINT64:
    case ValueType::BOOL:
      EXPECT_EQ(want.u, got.u) << where;
      break;
    case ValueType::INT8:
    case ValueType::INT16:
    case ValueType::INT32:
    case ValueType::INT64:
      EXPECT_EQ(want.i, got.i) << where;
      break;
    case ValueType::FLOAT32: {
      const auto a = static_cast<float>(want.f);
      const auto b = static_cast<float>(got.f);
      EXPECT_EQ(std::memcmp(&a, &b, sizeof a), 0) << where << ": " << a << " vs " << b;
      break;
    }
    case ValueType::FLOAT64:
      EXPECT_EQ(std::memcmp(&want.f, &got.f, sizeof want.f), 0)
          << where << ": " << want.f << " vs " << got.f;
      break;
    case ValueType::STRING:
      EXPECT_EQ(want.s, got.s) << where;
      break;
    case ValueType::ARRAY:
      ASSERT_EQ(want.array_type, got.array_type) << where;
      ASSERT_EQ(want.array.size(), got.array.size()) << where;
      for (size_t k = 0; k < want.array.size(); ++k) {
        expect_same(want.array[k], got.array[k], where + "[" + std::to_string(k) + "]");
      }
      break;
  }
}

// Every value type with its edge values.
std::vector<std::pair<std::string, Value>> all_values() {
  std::vector<std::pair<std::string, Value>> v;
  v.emplace_back("u8.max", scalar_u(ValueType::UINT8, 255));
  v.emplace_back("u8.zero", scalar_u(ValueType::UINT8, 0));
  v.emplace_back("i8.min", scalar_i(ValueType::INT8, -128));
  v.emplace_back("i8.max", scalar_i(ValueType::INT8, 127));
  v.emplace_back("u16.max", scalar_u(ValueType::UINT16, 65535));
  v.emplace_back("i16.min", scalar_i(ValueType::INT16, -32768));
  v.emplace_back("u32.max", Value::of_u32(std::numeric_limits<uint32_t>::max()));
  v.emplace_back("i32.min", Value::of_i32(std::numeric_limits<int32_t>::min()));
  v.emplace_back("u64.max", Value::of_u64(std::numeric_limits<uint64_t>::max()));
  v.emplace_back("i64.min", scalar_i(ValueType::INT64, std::numeric_limits<int64_t>::min()));
  v.emplace_back("i64.max", scalar_i(ValueType::INT64, std::numeric_limits<int64_t>::max()));
  v.emplace_back("f32.pi", Value::of_f32(3.14159265f));
  v.emplace_back("f32.negzero", Value::of_f32(-0.0f));
  v.emplace_back("f32.inf", Value::of_f32(std::numeric_limits<float>::infinity()));
  v.emplace_back("f32.nan", Value::of_f32(std::numeric_limits<float>::quiet_NaN()));
  v.emplace_back("f32.denorm", Value::of_f32(std::numeric_limits<float>::denorm_min()));
  v.emplace_back("f64.e", scalar_f(ValueType::FLOAT64, 2.718281828459045));
  v.emplace_back("f64.tiny", scalar_f(ValueType::FLOAT64, 1e-300));
  v.emplace_back("bool.true", Value::of_bool(true));
  v.emplace_back("bool.false", Value::of_bool(false));
  v.emplace_back("string.empty", Value::of_string(""));
  v.emplace_back("string.utf8", Value::of_string("▁the 日本語 \xF0\x9F\x98\x80"));
  v.emplace_back("string.nul", Value::of_string(std::string("a\0b", 3)));
  v.emplace_back("array.empty", array_of(ValueType::INT32, {}));
  v.emplace_back("array.u8", array_of(ValueType::UINT8, {scalar_u(ValueType::UINT8, 0),
                                                         scalar_u(ValueType::UINT8, 255)}));
  v.emplace_back("array.i8", array_of(ValueType::INT8, {scalar_i(ValueType::INT8, -1)}));
  v.emplace_back("array.u16", array_of(ValueType::UINT16, {scalar_u(ValueType::UINT16, 7)}));
  v.emplace_back("array.i16", array_of(ValueType::INT16, {scalar_i(ValueType::INT16, -7)}));
  v.emplace_back("array.u32", array_of(ValueType::UINT32, {Value::of_u32(1), Value::of_u32(2)}));
  v.emplace_back("array.i32", Value::of_i32s({-1, 0, 1, 2147483647}));
  v.emplace_back("array.f32", Value::of_f32s({-1000.0f, 0.25f}));
  v.emplace_back("array.bool",
                 array_of(ValueType::BOOL, {Value::of_bool(false), Value::of_bool(true)}));
  v.emplace_back("array.string", Value::of_strings({"<unk>", "<s>", "", "▁a"}));
  v.emplace_back("array.u64", array_of(ValueType::UINT64, {Value::of_u64(1ull << 63)}));
  v.emplace_back("array.i64", array_of(ValueType::INT64, {scalar_i(ValueType::INT64, -5)}));
  v.emplace_back("array.f64", array_of(ValueType::FLOAT64, {scalar_f(ValueType::FLOAT64, 0.1)}));
  // Nested: arrays of arrays with different element types, an empty inner array, three levels.
  v.emplace_back("array.nested", array_of(ValueType::ARRAY, {Value::of_i32s({1, 2, 3}),
                                                             array_of(ValueType::UINT8, {}),
                                                             Value::of_strings({"x", "yz"})}));
  v.emplace_back(
      "array.nested3",
      array_of(ValueType::ARRAY, {array_of(ValueType::ARRAY, {Value::of_f32s({1.5f}),
                                                              array_of(ValueType::ARRAY, {})})}));
  v.emplace_back("array.empty_of_arrays", array_of(ValueType::ARRAY, {}));
  return v;
}

TEST(GgufWriter, EveryValueTypeRoundTrips) {
  GgufWriter w;
  const auto values = all_values();
  for (const auto& [key, value] : values) w.set("test." + key, value);
  const std::string bytes = w.to_bytes([](size_t, std::string&) {});
  const GgufFile f = GgufFile::parse(as_span(bytes), "values.gguf");
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), 32u);
  EXPECT_TRUE(f.tensors().empty());
  ASSERT_EQ(f.metadata().size(), values.size());
  for (size_t k = 0; k < values.size(); ++k) {
    // File order is the order of set().
    EXPECT_EQ(f.metadata()[k].first, "test." + values[k].first);
    expect_same(values[k].second, f.metadata()[k].second, values[k].first);
  }
  EXPECT_EQ(f.get_int("test.i64.min"), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(f.get_string_array("test.array.string"),
            (std::vector<std::string>{"<unk>", "<s>", "", "▁a"}));
}

TEST(GgufWriter, HeaderLayoutIsExact) {
  GgufWriter w;
  w.set("a", Value::of_u32(7));
  w.add_tensor("t", GgmlType::F32, {3});
  const std::string bytes = w.to_bytes([](size_t, std::string& out) { out.append(12, '\x11'); });
  // magic, version, counts, "a" (8+1), type 4, value 4, "t" (8+1), n_dims 4, dim 8, type 4,
  // offset 8 = 4+4+8+8+9+4+4+9+4+8+4+8 = 74, padded to 96; data 12 bytes padded to 32.
  ASSERT_EQ(bytes.size(), 96u + 32u);
  EXPECT_EQ(bytes.substr(0, 4), "GGUF");
  EXPECT_EQ(testing::peek<uint32_t>(bytes, 4), 3u);
  EXPECT_EQ(testing::peek<uint64_t>(bytes, 8), 1u);   // tensors
  EXPECT_EQ(testing::peek<uint64_t>(bytes, 16), 1u);  // kv pairs
  EXPECT_EQ(testing::peek<uint64_t>(bytes, 24), 1u);  // key length
  EXPECT_EQ(bytes[32], 'a');
  EXPECT_EQ(testing::peek<uint32_t>(bytes, 33), 4u);  // UINT32
  EXPECT_EQ(testing::peek<uint32_t>(bytes, 37), 7u);
  EXPECT_EQ(bytes.substr(74, 22), std::string(22, '\0'));
  EXPECT_EQ(bytes.substr(96, 12), std::string(12, '\x11'));
  EXPECT_EQ(bytes.substr(108), std::string(20, '\0'));
}

TEST(GgufWriter, NoTensorsMeansNoPadding) {
  // Like llama.cpp's vocabulary-only files: the file ends right after the metadata.
  GgufWriter w;
  w.set("a", Value::of_u32(7));
  const std::string bytes = w.to_bytes([](size_t, std::string&) {});
  EXPECT_EQ(bytes.size(), 24u + 9u + 4u + 4u);
  EXPECT_EQ(GgufFile::parse(as_span(bytes), "meta.gguf").get_int("a"), 7);
  EXPECT_EQ(GgufWriter().to_bytes([](size_t, std::string&) {}).size(), 24u);
}

struct TypeCase {
  GgmlType type;
  std::vector<uint64_t> shape;
};

TEST(GgufWriter, TensorsOfSeveralTypesRoundTripWithData) {
  const std::vector<TypeCase> cases = {
      {GgmlType::F32, {5, 3}},   {GgmlType::F16, {7}},         {GgmlType::BF16, {2, 2, 2}},
      {GgmlType::Q4_0, {64, 3}}, {GgmlType::Q8_0, {32, 1, 2}}, {GgmlType::Q4_K, {256, 2}},
      {GgmlType::Q6_K, {512}},   {GgmlType::I8, {3}},          {GgmlType::I32, {1, 1, 1, 9}},
      {GgmlType::F64, {2}},      {GgmlType::Q5_K, {256}},      {GgmlType::IQ4_NL, {32}},
  };
  GgufWriter w;
  w.set("general.architecture", Value::of_string("test"));
  for (size_t i = 0; i < cases.size(); ++i) {
    w.add_tensor("tensor." + std::to_string(i), cases[i].type, cases[i].shape);
  }
  const std::string bytes = w.to_bytes(pattern_producer(w));
  const GgufFile f = GgufFile::parse(as_span(bytes), "types.gguf");
  ASSERT_EQ(f.tensors().size(), cases.size());
  EXPECT_EQ(f.data_offset() % 32, 0u);
  for (size_t i = 0; i < cases.size(); ++i) {
    const TensorInfo& t = f.tensors()[i];
    SCOPED_TRACE(t.name);
    EXPECT_EQ(t.name, "tensor." + std::to_string(i));
    EXPECT_EQ(t.type, cases[i].type);
    EXPECT_EQ(t.shape, cases[i].shape);
    EXPECT_EQ(t.offset, w.tensors()[i].offset);
    EXPECT_EQ(t.size_bytes, w.tensors()[i].size_bytes);
    EXPECT_EQ(t.offset % 32, 0u);
    uint64_t n = 1;
    for (auto d : cases[i].shape) n *= d;
    EXPECT_EQ(t.size_bytes, ggml_row_bytes(t.type, n));
    ASSERT_NE(t.data, nullptr);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(t.data), t.size_bytes),
              pattern_bytes(i, t.size_bytes));
  }
  // The file ends with the last tensor's padding.
  const TensorInfo& last = f.tensors().back();
  EXPECT_EQ(bytes.size(), f.data_offset() + (last.offset + last.size_bytes + 31) / 32 * 32);
}

class AlignmentTest : public ::testing::TestWithParam<uint32_t> {};

TEST_P(AlignmentTest, OffsetsAndPaddingFollowGeneralAlignment) {
  const uint32_t alignment = GetParam();
  GgufWriter w;
  w.add_tensor("a", GgmlType::F32, {3});
  w.add_tensor("b", GgmlType::F16, {5});
  w.add_tensor("c", GgmlType::Q8_0, {32});
  // Set after the tensors: the offsets must be laid out again.
  w.set("general.alignment", Value::of_u32(alignment));
  for (const auto& t : w.tensors()) EXPECT_EQ(t.offset % alignment, 0u) << t.name;
  const std::string bytes = w.to_bytes(pattern_producer(w));
  const GgufFile f = GgufFile::parse(as_span(bytes), "aligned.gguf");
  EXPECT_EQ(f.alignment(), alignment);
  EXPECT_EQ(f.data_offset() % alignment, 0u);
  ASSERT_EQ(f.tensors().size(), 3u);
  uint64_t expected_offset = 0;
  for (size_t i = 0; i < 3; ++i) {
    const TensorInfo& t = f.tensors()[i];
    EXPECT_EQ(t.offset, expected_offset) << t.name;
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(t.data), t.size_bytes),
              pattern_bytes(i, t.size_bytes));
    expected_offset = (t.offset + t.size_bytes + alignment - 1) / alignment * alignment;
  }
  EXPECT_EQ(bytes.size(), f.data_offset() + expected_offset);
  // Removing the key goes back to the default of 32.
  w.remove("general.alignment");
  EXPECT_EQ(w.tensors()[1].offset, 32u);
}

INSTANTIATE_TEST_SUITE_P(GgufWriter, AlignmentTest,
                         ::testing::Values(1u, 8u, 16u, 64u, 256u, 4096u));

TEST(GgufWriter, SetReplacesInPlaceAndRemoveDeletes) {
  GgufWriter w;
  w.set("a", Value::of_u32(1));
  w.set("b", Value::of_u32(2));
  w.set("c", Value::of_u32(3));
  w.set("a", Value::of_string("first"));
  w.remove("b");
  w.remove("not.there");
  ASSERT_EQ(w.metadata().size(), 2u);
  EXPECT_EQ(w.metadata()[0].first, "a");
  EXPECT_EQ(w.metadata()[0].second.s, "first");
  EXPECT_EQ(w.metadata()[1].first, "c");
  const std::string bytes = w.to_bytes([](size_t, std::string&) {});
  const GgufFile f = GgufFile::parse(as_span(bytes), "set.gguf");
  EXPECT_EQ(f.get_string("a"), "first");
  EXPECT_FALSE(f.has("b"));
  EXPECT_EQ(f.get_int("c"), 3);
}

void expect_error(const std::function<void()>& fn,
                  std::initializer_list<std::string_view> needles) {
  try {
    fn();
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    const std::string message = e.what();
    for (auto n : needles) {
      EXPECT_NE(message.find(n), std::string::npos) << "'" << n << "' not in: " << message;
    }
  }
}

TEST(GgufWriter, RejectsBadTensorsAndValues) {
  GgufWriter w;
  w.add_tensor("x", GgmlType::F32, {4});
  expect_error([&] { w.add_tensor("x", GgmlType::F32, {4}); }, {"duplicate", "'x'"});
  expect_error([&] { w.add_tensor("", GgmlType::F32, {4}); }, {"empty tensor name"});
  expect_error([&] { w.add_tensor(std::string(64, 'n'), GgmlType::F32, {4}); }, {"64 bytes"});
  expect_error([&] { w.add_tensor("y", GgmlType::F32, {}); }, {"'y'", "0 dimensions"});
  expect_error([&] { w.add_tensor("y", GgmlType::F32, {1, 1, 1, 1, 1}); }, {"5 dimensions"});
  expect_error([&] { w.add_tensor("y", GgmlType::F32, {4, 0}); }, {"'y'", "dimension 1 is 0"});
  expect_error([&] { w.add_tensor("y", GgmlType::Q4_0, {48}); }, {"'y'", "row length 48", "32"});
  expect_error(
      [&] {
        w.add_tensor("y", GgmlType::F32, {1ull << 32, 1ull << 32});
      },
      {"'y'", "overflows"});
  expect_error([&] { w.add_tensor("y", GgmlType::F64, {1ull << 61}); }, {"'y'", "2^63 bytes"});
  expect_error([&] { w.add_tensor("y", static_cast<GgmlType>(4), {32}); },
               {"'y'", "unknown ggml type id 4"});
  expect_error([&] { w.add_tensor("bad\xff", GgmlType::F32, {4}); }, {"UTF-8"});
  EXPECT_EQ(w.tensors().size(), 1u);

  expect_error([&] { w.set("", Value::of_u32(1)); }, {"empty metadata key"});
  expect_error([&] { w.set("k\xc3", Value::of_u32(1)); }, {"UTF-8"});
  expect_error([&] { w.set("general.alignment", Value::of_u32(48)); },
               {"general.alignment", "power of two"});
  expect_error([&] { w.set("general.alignment", Value::of_u32(0)); }, {"power of two"});
  expect_error([&] { w.set("general.alignment", Value::of_u64(64)); },
               {"general.alignment", "expected uint32", "uint64"});
  expect_error([&] { w.set("k", scalar_u(ValueType::UINT8, 256)); }, {"'k'", "out of range"});
  expect_error([&] { w.set("k", scalar_i(ValueType::INT16, 40000)); }, {"out of range"});
  expect_error([&] { w.set("k", scalar_u(ValueType::BOOL, 2)); }, {"out of range"});
  expect_error([&] { w.set("k", array_of(ValueType::INT32, {Value::of_u32(1)})); },
               {"'k'", "array item 0 is uint32", "int32"});
  expect_error([&] { w.set("k", array_of(ValueType::ARRAY, {Value::of_u32(1)})); },
               {"array item 0"});
  expect_error([&] { w.set("k", scalar_u(static_cast<ValueType>(13), 0)); },
               {"unknown value type 13"});
  EXPECT_TRUE(w.metadata().empty());
}

// A scratch folder removed at the end of the test.
class ScratchDir {
 public:
  ScratchDir() {
    path_ = fs::temp_directory_path() /
            ("vigil_gguf_test_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~ScratchDir() { fs::remove_all(path_); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  size_t entries() const {
    size_t n = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(path_)) ++n;
    return n;
  }

 private:
  fs::path path_;
};

TEST(GgufWriter, WriteMatchesToBytesAndOpens) {
  ScratchDir dir;
  const GgufWriter w = testing::sample_writer();
  const std::string path = dir.file("model.gguf");
  w.write(path, pattern_producer(w));
  EXPECT_EQ(read_file(path), w.to_bytes(pattern_producer(w)));
  EXPECT_EQ(dir.entries(), 1u);  // no temp file left behind
  const GgufFile f = GgufFile::open(path);
  EXPECT_EQ(f.tensors().size(), w.tensors().size());
  EXPECT_EQ(f.get_string("general.name"), "sample");
}

TEST(GgufWriter, WrongChunkSizeNamesTheTensorAndLeavesNothing) {
  ScratchDir dir;
  const GgufWriter w = testing::sample_writer();
  const std::string path = dir.file("model.gguf");
  write_file_atomic(path, "previous content");
  auto short_producer = [&](size_t i, std::string& out) {
    out += pattern_bytes(i, w.tensors()[i].size_bytes - (i == 2 ? 1 : 0));
  };
  expect_error([&] { w.write(path, short_producer); },
               {path, "blk.0.attn_norm.weight", "producer gave 31 bytes, expected 32"});
  EXPECT_EQ(read_file(path), "previous content");  // the old file is untouched
  EXPECT_EQ(dir.entries(), 1u);                    // and the temp file is gone
  expect_error([&] { w.to_bytes(short_producer); }, {"blk.0.attn_norm.weight"});
  auto long_producer = [&](size_t i, std::string& out) {
    out += pattern_bytes(i, w.tensors()[i].size_bytes + 1);
  };
  expect_error([&] { w.write(dir.file("other.gguf"), long_producer); },
               {"token_embd.weight", "producer gave 129 bytes, expected 128"});
  EXPECT_EQ(dir.entries(), 1u);
}

TEST(GgufWriter, ProducerExceptionLeavesNothing) {
  ScratchDir dir;
  const GgufWriter w = testing::sample_writer();
  const std::string path = dir.file("model.gguf");
  auto failing = [&](size_t i, std::string& out) {
    if (i == 3) throw Error("quantize failed");
    out += pattern_bytes(i, w.tensors()[i].size_bytes);
  };
  expect_error([&] { w.write(path, failing); }, {"quantize failed"});
  EXPECT_EQ(dir.entries(), 0u);
}

TEST(GgufWriter, UnwritableDestinationIsAnError) {
  const GgufWriter w = testing::sample_writer();
  expect_error([&] { w.write("/nonexistent-dir/x.gguf", pattern_producer(w)); },
               {"/nonexistent-dir/x.gguf", "cannot create"});
}

// Value helpers.

TEST(GgufValue, Constructors) {
  EXPECT_EQ(Value::of_u32(5).type, ValueType::UINT32);
  EXPECT_EQ(Value::of_i32(-5).i, -5);
  EXPECT_EQ(Value::of_u64(1ull << 50).u, 1ull << 50);
  EXPECT_EQ(Value::of_f32(0.5f).f, 0.5);
  EXPECT_EQ(Value::of_bool(true).u, 1u);
  EXPECT_EQ(Value::of_string("s").s, "s");
  const Value a = Value::of_strings({"a", "b"});
  EXPECT_EQ(a.type, ValueType::ARRAY);
  EXPECT_EQ(a.array_type, ValueType::STRING);
  ASSERT_EQ(a.array.size(), 2u);
  EXPECT_EQ(a.array[1].s, "b");
  EXPECT_EQ(Value::of_f32s({1, 2}).array_type, ValueType::FLOAT32);
  EXPECT_EQ(Value::of_i32s({1, 2}).array[1].i, 2);
}

TEST(GgufValue, NumericConversions) {
  EXPECT_TRUE(Value::of_u32(1).is_integer());
  EXPECT_TRUE(scalar_i(ValueType::INT8, -1).is_integer());
  EXPECT_FALSE(Value::of_f32(1).is_integer());
  EXPECT_FALSE(Value::of_bool(true).is_integer());
  EXPECT_FALSE(Value::of_string("1").is_integer());
  EXPECT_EQ(Value::of_u32(7).as_int(), 7);
  EXPECT_EQ(scalar_i(ValueType::INT64, -9).as_int(), -9);
  EXPECT_EQ(Value::of_bool(true).as_int(), 1);
  EXPECT_EQ(Value::of_u64(std::numeric_limits<int64_t>::max()).as_int(),
            std::numeric_limits<int64_t>::max());
  expect_error([] { (void)Value::of_u64(1ull << 63).as_int(); }, {"int64", "uint64"});
  expect_error([] { (void)Value::of_f32(1).as_int(); }, {"expected an integer", "float32"});
  expect_error([] { (void)Value::of_string("x").as_int(); }, {"string"});
  EXPECT_EQ(Value::of_f32(0.25f).as_float(), 0.25);
  EXPECT_EQ(scalar_f(ValueType::FLOAT64, 1e-300).as_float(), 1e-300);
  EXPECT_EQ(Value::of_i32(-3).as_float(), -3.0);
  EXPECT_EQ(Value::of_u64(10).as_float(), 10.0);
  expect_error([] { (void)Value::of_bool(true).as_float(); }, {"expected a number", "bool"});
  expect_error([] { (void)Value::of_strings({}).as_float(); }, {"array"});
}

TEST(GgufValue, TypeNames) {
  EXPECT_EQ(value_type_name(ValueType::UINT8), "uint8");
  EXPECT_EQ(value_type_name(ValueType::INT16), "int16");
  EXPECT_EQ(value_type_name(ValueType::FLOAT32), "float32");
  EXPECT_EQ(value_type_name(ValueType::BOOL), "bool");
  EXPECT_EQ(value_type_name(ValueType::STRING), "string");
  EXPECT_EQ(value_type_name(ValueType::ARRAY), "array");
  EXPECT_EQ(value_type_name(ValueType::UINT64), "uint64");
  EXPECT_EQ(value_type_name(ValueType::FLOAT64), "float64");
  EXPECT_EQ(value_type_name(static_cast<ValueType>(99)), "unknown");
}

TEST(GgufValue, Display) {
  EXPECT_EQ(Value::of_u32(32000).to_display(), "32000");
  EXPECT_EQ(scalar_i(ValueType::INT8, -3).to_display(), "-3");
  EXPECT_EQ(Value::of_f32(1e-6f).to_display(), "1e-06");
  EXPECT_EQ(Value::of_f32(10000.0f).to_display(), "10000");
  EXPECT_EQ(scalar_f(ValueType::FLOAT64, 0.1).to_display(), "0.1");
  EXPECT_EQ(Value::of_bool(false).to_display(), "false");
  EXPECT_EQ(Value::of_string("llama").to_display(), "\"llama\"");
  EXPECT_EQ(Value::of_string("a\"b\\c\nd\x01").to_display(), "\"a\\\"b\\\\c\\nd\\x01\"");
  EXPECT_EQ(Value::of_string("▁the").to_display(), "\"▁the\"");
  EXPECT_EQ(Value::of_string("bad\xff").to_display(), "\"bad\\xff\"");
  EXPECT_EQ(Value::of_i32s({1, 2, 3}).to_display(), "[1, 2, 3]");
  EXPECT_EQ(Value::of_i32s({}).to_display(), "[]");
  EXPECT_EQ(Value::of_strings({"<unk>", "<s>", "</s>", "a"}).to_display(2),
            "[4 strings: \"<unk>\", \"<s>\", ...]");
  EXPECT_EQ(Value::of_f32s({-1000, 0, 1}).to_display(1), "[3 float32: -1000, ...]");
  EXPECT_EQ(Value::of_i32s({1, 2}).to_display(0), "[2 int32: ...]");
  EXPECT_EQ(
      array_of(ValueType::ARRAY, {Value::of_i32s({1}), Value::of_strings({"x"})}).to_display(),
      "[[1], [\"x\"]]");
  // Long strings are cut (chat templates), with the full length given.
  const std::string display = Value::of_string(std::string(500, 'x')).to_display();
  EXPECT_LT(display.size(), 200u);
  EXPECT_NE(display.find("(500 bytes)"), std::string::npos) << display;
  // A cut never splits a UTF-8 sequence.
  std::string utf8;
  for (int k = 0; k < 100; ++k) utf8 += "é";
  const std::string cut = Value::of_string(utf8).to_display();
  EXPECT_EQ(cut.find("\\x"), std::string::npos) << cut;
}

}  // namespace
}  // namespace vigil::gguf
