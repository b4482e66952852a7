// Every real GGUF in the shared test data: the tiny models (checked against manifest.json's
// gguf_tensors: tensor names, types, shapes, type counts and metadata) and llama.cpp's vocabulary
// files (checked against the table in testdata/tokenizer/README.md). Each file is also written
// back through GgufWriter and must come out byte-identical.
#include <gtest/gtest.h>

#include <cctype>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>

#include "base/file.h"
#include "gguf_test_util.h"

namespace vigil::gguf {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

const std::string kTestdata = std::string(VIGIL_SHARED_DIR) + "/testdata";

std::string upper(std::string_view s) {
  std::string out;
  for (char c : s) out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// Writes `f` back with the writer; the result must equal the original bytes.
void expect_rewrite_identical(const GgufFile& f, const std::string& original) {
  GgufWriter w;
  for (const auto& [key, value] : f.metadata()) w.set(key, value);
  for (const auto& t : f.tensors()) w.add_tensor(t.name, t.type, t.shape);
  for (size_t i = 0; i < f.tensors().size(); ++i) {
    EXPECT_EQ(w.tensors()[i].offset, f.tensors()[i].offset) << f.tensors()[i].name;
  }
  std::string rewritten = w.to_bytes([&](size_t i, std::string& out) {
    const TensorInfo& t = f.tensors()[i];
    out.append(reinterpret_cast<const char*>(t.data), t.size_bytes);
  });
  if (f.version() != 3) testing::poke<uint32_t>(rewritten, 4, f.version());
  ASSERT_EQ(rewritten.size(), original.size()) << f.path();
  // Report the first differing byte rather than dumping megabytes.
  const auto mismatch = std::mismatch(rewritten.begin(), rewritten.end(), original.begin());
  EXPECT_TRUE(mismatch.first == rewritten.end())
      << f.path() << ": first difference at byte " << (mismatch.first - rewritten.begin());
}

// Basic invariants of any parsed file.
void expect_consistent(const GgufFile& f) {
  EXPECT_EQ(f.data_offset() % f.alignment(), 0u);
  for (const auto& t : f.tensors()) {
    SCOPED_TRACE(t.name);
    EXPECT_EQ(t.offset % f.alignment(), 0u);
    EXPECT_EQ(t.size_bytes, ggml_row_bytes(t.type, t.n_values()));
    EXPECT_LE(f.data_offset() + t.offset + t.size_bytes, f.file_size());
    ASSERT_NE(t.data, nullptr);
  }
}

struct ModelFile {
  std::string model;  // llama, qwen2, phi3
  std::string kind;   // f16, f32, q8_0, q4_0, q4_k_m
};

std::vector<ModelFile> model_files() {
  std::vector<ModelFile> out;
  for (const char* model : {"llama", "qwen2", "phi3"}) {
    const json manifest = json::parse(read_file(kTestdata + "/models/" + model + "/manifest.json"));
    for (const auto& [kind, _] : manifest.at("gguf_tensors").items()) {
      out.push_back({model, kind});
    }
  }
  return out;
}

class RealModelGguf : public ::testing::TestWithParam<ModelFile> {};

TEST_P(RealModelGguf, MatchesManifest) {
  const ModelFile& p = GetParam();
  const std::string dir = kTestdata + "/models/" + p.model;
  const std::string path = dir + "/model-" + p.kind + ".gguf";
  const json manifest = json::parse(read_file(dir + "/manifest.json"));
  const json& expected = manifest.at("gguf_tensors").at(p.kind);

  const GgufFile f = GgufFile::open(path);
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), 32u);
  EXPECT_EQ(f.architecture(), manifest.at("gguf_architecture").get<std::string>());
  expect_consistent(f);

  const json& tensors = expected.at("tensors");
  ASSERT_EQ(f.tensors().size(), tensors.size());
  std::map<std::string, size_t> counts;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorInfo& t = f.tensors()[i];
    EXPECT_EQ(t.name, tensors[i][0].get<std::string>());
    EXPECT_EQ(upper(ggml_type_name(t.type)), tensors[i][1].get<std::string>()) << t.name;
    EXPECT_EQ(t.shape, tensors[i][2].get<std::vector<uint64_t>>()) << t.name;
    ++counts[upper(ggml_type_name(t.type))];
    EXPECT_EQ(f.find_tensor(t.name), &t);
  }
  for (const auto& [type, count] : expected.at("type_counts").items()) {
    EXPECT_EQ(counts[type], count.get<size_t>()) << type;
  }
  EXPECT_EQ(counts.size(), expected.at("type_counts").size());

  for (const auto& [key, value] : expected.at("metadata").items()) {
    SCOPED_TRACE(key);
    if (value.is_string()) {
      EXPECT_EQ(f.get_string(key), value.get<std::string>());
    } else if (value.is_boolean()) {
      EXPECT_EQ(f.get_bool(key), value.get<bool>());
    } else if (value.is_number_integer()) {
      EXPECT_EQ(f.get_int(key), value.get<int64_t>());
    } else {
      EXPECT_DOUBLE_EQ(f.get_float(key), value.get<double>());
    }
  }
  expect_rewrite_identical(f, read_file(path));
}

