// safetensors: the shared tiny models (names, shapes, BF16, values identical to the f32/f16
// GGUFs), synthetic files of every dtype, sharded checkpoints, conversion to f32, and corrupt
// headers.
#include "llm/format/safetensors.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>

#include "base/file.h"
#include "formats_test_util.h"
#include "llm/format/gguf.h"

namespace vigil::safetensors {
namespace {

using formats_testing::as_span;
using formats_testing::expect_error;
using formats_testing::safetensors_image;
using formats_testing::safetensors_text_image;
using formats_testing::ScratchDir;
using json = nlohmann::json;
namespace fs = std::filesystem;

const std::string kModels = std::string(VIGIL_SHARED_DIR) + "/testdata/models/";

using Shape = std::vector<uint64_t>;

// Expected HF tensors of each tiny model (see testdata/models/README.md).
std::map<std::string, Shape> expected_tensors(const std::string& model) {
  std::map<std::string, Shape> t;
  const uint64_t vocab = model == "llama" ? 1000 : 1024;
  const uint64_t layers = model == "llama" ? 3 : 2;
  t["model.embed_tokens.weight"] = {vocab, 256};
  t["model.norm.weight"] = {256};
  if (model != "qwen2") t["lm_head.weight"] = {vocab, 256};  // qwen2 is tied
  for (uint64_t i = 0; i < layers; ++i) {
    const std::string b = "model.layers." + std::to_string(i) + ".";
    t[b + "input_layernorm.weight"] = {256};
    t[b + "post_attention_layernorm.weight"] = {256};
    t[b + "self_attn.o_proj.weight"] = {256, 256};
    if (model == "phi3") {
      t[b + "self_attn.qkv_proj.weight"] = {768, 256};
      t[b + "mlp.gate_up_proj.weight"] = {512, 256};
      t[b + "mlp.down_proj.weight"] = {256, 256};
    } else {
      t[b + "self_attn.q_proj.weight"] = {256, 256};
      t[b + "self_attn.k_proj.weight"] = {128, 256};
      t[b + "self_attn.v_proj.weight"] = {128, 256};
      t[b + "mlp.gate_proj.weight"] = {512, 256};
      t[b + "mlp.up_proj.weight"] = {512, 256};
      t[b + "mlp.down_proj.weight"] = {256, 512};
    }
    if (model == "qwen2") {
      t[b + "self_attn.q_proj.bias"] = {256};
      t[b + "self_attn.k_proj.bias"] = {128};
      t[b + "self_attn.v_proj.bias"] = {128};
    }
  }
  return t;
}

class RealSafetensors : public ::testing::TestWithParam<std::string> {};

TEST_P(RealSafetensors, NamesShapesAndDtypes) {
  const std::string model = GetParam();
  const std::string path = kModels + model + "/model.safetensors";
  const SafetensorsFile f = SafetensorsFile::open(path);
  EXPECT_EQ(f.metadata().at("format"), "pt");
  const auto expected = expected_tensors(model);
  ASSERT_EQ(f.tensors().size(), expected.size());
  uint64_t covered = 0;
  uint64_t previous_end = 0;
  for (const auto& t : f.tensors()) {
    SCOPED_TRACE(t.name);
    ASSERT_EQ(expected.count(t.name), 1u);
    EXPECT_EQ(t.shape, expected.at(t.name));
    EXPECT_EQ(t.dtype, Dtype::BF16);
    EXPECT_EQ(t.size_bytes(), t.n_values() * 2);
    EXPECT_GE(t.begin, previous_end);  // tensors() is in data order
    previous_end = t.end;
    covered += t.size_bytes();
    EXPECT_EQ(f.find_tensor(t.name), &t);
  }
  // Files written by the safetensors library have no gaps.
  EXPECT_EQ(covered, f.file_size() - f.data_offset());

  // The folder form finds the same tensors.
  const SafetensorsModel m = SafetensorsModel::open(kModels + model);
  EXPECT_EQ(m.shards().size(), 1u);
  EXPECT_EQ(m.tensors().size(), expected.size());
  EXPECT_EQ(m.total_bytes(), covered);
  EXPECT_EQ(m.tensor("model.norm.weight").shape, Shape{256});
  EXPECT_EQ(m.shard_path("model.norm.weight"), kModels + model + "/model.safetensors");
  EXPECT_EQ(m.find("no.such.tensor"), nullptr);
  expect_error([&] { (void)m.tensor("no.such.tensor"); }, {"no.such.tensor", model});
}

// The README promises that the bf16 safetensors and the unquantized GGUFs hold exactly the same
// numbers, which checks BF16 (and for llama, F16) conversion on real data.
TEST_P(RealSafetensors, ValuesEqualTheUnquantizedGguf) {
  const std::string model = GetParam();
  const SafetensorsModel m = SafetensorsModel::open(kModels + model);
  const std::string gguf_path =
      kModels + model + (model == "llama" ? "/model-f16.gguf" : "/model-f32.gguf");
  const gguf::GgufFile g = gguf::GgufFile::open(gguf_path);
  // Tensors the converter does not permute or fuse differently.
  const std::vector<std::pair<std::string, std::string>> pairs = {
      {"model.embed_tokens.weight", "token_embd.weight"},
      {"model.norm.weight", "output_norm.weight"},
      {"model.layers.0.mlp.down_proj.weight", "blk.0.ffn_down.weight"},
      {"model.layers.1.input_layernorm.weight", "blk.1.attn_norm.weight"},
      {"model.layers.1.self_attn.o_proj.weight", "blk.1.attn_output.weight"},
  };
  for (const auto& [hf_name, gguf_name] : pairs) {
    SCOPED_TRACE(hf_name);
    const TensorInfo& t = m.tensor(hf_name);
    const gguf::TensorInfo& gt = g.tensor(gguf_name);
    ASSERT_EQ(t.n_values(), gt.n_values());
    // PyTorch shape is ggml's reversed.
    EXPECT_EQ(Shape(t.shape.rbegin(), t.shape.rend()), gt.shape);
    const std::vector<float> values = to_f32(t);
    size_t mismatches = 0;
    for (uint64_t k = 0; k < t.n_values(); ++k) {
      float expected = 0;
      if (gt.type == GgmlType::F32) {
        std::memcpy(&expected, gt.data + 4 * k, 4);
      } else {
        ASSERT_EQ(gt.type, GgmlType::F16);
        uint16_t bits;
        std::memcpy(&bits, gt.data + 2 * k, 2);
        expected = f16_to_f32(bits);
      }
      if (values[k] != expected) ++mismatches;
    }
    EXPECT_EQ(mismatches, 0u);
    // Row access agrees with whole-tensor access.
    std::vector<float> row(t.row_length());
    const uint64_t last = t.n_rows() - 1;
    row_to_f32(t, last, row);
    for (uint64_t k = 0; k < row.size(); ++k) {
      ASSERT_EQ(row[k], values[last * t.row_length() + k]);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(SharedTestdata, RealSafetensors,
                         ::testing::Values("llama", "qwen2", "phi3"));

TEST(Safetensors, EveryDtype) {
  json header = {{"__metadata__", {{"format", "pt"}, {"note", "x"}}}};
  std::string data;
  const std::vector<std::pair<std::string, uint32_t>> dtypes = {
      {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8},     {"I32", 4},
      {"I16", 2}, {"I8", 1},  {"U8", 1},  {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1}};
  for (const auto& [name, size] : dtypes) {
    const uint64_t begin = data.size();
    data.append(3 * 2 * size, static_cast<char>(size));
    header["t_" + name] = {
        {"dtype", name}, {"shape", {3, 2}}, {"data_offsets", {begin, data.size()}}};
  }
  header["scalar"] = {
      {"dtype", "F32"}, {"shape", json::array()}, {"data_offsets", {data.size(), data.size() + 4}}};
  data.append(4, '\0');
  header["empty"] = {{"dtype", "F16"}, {"shape", {0, 5}}, {"data_offsets", {7, 7}}};
  const std::string bytes = safetensors_image(header, data);
  const SafetensorsFile f = SafetensorsFile::parse(as_span(bytes), "dtypes.safetensors");
  EXPECT_EQ(f.metadata().size(), 2u);
  EXPECT_EQ(f.metadata().at("note"), "x");
  EXPECT_EQ(f.tensors().size(), dtypes.size() + 2);
  for (const auto& [name, size] : dtypes) {
    const TensorInfo& t = f.tensor("t_" + name);
    EXPECT_EQ(dtype_name(t.dtype), name);
    EXPECT_EQ(dtype_from_name(name), t.dtype);
    EXPECT_EQ(dtype_size(t.dtype), size);
    EXPECT_EQ(t.size_bytes(), 6u * size);
    EXPECT_EQ(t.row_length(), 2u);
    EXPECT_EQ(t.n_rows(), 3u);
    EXPECT_EQ(t.data[0], static_cast<uint8_t>(size));
  }
  EXPECT_EQ(f.tensor("scalar").n_values(), 1u);
  EXPECT_EQ(f.tensor("scalar").row_length(), 1u);
  EXPECT_EQ(f.tensor("empty").n_values(), 0u);
  EXPECT_EQ(f.tensor("empty").n_rows(), 0u);
  EXPECT_FALSE(dtype_from_name("F8_E4M3FN").has_value());
  EXPECT_FALSE(dtype_from_name("bf16").has_value());
  expect_error([&] { (void)f.tensor("missing"); }, {"dtypes.safetensors", "missing"});
}

TEST(Safetensors, TensorsNeedNotBeSortedAndGapsAreAllowed) {
  const json header = {
      {"b", {{"dtype", "F32"}, {"shape", {2}}, {"data_offsets", {16, 24}}}},
      {"a", {{"dtype", "F32"}, {"shape", {2}}, {"data_offsets", {0, 8}}}},
  };
  const std::string bytes = safetensors_image(header, std::string(24, '\0'));
  const SafetensorsFile f = SafetensorsFile::parse(as_span(bytes), "unsorted.safetensors");
  ASSERT_EQ(f.tensors().size(), 2u);
  EXPECT_EQ(f.tensors()[0].name, "a");
  EXPECT_EQ(f.tensors()[1].name, "b");
}

TEST(Safetensors, HeaderPaddedWithSpaces) {
  // The format allows trailing spaces so that the data section starts aligned.
  const std::string header =
      R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})" + std::string(7, ' ');
  const std::string bytes = safetensors_text_image(header, std::string(4, '\0'));
  const SafetensorsFile f = SafetensorsFile::parse(as_span(bytes), "padded.safetensors");
  EXPECT_EQ(f.data_offset(), 8 + header.size());
  EXPECT_EQ(f.tensor("w").data, as_span(bytes).data() + f.data_offset());
}

// Reference half → float: sign × 2^(e-15) × 1.m, subnormals m × 2^-24.
float reference_f16(uint16_t h) {
  const int sign = (h >> 15) != 0 ? -1 : 1;
  const int e = (h >> 10) & 0x1F;
  const int m = h & 0x3FF;
  if (e == 0x1F) return m == 0 ? sign * std::numeric_limits<float>::infinity() : std::nanf("");
  if (e == 0) return static_cast<float>(sign * std::ldexp(m, -24));
  return static_cast<float>(sign * std::ldexp(1024 + m, e - 25));
}

TEST(Safetensors, HalfConversionIsExactForAllBitPatterns) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float got = f16_to_f32(static_cast<uint16_t>(h));
    const float want = reference_f16(static_cast<uint16_t>(h));
    if (std::isnan(want)) {
      ASSERT_TRUE(std::isnan(got)) << h;
    } else {
      ASSERT_EQ(got, want) << h;
      ASSERT_EQ(std::signbit(got), std::signbit(want)) << h;
    }
  }
  EXPECT_EQ(bf16_to_f32(0x3F80), 1.0f);
  EXPECT_EQ(bf16_to_f32(0xC040), -3.0f);
  EXPECT_TRUE(std::isinf(bf16_to_f32(0x7F80)));
}

TEST(Safetensors, ConversionChecksRangesAndDtypes) {
  const json header = {
      {"f16", {{"dtype", "F16"}, {"shape", {2, 2}}, {"data_offsets", {0, 8}}}},
      {"i32", {{"dtype", "I32"}, {"shape", {2}}, {"data_offsets", {8, 16}}}},
      {"f32", {{"dtype", "F32"}, {"shape", {1, 3}}, {"data_offsets", {16, 28}}}},
  };
  std::string data;
  for (uint16_t h : {0x3C00, 0x4000, 0xBC00, 0x0001}) data.append(reinterpret_cast<char*>(&h), 2);
  data.append(8, '\0');
  for (float x : {1.5f, -2.0f, 3.25f}) data.append(reinterpret_cast<char*>(&x), 4);
  const std::string bytes = safetensors_image(header, data);
  const SafetensorsFile f = SafetensorsFile::parse(as_span(bytes), "conv.safetensors");
  std::vector<float> row(2);
  row_to_f32(f.tensor("f16"), 1, row);
  EXPECT_EQ(row[0], -1.0f);
  EXPECT_EQ(row[1], std::ldexp(1.0f, -24));
  EXPECT_EQ(to_f32(f.tensor("f32")), (std::vector<float>{1.5f, -2.0f, 3.25f}));
  std::vector<float> two(2);
  to_f32(f.tensor("f32"), 1, two);
  EXPECT_EQ(two, (std::vector<float>{-2.0f, 3.25f}));
  expect_error([&] { to_f32(f.tensor("f32"), 2, two); }, {"'f32'", "outside"});
  expect_error([&] { row_to_f32(f.tensor("f16"), 2, row); }, {"'f16'", "row 2"});
  std::vector<float> three(3);
  expect_error([&] { row_to_f32(f.tensor("f16"), 0, three); }, {"'f16'", "3 values"});
  expect_error([&] { (void)to_f32(f.tensor("i32")); }, {"'i32'", "I32"});
}

// Corrupt files: each must throw a one-line vigil::Error naming the file and the field.
void expect_corrupt(const std::string& bytes, std::initializer_list<std::string_view> needles) {
  std::vector<std::string_view> all = {"bad.safetensors"};
  all.insert(all.end(), needles.begin(), needles.end());
  try {
    SafetensorsFile::parse(as_span(bytes), "bad.safetensors");
    ADD_FAILURE() << "accepted a corrupt file";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    for (auto n : all)
      EXPECT_NE(message.find(n), std::string::npos) << "'" << n << "': " << message;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "non-vigil exception: " << e.what();
  }
}

json one_tensor(const std::string& dtype, json shape, json offsets) {
  return {
      {"w", {{"dtype", dtype}, {"shape", std::move(shape)}, {"data_offsets", std::move(offsets)}}}};
}

TEST(SafetensorsCorrupt, BadHeaderLength) {
  expect_corrupt("", {"header length", "0 bytes"});
  expect_corrupt("1234567", {"header length"});
  const std::string good = safetensors_image(one_tensor("F32", {1}, {0, 4}), std::string(4, '\0'));
  for (uint64_t n : {uint64_t{1} << 63, std::numeric_limits<uint64_t>::max(), uint64_t{good.size()},
                     uint64_t{200} << 20}) {
    SCOPED_TRACE(n);
    std::string bytes = good;
    std::memcpy(bytes.data(), &n, 8);
    expect_corrupt(bytes, {"header length", std::to_string(n)});
  }
  std::string zero = good;
  std::memset(zero.data(), 0, 8);
  expect_corrupt(zero, {"header length"});
  // One byte short: the JSON is cut.
  std::string shorter = good;
  const uint64_t n = safetensors_image(one_tensor("F32", {1}, {0, 4}), "").size() - 8 - 1;
  std::memcpy(shorter.data(), &n, 8);
  expect_corrupt(shorter, {"header JSON"});
}

TEST(SafetensorsCorrupt, BadJson) {
  expect_corrupt(safetensors_text_image(std::string_view("{\"w\": [1, 2"), ""), {"header JSON"});
  expect_corrupt(safetensors_text_image(std::string_view("[1, 2]"), ""), {"header JSON", "'{'"});
  expect_corrupt(safetensors_text_image(std::string_view("{} trailing"), ""), {"header JSON"});
  expect_corrupt(safetensors_text_image(std::string_view("{\"w\": \"\xff\"}"), ""),
                 {"header JSON"});
  // Deep nesting is refused before it is built.
  const std::string deep =
      "{\"w\": {\"shape\": " + std::string(100000, '[') + std::string(100000, ']') + "}}";
  expect_corrupt(safetensors_text_image(deep, ""), {"header JSON", "nested"});
  expect_corrupt(safetensors_text_image(std::string_view("{\"w\": 5}"), ""),
                 {"'w'", "expected an object"});
}

TEST(SafetensorsCorrupt, DuplicateTensorName) {
  const std::string header = R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                             R"("w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})";
  expect_corrupt(safetensors_text_image(header, std::string(8, '\0')), {"duplicate", "'w'"});
}

