// The fuzz seed corpus fuzz/corpus/gguf/: small GGUFs made with the writer, valid ones (valid_*)
// and corrupt ones (bad_*). `GgufCorpus.Generate` writes them when VIGIL_WRITE_FUZZ_CORPUS names
// the corpus root (e.g. fuzz/corpus); otherwise it is skipped. `CommittedSeedsBehave` checks the
// committed files: each is small, valid_* parse and bad_* are rejected with vigil::Error.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "base/file.h"
#include "gguf_test_util.h"

namespace vigil::gguf {
namespace {

namespace fs = std::filesystem;
using testing::key_fields;
using testing::pattern_producer;
using testing::peek;
using testing::poke;
using testing::tensor_fields;

constexpr size_t kMaxSeedBytes = 20 * 1024;

std::vector<std::pair<std::string, std::string>> corpus_files() {
  std::vector<std::pair<std::string, std::string>> out;
  auto add = [&](const std::string& name, const GgufWriter& w) {
    out.emplace_back(name, w.to_bytes(pattern_producer(w)));
  };

  add("valid_empty.gguf", GgufWriter{});
  const std::string sample = testing::sample_bytes();
  out.emplace_back("valid_sample.gguf", sample);
  {
    std::string v2 = sample;
    poke<uint32_t>(v2, 4, 2);
    out.emplace_back("valid_v2.gguf", v2);
  }
  {
    GgufWriter w;
    w.set("general.architecture", Value::of_string("llama"));
    w.set("general.alignment", Value::of_u32(64));
    w.set("llama.block_count", Value::of_u32(1));
    w.set("llama.rope.freq_base", Value::of_f32(10000.0f));
    w.add_tensor("token_embd.weight", GgmlType::Q4_0, {32, 4});
    w.add_tensor("blk.0.attn_q.weight", GgmlType::Q4_K, {256, 2});
    w.add_tensor("blk.0.ffn_down.weight", GgmlType::Q6_K, {256});
    w.add_tensor("blk.0.attn_norm.weight", GgmlType::F32, {32});
    w.add_tensor("output.weight", GgmlType::BF16, {32, 4});
    add("valid_align64_quant.gguf", w);
  }
  {
    // A tokenizer-only file like llama.cpp's vocab GGUFs.
    GgufWriter w;
    w.set("general.architecture", Value::of_string("llama"));
    w.set("tokenizer.ggml.model", Value::of_string("llama"));
    std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
    std::vector<float> scores = {0, 0, 0};
    std::vector<int32_t> types = {2, 3, 3};
    for (int b = 0; b < 40; ++b) {
      tokens.push_back("▁t" + std::to_string(b));
      scores.push_back(-static_cast<float>(b));
      types.push_back(1);
    }
    w.set("tokenizer.ggml.tokens", Value::of_strings(tokens));
    w.set("tokenizer.ggml.scores", Value::of_f32s(scores));
    w.set("tokenizer.ggml.token_type", Value::of_i32s(types));
    w.set("tokenizer.ggml.merges", Value::of_strings({"▁ t", "t 1", "▁t 1"}));
    w.set("tokenizer.ggml.bos_token_id", Value::of_u32(1));
    w.set("tokenizer.ggml.add_bos_token", Value::of_bool(true));
    add("valid_vocab.gguf", w);
  }
  {
    GgufWriter w;
    Value nested;
    nested.type = ValueType::ARRAY;
    nested.array_type = ValueType::ARRAY;
    nested.array = {Value::of_i32s({1, 2}), Value::of_strings({"a"}), Value::of_f32s({})};
    w.set("nested", nested);
    Value i64;
    i64.type = ValueType::INT64;
    i64.i = -1;
    w.set("i64", i64);
    Value f64;
    f64.type = ValueType::FLOAT64;
    f64.f = 0.5;
    w.set("f64", f64);
    w.set("u64", Value::of_u64(~0ull));
    add("valid_values.gguf", w);
  }

  auto bad = [&](const std::string& name, const std::function<void(std::string&)>& patch) {
    std::string bytes = sample;
    patch(bytes);
    out.emplace_back(name, bytes);
  };
  bad("bad_truncated_header.gguf", [](std::string& b) { b.resize(b.size() / 4); });
  bad("bad_truncated_data.gguf", [](std::string& b) { b.resize(b.size() - 100); });
  bad("bad_magic.gguf", [](std::string& b) { b[0] = 'X'; });
  bad("bad_version.gguf", [](std::string& b) { poke<uint32_t>(b, 4, 4); });
  bad("bad_tensor_count.gguf", [](std::string& b) { poke<uint64_t>(b, 8, 1ull << 63); });
  bad("bad_string_length.gguf",
      [](std::string& b) { poke<uint64_t>(b, key_fields(b, "general.name").value, 1ull << 63); });
  bad("bad_array_count.gguf", [](std::string& b) {
    poke<uint64_t>(b, key_fields(b, "test.strings").value + 4, 1ull << 62);
  });
  bad("bad_duplicate_key.gguf",
      [](std::string& b) { b[key_fields(b, "dup.key.aab").text + 10] = 'a'; });
  bad("bad_overlap.gguf", [](std::string& b) {
    poke<uint64_t>(b, tensor_fields(b, "blk.0.dup_b").offset,
                   peek<uint64_t>(b, tensor_fields(b, "blk.0.dup_a").offset));
  });
  bad("bad_misaligned.gguf", [](std::string& b) {
    const size_t at = tensor_fields(b, "blk.0.dup_b").offset;
    poke<uint64_t>(b, at, peek<uint64_t>(b, at) + 4);
  });
  bad("bad_tensor_type.gguf",
      [](std::string& b) { poke<uint32_t>(b, tensor_fields(b, "token_embd.weight").type, 99); });
  bad("bad_n_dims.gguf",
      [](std::string& b) { poke<uint32_t>(b, tensor_fields(b, "blk.1.conv4d.weight").n_dims, 5); });
  bad("bad_block_size.gguf", [](std::string& b) {
    poke<uint64_t>(b, tensor_fields(b, "blk.0.attn_q.weight").dims[0], 48);
  });
  return out;
}

TEST(GgufCorpus, Generate) {
  const char* root = std::getenv("VIGIL_WRITE_FUZZ_CORPUS");
  if (root == nullptr) GTEST_SKIP() << "set VIGIL_WRITE_FUZZ_CORPUS=<fuzz/corpus> to write seeds";
  const std::string dir = std::string(root) + "/gguf";
  fs::create_directories(dir);
  for (const auto& [name, bytes] : corpus_files()) {
    ASSERT_LT(bytes.size(), kMaxSeedBytes) << name;
    write_file_atomic(dir + "/" + name, bytes);
  }
}

TEST(GgufCorpus, GeneratedSeedsBehave) {
  for (const auto& [name, bytes] : corpus_files()) {
    SCOPED_TRACE(name);
    EXPECT_LT(bytes.size(), kMaxSeedBytes);
    if (name.rfind("valid_", 0) == 0) {
      EXPECT_NO_THROW(GgufFile::parse(testing::as_span(bytes), name));
    } else {
      EXPECT_THROW(GgufFile::parse(testing::as_span(bytes), name), Error);
    }
  }
}

TEST(GgufCorpus, CommittedSeedsBehave) {
  const fs::path dir = fs::path(VIGIL_SOURCE_DIR) / "fuzz" / "corpus" / "gguf";
  if (!fs::exists(dir)) GTEST_SKIP() << dir << " not generated yet";
  size_t valid = 0;
  size_t bad = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    SCOPED_TRACE(name);
    const std::string bytes = read_file(entry.path().string());
    EXPECT_LT(bytes.size(), kMaxSeedBytes);
    if (name.rfind("valid_", 0) == 0) {
      ++valid;
      EXPECT_NO_THROW(GgufFile::parse(testing::as_span(bytes), name));
    } else if (name.rfind("bad_", 0) == 0) {
      ++bad;
      EXPECT_THROW(GgufFile::parse(testing::as_span(bytes), name), Error);
    } else {
      // Inputs the fuzzer found, added by hand: they only must not crash.
      try {
        GgufFile::parse(testing::as_span(bytes), name);
      } catch (const Error&) {
      }
    }
  }
  EXPECT_GT(valid, 0u);
  EXPECT_GT(bad, 0u);
}

}  // namespace
}  // namespace vigil::gguf