INSTANTIATE_TEST_SUITE_P(SharedTestdata, RealModelGguf, ::testing::ValuesIn(model_files()),
                         [](const ::testing::TestParamInfo<ModelFile>& param_info) {
                           return param_info.param.model + "_" + param_info.param.kind;
                         });

TEST(RealModelGguf, EveryModelGgufIsCovered) {
  // A GGUF added to the shared data without a manifest entry would go unchecked.
  size_t on_disk = 0;
  for (const char* model : {"llama", "qwen2", "phi3"}) {
    for (const auto& e : fs::directory_iterator(kTestdata + "/models/" + model)) {
      if (e.path().extension() == ".gguf") ++on_disk;
    }
  }
  EXPECT_EQ(on_disk, model_files().size());
  EXPECT_EQ(on_disk, 12u);
}

struct VocabFile {
  std::string file;
  std::string arch;
  std::string model;
  std::string pre;
  size_t tokens;
  std::optional<int64_t> bos;
  std::optional<int64_t> eos;
};

class RealVocabGguf : public ::testing::TestWithParam<VocabFile> {};

TEST_P(RealVocabGguf, MatchesReadme) {
  const VocabFile& p = GetParam();
  const std::string path = kTestdata + "/tokenizer/" + p.file;
  const GgufFile f = GgufFile::open(path);
  expect_consistent(f);
  EXPECT_TRUE(f.tensors().empty());
  EXPECT_EQ(f.architecture(), p.arch);
  EXPECT_EQ(f.get_string("tokenizer.ggml.model"), p.model);
  EXPECT_EQ(f.get_string("tokenizer.ggml.pre"), p.pre);
  const auto tokens = f.get_string_array("tokenizer.ggml.tokens");
  EXPECT_EQ(tokens.size(), p.tokens);
  if (f.has("tokenizer.ggml.scores")) {
    EXPECT_EQ(f.get_float_array("tokenizer.ggml.scores").size(), p.tokens);
  }
  if (f.has("tokenizer.ggml.token_type")) {
    EXPECT_EQ(f.get_int_array("tokenizer.ggml.token_type").size(), p.tokens);
  }
  EXPECT_EQ(f.get_int_opt("tokenizer.ggml.bos_token_id"), p.bos);
  EXPECT_EQ(f.get_int_opt("tokenizer.ggml.eos_token_id"), p.eos);
  // The display form abbreviates the vocabulary.
  const std::string shown = f.get("tokenizer.ggml.tokens").to_display(2);
  const std::string prefix = fmt::format("[{} strings: ", p.tokens);
  EXPECT_EQ(shown.substr(0, prefix.size()), prefix);
  expect_rewrite_identical(f, read_file(path));
}

INSTANTIATE_TEST_SUITE_P(
    SharedTestdata, RealVocabGguf,
    ::testing::Values(
        VocabFile{"ggml-vocab-llama-spm.gguf", "llama", "llama", "default", 32000, 1, 2},
        VocabFile{"ggml-vocab-phi-3.gguf", "phi3", "llama", "default", 32064, 1, 32000},
        VocabFile{"ggml-vocab-gpt-2.gguf", "gpt2", "gpt2", "gpt-2", 50257, 50256, 50256},
        VocabFile{"ggml-vocab-falcon.gguf", "falcon", "gpt2", "falcon", 65024, 11, 11},
        VocabFile{"ggml-vocab-bert-bge.gguf", "bert", "bert", "bert-bge", 30522, std::nullopt,
                  std::nullopt}),
    [](const ::testing::TestParamInfo<VocabFile>& param_info) {
      std::string name = param_info.param.arch;
      for (char& c : name) {
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      }
      return name;
    });

TEST(RealModelGguf, TruncatedRealFileIsRejected) {
  const std::string path = kTestdata + "/models/llama/model-q4_0.gguf";
  const std::string bytes = read_file(path);
  const GgufFile full = GgufFile::parse(testing::as_span(bytes), path);
  // Cut inside the header, inside the tensor infos, and inside the data.
  for (size_t cut : {size_t{20}, size_t{1000}, static_cast<size_t>(full.data_offset()) - 1,
                     bytes.size() / 2, bytes.size() - 100}) {
    SCOPED_TRACE(cut);
    testing::expect_parse_error(bytes.substr(0, cut), {});
  }
}

}  // namespace
}  // namespace vigil::gguf