TEST(SafetensorsCorrupt, OffsetsPastTheEnd) {
  expect_corrupt(safetensors_image(one_tensor("F32", {2}, {0, 8}), std::string(4, '\0')),
                 {"'w'", "data_offsets", "past the end"});
  expect_corrupt(safetensors_image(one_tensor("U8", {1},
                                              {json(std::numeric_limits<uint64_t>::max() - 1),
                                               json(std::numeric_limits<uint64_t>::max())}),
                                   std::string(4, '\0')),
                 {"'w'", "past the end"});
}

TEST(SafetensorsCorrupt, BadOffsets) {
  const std::string data(16, '\0');
  expect_corrupt(safetensors_image(one_tensor("F32", {1}, {8, 4}), data),
                 {"'w'", "begin 8 is after end 4"});
  expect_corrupt(safetensors_image(one_tensor("F32", {1}, {0}), data),
                 {"'w'", "data_offsets", "1 items"});
  expect_corrupt(safetensors_image(one_tensor("F32", {1}, {0, 4, 8}), data), {"data_offsets"});
  expect_corrupt(safetensors_image(one_tensor("F32", {1}, {-4, 0}), data),
                 {"data_offsets", "negative"});
  expect_corrupt(safetensors_image(one_tensor("F32", {1}, {0.5, 4}), data),
                 {"data_offsets", "fractional"});
  expect_corrupt(safetensors_image(one_tensor("F32", {1}, "0-4"), data),
                 {"data_offsets", "a string"});
}

