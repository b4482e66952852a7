// `vigil tokenize` and `vigil detokenize` as a user runs them.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <string>
#include <vector>

#include "base/file.h"
#include "llm/format/gguf.h"
#include "llm/tokenizer/tokenizer.h"

namespace vigil {
namespace {

const std::string kVigil = std::string(VIGIL_BINARY_DIR) + "/vigil";
const std::string kSpm =
    std::string(VIGIL_SHARED_DIR) + "/testdata/tokenizer/ggml-vocab-llama-spm.gguf";
const std::string kQwen = std::string(VIGIL_SHARED_DIR) + "/testdata/models/qwen2";

struct Result {
  int code = -1;
  std::string out;
  std::string err;
};

Result run(const std::string& args, const std::string& stdin_bytes = "") {
  // Names unique to this process: ctest runs the tests of this file in parallel processes.
  static int calls = 0;
  const std::string dir = testing::TempDir();
  const std::string stem =
      dir + "/tok_cli_" + std::to_string(getpid()) + "_" + std::to_string(++calls);
  const std::string in_path = stem + "_in.bin";
  const std::string err_path = stem + "_err.txt";
  write_file_atomic(in_path, stdin_bytes);
  const std::string cmd = kVigil + " " + args + " < '" + in_path + "' 2> '" + err_path + "'";
  Result r;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf{};
  size_t n = 0;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.err = read_file(err_path);
  std::remove(in_path.c_str());
  std::remove(err_path.c_str());
  return r;
}

std::string joined(const std::vector<int32_t>& ids) {
  std::string s;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) s += ' ';
    s += std::to_string(ids[i]);
  }
  s += '\n';
  return s;
}

TEST(TokenizeCli, IdsFromStdinKeepTheTrailingNewline) {
  ASSERT_TRUE(file_exists(kVigil)) << kVigil;
  const auto tok = Tokenizer::from_path(kSpm);
  const std::string text = "Hello world\n\n";
  const Result r = run("tokenize -m '" + kSpm + "' --ids", text);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, joined(tok->encode(text, true, false)));
  EXPECT_EQ(r.out, "1 15043 3186 13 13\n");  // <s> ▁Hello ▁world <0x0A> <0x0A>
}

TEST(TokenizeCli, NoBosAndTextOption) {
  const Result r = run("tokenize -m '" + kSpm + "' --ids --no-bos --text 'Hello world'");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "15043 3186\n");
  // The text option wins over stdin.
  const Result s = run("tokenize -m '" + kSpm + "' --ids --no-bos --text ''", "ignored");
  ASSERT_EQ(s.code, 0) << s.err;
  EXPECT_EQ(s.out, "\n");
}

TEST(TokenizeCli, PiecesShowWhitespace) {
  const Result r = run("tokenize -m '" + kSpm + "'", "Hi \t\n");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("     1 '<s>'\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("'\\t'"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("'\\n'"), std::string::npos) << r.out;
}

TEST(TokenizeCli, ParseSpecialWithAHuggingFaceFolder) {
  const std::string text = "<|im_start|>user";
  const Result plain = run("tokenize -m '" + kQwen + "' --ids", text);
  const Result parsed = run("tokenize -m '" + kQwen + "' --ids --parse-special", text);
  ASSERT_EQ(plain.code, 0) << plain.err;
  ASSERT_EQ(parsed.code, 0) << parsed.err;
  EXPECT_EQ(parsed.out.substr(0, 5), "1001 ");
  EXPECT_EQ(plain.out.find("1001"), std::string::npos) << plain.out;
}

TEST(TokenizeCli, DetokenizePrintsTheTextExactly) {
  const Result r = run("detokenize -m '" + kSpm + "'", "1 15043 3186 13 13\n");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "<s> Hello world\n\n");
  const Result skip = run("detokenize -m '" + kSpm + "' --skip-special --ids '1 15043 3186'");
  ASSERT_EQ(skip.code, 0) << skip.err;
  EXPECT_EQ(skip.out, "Hello world");
  // Round trip of arbitrary bytes through both commands (byte-level BPE).
  const std::string text = "caf\xC3\xA9\r\n\ttabs  and \xF0\x9F\xA6\x99\n";
  const Result ids = run("tokenize -m '" + kQwen + "' --ids", text);
  ASSERT_EQ(ids.code, 0) << ids.err;
  const Result back = run("detokenize -m '" + kQwen + "'", ids.out);
  ASSERT_EQ(back.code, 0) << back.err;
  EXPECT_EQ(back.out, text);
}

TEST(TokenizeCli, BadIdsAreUsageErrorsNamingTheValue) {
  Result r = run("detokenize -m '" + kSpm + "' --ids '1 banana 2'");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("banana"), std::string::npos) << r.err;
  r = run("detokenize -m '" + kSpm + "'", "5 32000");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("32000"), std::string::npos) << r.err;
  r = run("detokenize -m '" + kSpm + "'", "-3");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("-3"), std::string::npos) << r.err;
  r = run("tokenize -m /nonexistent.gguf --text hi");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("/nonexistent.gguf"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace vigil
