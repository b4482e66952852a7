// The reference tokenizer cases of llama.cpp (../shared/testdata/tokenizer) and of the tiny test
// models (../shared/testdata/models/*/tokenizer_cases.*): every case must give exactly the
// expected ids, with no BOS/EOS and without parsing special tokens (llama.cpp's
// test-tokenizer-0 convention, see the README there). The models are checked through their GGUF
// and through their tokenizer.json.
#include <gtest/gtest.h>

#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "base/file.h"
#include "llm/format/gguf.h"
#include "llm/tokenizer/tokenizer.h"

namespace vigil {
namespace {

const std::string kShared = std::string(VIGIL_SHARED_DIR) + "/testdata";

struct Case {
  std::string text;
  std::vector<int32_t> ids;
};

// `.inp`: cases each followed by "\n__ggml_vocab_test__\n"; `.out`: one line of ids per case.
std::vector<Case> read_cases(const std::string& inp_path, const std::string& out_path) {
  const std::string inp = read_file(inp_path);
  const std::string out = read_file(out_path);
  const std::string separator = "\n__ggml_vocab_test__\n";
  std::vector<Case> cases;
  size_t pos = 0;
  while (pos < inp.size()) {
    const size_t end = inp.find(separator, pos);
    if (end == std::string::npos) break;
    cases.push_back({inp.substr(pos, end - pos), {}});
    pos = end + separator.size();
  }
  std::istringstream lines(out);
  std::string line;
  size_t i = 0;
  while (std::getline(lines, line)) {
    if (i >= cases.size()) {
      ADD_FAILURE() << out_path << ": more lines than cases";
      break;
    }
    std::istringstream words(line);
    int32_t id = 0;
    while (words >> id) cases[i].ids.push_back(id);
    ++i;
  }
  EXPECT_EQ(i, cases.size()) << out_path << ": lines vs cases";
  return cases;
}

std::string show(const std::vector<int32_t>& ids) {
  std::string s;
  for (int32_t id : ids) {
    s += ' ';
    s += std::to_string(id);
  }
  return s;
}

// Checks every case; returns how many passed.
size_t check_cases(const Tokenizer& tok, const std::vector<Case>& cases, const std::string& name) {
  size_t passed = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::vector<int32_t> got = tok.encode(cases[i].text, false, false);
    if (got == cases[i].ids) {
      ++passed;
    } else {
      ADD_FAILURE() << name << " case " << i << " '" << cases[i].text
                    << "'\n  expected:" << show(cases[i].ids) << "\n  got:     " << show(got);
    }
  }
  std::printf("[ cases    ] %-36s %zu/%zu passed\n", name.c_str(), passed, cases.size());
  return passed;
}

class VocabCases : public testing::TestWithParam<const char*> {};

TEST_P(VocabCases, MatchesLlamaCppAndHuggingFace) {
  const std::string base = kShared + "/tokenizer/ggml-vocab-" + GetParam() + ".gguf";
  const auto cases = read_cases(base + ".inp", base + ".out");
  ASSERT_EQ(cases.size(), 46u);
  const auto tok = Tokenizer::from_gguf(gguf::GgufFile::open(base));
  EXPECT_EQ(check_cases(*tok, cases, std::string("ggml-vocab-") + GetParam()), cases.size());
}

INSTANTIATE_TEST_SUITE_P(Tokenizer, VocabCases,
                         testing::Values("llama-spm", "phi-3", "gpt-2", "falcon", "bert-bge"),
                         [](const testing::TestParamInfo<const char*>& param) {
                           std::string s = param.param;
                           for (char& c : s) {
                             if (c == '-') c = '_';
                           }
                           return s;
                         });

class ModelCases : public testing::TestWithParam<const char*> {};

TEST_P(ModelCases, ThroughGguf) {
  const std::string dir = kShared + "/models/" + GetParam();
  const auto cases = read_cases(dir + "/tokenizer_cases.inp", dir + "/tokenizer_cases.out");
  ASSERT_EQ(cases.size(), 13u);
  const auto tok = Tokenizer::from_gguf(gguf::GgufFile::open(dir + "/model-q8_0.gguf"));
  EXPECT_EQ(check_cases(*tok, cases, std::string(GetParam()) + " model-q8_0.gguf"), cases.size());
}

TEST_P(ModelCases, ThroughTokenizerJson) {
  const std::string dir = kShared + "/models/" + GetParam();
  const auto cases = read_cases(dir + "/tokenizer_cases.inp", dir + "/tokenizer_cases.out");
  ASSERT_EQ(cases.size(), 13u);
  const auto tok = Tokenizer::from_hf_json(dir + "/tokenizer.json", dir + "/tokenizer_config.json");
  EXPECT_EQ(check_cases(*tok, cases, std::string(GetParam()) + " tokenizer.json"), cases.size());
}

TEST_P(ModelCases, GgufAndJsonAgreeOnSpecialTokens) {
  const std::string dir = kShared + "/models/" + GetParam();
  const auto from_gguf = Tokenizer::from_gguf(gguf::GgufFile::open(dir + "/model-q8_0.gguf"));
  const auto from_json = Tokenizer::from_path(dir);
  EXPECT_EQ(from_gguf->eos(), from_json->eos());
  EXPECT_EQ(from_gguf->add_bos(), from_json->add_bos());
  if (from_json->add_bos()) {
    EXPECT_EQ(from_gguf->bos(), from_json->bos());
  }
  const std::string text = "Return the value of the attribute.";
  EXPECT_EQ(from_gguf->encode(text, true, false), from_json->encode(text, true, false));
}

INSTANTIATE_TEST_SUITE_P(Tokenizer, ModelCases, testing::Values("llama", "qwen2", "phi3"));

}  // namespace
}  // namespace vigil