TEST(SafetensorsCorrupt, WrongSizeForShape) {
  const std::string data(64, '\0');
  expect_corrupt(safetensors_image(one_tensor("F32", {2, 3}, {0, 20}), data),
                 {"'w'", "20 bytes", "[2, 3]", "F32", "needs 24"});
  expect_corrupt(safetensors_image(one_tensor("BF16", {4}, {0, 16}), data), {"'w'", "needs 8"});
  // Overflowing products are caught, not wrapped around to a matching size.
  expect_corrupt(
      safetensors_image(one_tensor("F32", {uint64_t{1} << 32, uint64_t{1} << 32}, {0, 0}), data),
      {"'w'", "overflows"});
  expect_corrupt(safetensors_image(one_tensor("F64", {uint64_t{1} << 62}, {0, 0}), data),
                 {"'w'", "overflows"});
  expect_corrupt(safetensors_image(one_tensor("F32", {-1}, {0, 4}), data),
                 {"'w'", "shape", "negative"});
  expect_corrupt(safetensors_image(one_tensor("F32", {1.5}, {0, 4}), data), {"shape"});
  expect_corrupt(safetensors_image(one_tensor("F32", 4, {0, 4}), data),
                 {"shape", "expected an array"});
}

TEST(SafetensorsCorrupt, UnknownDtype) {
  const std::string data(16, '\0');
  expect_corrupt(safetensors_image(one_tensor("F4", {1}, {0, 1}), data), {"'w'", "dtype", "'F4'"});
  expect_corrupt(safetensors_image(one_tensor("f32", {1}, {0, 4}), data), {"unknown dtype 'f32'"});
  json numeric = one_tensor("F32", {1}, {0, 4});
  numeric["w"]["dtype"] = 7;
  expect_corrupt(safetensors_image(numeric, data), {"'w'", "dtype", "expected a string"});
}

TEST(SafetensorsCorrupt, MissingFields) {
  const std::string data(16, '\0');
  for (const char* field : {"dtype", "shape", "data_offsets"}) {
    json header = one_tensor("F32", {1}, {0, 4});
    header["w"].erase(field);
    expect_corrupt(safetensors_image(header, data), {"'w'", "missing", field});
  }
}

TEST(SafetensorsCorrupt, OverlappingTensors) {
  const json header = {
      {"a", {{"dtype", "F32"}, {"shape", {4}}, {"data_offsets", {0, 16}}}},
      {"b", {{"dtype", "F32"}, {"shape", {2}}, {"data_offsets", {8, 16}}}},
  };
  expect_corrupt(safetensors_image(header, std::string(16, '\0')), {"overlap", "'a'", "'b'"});
  // Overlap with an earlier, longer tensor that is not the immediate predecessor.
  const json nested = {
      {"big", {{"dtype", "U8"}, {"shape", {32}}, {"data_offsets", {0, 32}}}},
      {"small", {{"dtype", "U8"}, {"shape", {4}}, {"data_offsets", {4, 8}}}},
      {"inner", {{"dtype", "U8"}, {"shape", {4}}, {"data_offsets", {16, 20}}}},
  };
  expect_corrupt(safetensors_image(nested, std::string(32, '\0')), {"overlap", "'big'"});
}

TEST(SafetensorsCorrupt, BadMetadata) {
  json header = one_tensor("F32", {1}, {0, 4});
  header["__metadata__"] = {{"format", 1}};
  expect_corrupt(safetensors_image(header, std::string(4, '\0')),
                 {"__metadata__", "'format'", "expected a string"});
  header["__metadata__"] = "pt";
  expect_corrupt(safetensors_image(header, std::string(4, '\0')), {"__metadata__"});
}

TEST(SafetensorsCorrupt, TruncatedRealFile) {
  const std::string bytes = read_file(kModels + "phi3/model.safetensors");
  for (size_t cut : {size_t{0}, size_t{5}, size_t{8}, size_t{100}, size_t{2000}, bytes.size() / 2,
                     bytes.size() - 1}) {
    SCOPED_TRACE(cut);
    expect_corrupt(bytes.substr(0, cut), {});
  }
}

// Sharded checkpoints.

std::string shard_bytes(const std::vector<std::string>& names) {
  json header = json::object();
  std::string data;
  for (const auto& name : names) {
    const uint64_t begin = data.size();
    const float v = static_cast<float>(name.size());
    data.append(reinterpret_cast<const char*>(&v), 4);
    header[name] = {{"dtype", "F32"}, {"shape", {1}}, {"data_offsets", {begin, data.size()}}};
  }
  return safetensors_image(header, data);
}

void write_index(const ScratchDir& dir, const json& weight_map) {
  write_file_atomic(dir.file("model.safetensors.index.json"),
                    json{{"metadata", {{"total_size", 12}}}, {"weight_map", weight_map}}.dump());
}

TEST(SafetensorsModel, ShardedCheckpoint) {
  ScratchDir dir;
  write_file_atomic(dir.file("model-00002-of-00002.safetensors"), shard_bytes({"c", "dd"}));
  write_file_atomic(dir.file("model-00001-of-00002.safetensors"), shard_bytes({"a"}));
  write_index(dir, {{"a", "model-00001-of-00002.safetensors"},
                    {"c", "model-00002-of-00002.safetensors"},
                    {"dd", "model-00002-of-00002.safetensors"}});
  for (const std::string& path : {dir.path(), dir.file("model.safetensors.index.json")}) {
    const SafetensorsModel m = SafetensorsModel::open(path);
    ASSERT_EQ(m.shards().size(), 2u);
    EXPECT_EQ(m.tensors().size(), 3u);
    EXPECT_EQ(m.total_bytes(), 12u);
    EXPECT_EQ(to_f32(m.tensor("dd"))[0], 2.0f);
    EXPECT_EQ(m.shard_path("a"), dir.file("model-00001-of-00002.safetensors"));
    EXPECT_EQ(m.shard_path("c"), dir.file("model-00002-of-00002.safetensors"));
  }
  // A single file by path.
  const SafetensorsModel single =
      SafetensorsModel::open(dir.file("model-00001-of-00002.safetensors"));
  EXPECT_EQ(single.tensors().size(), 1u);
}

TEST(SafetensorsModel, StaleOrBrokenIndex) {
  ScratchDir dir;
  write_file_atomic(dir.file("s1.safetensors"), shard_bytes({"a", "b"}));
  write_index(dir, {{"a", "s1.safetensors"}, {"b", "s1.safetensors"}, {"x", "s1.safetensors"}});
  expect_error([&] { SafetensorsModel::open(dir.path()); },
               {"'x'", "s1.safetensors", "does not hold it"});
  write_index(dir, {{"a", "s1.safetensors"}});
  expect_error([&] { SafetensorsModel::open(dir.path()); }, {"'b'", "does not map it"});
  write_index(dir, {{"a", "s1.safetensors"}, {"b", "missing.safetensors"}});
  expect_error([&] { SafetensorsModel::open(dir.path()); }, {"missing.safetensors", "cannot open"});
  write_index(dir, {{"a", "../s1.safetensors"}});
  expect_error([&] { SafetensorsModel::open(dir.path()); }, {"weight_map", "not a file name"});
  write_index(dir, {{"a", 3}});
  expect_error([&] { SafetensorsModel::open(dir.path()); },
               {"weight_map 'a'", "expected a file name"});
  write_index(dir, json::object());
  expect_error([&] { SafetensorsModel::open(dir.path()); }, {"weight_map", "no tensors"});
  write_file_atomic(dir.file("model.safetensors.index.json"), "{\"weight_map\": ");
  expect_error([&] { SafetensorsModel::open(dir.path()); }, {"index.json", "invalid JSON"});
  write_file_atomic(dir.file("model.safetensors.index.json"), "{}");
  expect_error([&] { SafetensorsModel::open(dir.path()); }, {"weight_map", "missing"});
}

TEST(SafetensorsModel, FolderWithoutWeights) {
  ScratchDir dir;
  expect_error([&] { SafetensorsModel::open(dir.path()); }, {dir.path(), "no model.safetensors"});
  expect_error([&] { SafetensorsModel::open(dir.file("nothing.safetensors")); }, {"cannot open"});
}

// Fuzz seed corpus fuzz/corpus/safetensors/: written when VIGIL_WRITE_FUZZ_CORPUS names the
// corpus root; the committed files are checked like the GGUF ones.
std::vector<std::pair<std::string, std::string>> corpus_files() {
  std::vector<std::pair<std::string, std::string>> out;
  std::string data;
  json header = {{"__metadata__", {{"format", "pt"}}}};
  for (const char* dtype : {"F32", "F16", "BF16", "I8", "F64"}) {
    const uint64_t size = dtype_size(*dtype_from_name(dtype)) * 6;
    const uint64_t begin = data.size();
    for (uint64_t k = 0; k < size; ++k) data += static_cast<char>(k * 37 + 11);
    header[std::string("t.") + dtype] = {
        {"dtype", dtype}, {"shape", {2, 3}}, {"data_offsets", {begin, begin + size}}};
  }
  out.emplace_back("valid_dtypes.safetensors", safetensors_image(header, data));
  out.emplace_back("valid_empty.safetensors", safetensors_text_image(std::string_view("{}"), ""));
  out.emplace_back(
      "valid_scalar_and_empty.safetensors",
      safetensors_image(
          json{{"s", {{"dtype", "F32"}, {"shape", json::array()}, {"data_offsets", {0, 4}}}},
               {"e", {{"dtype", "BF16"}, {"shape", {0}}, {"data_offsets", {4, 4}}}}},
          std::string(4, '\x3f')));
  out.emplace_back(
      "bad_overlap.safetensors",
      safetensors_image(json{{"a", {{"dtype", "F32"}, {"shape", {2}}, {"data_offsets", {0, 8}}}},
                             {"b", {{"dtype", "F32"}, {"shape", {1}}, {"data_offsets", {4, 8}}}}},
                        std::string(8, '\0')));
  out.emplace_back("bad_size.safetensors",
                   safetensors_image(one_tensor("F16", {3}, {0, 4}), std::string(8, '\0')));
  out.emplace_back("bad_past_end.safetensors",
                   safetensors_image(one_tensor("F32", {4}, {0, 16}), std::string(8, '\0')));
  out.emplace_back("bad_dtype.safetensors",
                   safetensors_image(one_tensor("Q4", {4}, {0, 2}), std::string(8, '\0')));
  {
    std::string bytes = safetensors_image(one_tensor("F32", {1}, {0, 4}), std::string(4, '\0'));
    const uint64_t too_long = bytes.size();
    std::memcpy(bytes.data(), &too_long, 8);
    out.emplace_back("bad_header_length.safetensors", bytes);
  }
  out.emplace_back("bad_json.safetensors",
                   safetensors_text_image(std::string_view("{\"w\": [1, "), ""));
  return out;
}

constexpr size_t kMaxSeedBytes = 20 * 1024;

TEST(SafetensorsCorpus, Generate) {
  const char* root = std::getenv("VIGIL_WRITE_FUZZ_CORPUS");
  if (root == nullptr) GTEST_SKIP() << "set VIGIL_WRITE_FUZZ_CORPUS=<fuzz/corpus> to write seeds";
  const std::string dir = std::string(root) + "/safetensors";
  fs::create_directories(dir);
  for (const auto& [name, bytes] : corpus_files()) {
    ASSERT_LT(bytes.size(), kMaxSeedBytes) << name;
    write_file_atomic(dir + "/" + name, bytes);
  }
}

void expect_seed_behaves(const std::string& name, const std::string& bytes) {
  SCOPED_TRACE(name);
  EXPECT_LT(bytes.size(), kMaxSeedBytes);
  if (name.rfind("valid_", 0) == 0) {
    EXPECT_NO_THROW(SafetensorsFile::parse(as_span(bytes), name));
  } else if (name.rfind("bad_", 0) == 0) {
    EXPECT_THROW(SafetensorsFile::parse(as_span(bytes), name), Error);
  } else {
    try {  // inputs the fuzzer found, added by hand: they only must not crash
      SafetensorsFile::parse(as_span(bytes), name);
    } catch (const Error&) {
    }
  }
}

TEST(SafetensorsCorpus, GeneratedSeedsBehave) {
  for (const auto& [name, bytes] : corpus_files()) expect_seed_behaves(name, bytes);
}

TEST(SafetensorsCorpus, CommittedSeedsBehave) {
  const fs::path dir = fs::path(VIGIL_SOURCE_DIR) / "fuzz" / "corpus" / "safetensors";
  if (!fs::exists(dir)) GTEST_SKIP() << dir << " not generated yet";
  size_t n = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    expect_seed_behaves(entry.path().filename().string(), read_file(entry.path().string()));
    ++n;
  }
  EXPECT_GT(n, 0u);
}

}  // namespace
}  // namespace vigil::safetensors
