// The `vigil` binary as a user runs it: exit codes (0 ok, 1 runtime error, 2 usage error),
// one-line errors naming the file/value, and the LLM commands end to end.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "base/file.h"

namespace vigil {
namespace {

const std::string kVigil = std::string(VIGIL_BINARY_DIR) + "/vigil";
const std::string kModels = std::string(VIGIL_SHARED_DIR) + "/testdata/models/";

struct CmdResult {
  int code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

CmdResult run(const std::string& args, const std::string& stdin_text = "") {
  const std::string dir = ::testing::TempDir();
  // Unique per process and call: ctest runs several of these tests at once.
  static int counter = 0;
  const std::string tag = std::to_string(::getpid()) + "_" + std::to_string(counter++);
  const std::string in_path = dir + "/cli_in_" + tag + ".txt";
  const std::string err_path = dir + "/cli_err_" + tag + ".txt";
  write_file_atomic(in_path, stdin_text);
  const std::string cmd = kVigil + " " + args + " < '" + in_path + "' 2> '" + err_path + "'";
  CmdResult r;
  FILE* p = popen(cmd.c_str(), "r");
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.err = read_file(err_path);
  return r;
}

// `vigil synth -o out SHAPE` with the shared llama vocabulary: a random-weight model for timing.
CmdResult synth(const std::string& out, const std::string& shape) {
  return run("synth -o " + out + " " + shape + " --vocab-from " + std::string(VIGIL_SHARED_DIR) +
             "/testdata/tokenizer/ggml-vocab-llama-spm.gguf");
}

TEST(Cli, HelpOnEverySubcommand) {
  EXPECT_EQ(run("--help").code, 0);
  for (const char* sub :
       {"generate", "chat", "eval", "bench", "synth", "run", "inspect", "tokenize", "detokenize"}) {
    const CmdResult r = run(std::string(sub) + " --help");
    EXPECT_EQ(r.code, 0) << sub;
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << sub;
  }
}

TEST(Cli, UsageErrorsExitTwo) {
  EXPECT_EQ(run("").code, 2);                // no subcommand
  EXPECT_EQ(run("frobnicate").code, 2);      // unknown subcommand
  EXPECT_EQ(run("generate -p hi").code, 2);  // missing --model
  const CmdResult r = run("generate -m x.gguf -p hi --temp banana");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("banana"), std::string::npos) << r.err;
}

TEST(Cli, RuntimeErrorsExitOneWithOneLineNamingTheFile) {
  const CmdResult r = run("generate -m /nonexistent/model.gguf -p hi");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("/nonexistent/model.gguf"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  const std::string bad = ::testing::TempDir() + "/not_a_model.gguf";
  write_file_atomic(bad, "definitely not gguf");
  const CmdResult r2 = run("generate -m " + bad + " -p hi");
  EXPECT_EQ(r2.code, 1);
  EXPECT_NE(r2.err.find("not a GGUF file"), std::string::npos) << r2.err;
}

TEST(Cli, GenerateIsDeterministicWithGreedyAndSeed) {
  const std::string base =
      "generate -m " + kModels + "qwen2/model-q8_0.gguf -p 'Hello there' -n 8 -t 2";
  const CmdResult a = run(base + " --temp 0");
  const CmdResult b = run(base + " --temp 0");
  EXPECT_EQ(a.code, 0) << a.err;
  EXPECT_FALSE(a.out.empty());
  EXPECT_EQ(a.out, b.out);
  const CmdResult c = run(base + " --temp 0.9 --seed 5");
  const CmdResult d = run(base + " --temp 0.9 --seed 5");
  EXPECT_EQ(c.out, d.out);
}

TEST(Cli, EvalDumpsLogitsMatchingTheReference) {
  const std::string out = ::testing::TempDir() + "/logits.f32";
  // The first 8 reference ids of the qwen2 model; --exact reproduces HF within 5e-4.
  const CmdResult r = run("eval -m " + kModels +
                          "qwen2/model-f32.gguf --exact --tokens '470 872 321 74 276 302 86 77' "
                          "--dump-logits " +
                          out);
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string got = read_file(out);
  ASSERT_EQ(got.size(), 8u * 1024 * 4);
  const std::string ref = read_file(kModels + "qwen2/logits_hf.f32");
  double max_abs = 0;
  for (size_t i = 0; i < 8 * 1024; ++i) {
    float a, b;
    std::memcpy(&a, got.data() + 4 * i, 4);
    std::memcpy(&b, ref.data() + 4 * i, 4);
    max_abs = std::max(max_abs, static_cast<double>(std::abs(a - b)));
  }
  EXPECT_LT(max_abs, 5e-4);
  EXPECT_EQ(
      run("eval -m " + kModels + "qwen2/model-f32.gguf --tokens '1 x 3' --dump-logits " + out).code,
      2);
  EXPECT_EQ(
      run("eval -m " + kModels + "qwen2/model-f32.gguf --tokens '99999' --dump-logits " + out).code,
      1);
}

TEST(Cli, SynthThenBenchJson) {
  const std::string model = ::testing::TempDir() + "/synth.gguf";
  const CmdResult s =
      synth(model, "--layers 2 --hidden 256 --ffn 512 --heads 4 --kv-heads 2 --type q4_0");
  ASSERT_EQ(s.code, 0) << s.err;
  const CmdResult b = run("bench -m " + model + " -p 16 -n 4 -r 2 -t 2 --json");
  ASSERT_EQ(b.code, 0) << b.err;
  EXPECT_NE(b.out.find("\"test\": \"pp16\""), std::string::npos) << b.out;
  EXPECT_NE(b.out.find("\"test\": \"tg4\""), std::string::npos) << b.out;
  EXPECT_NE(b.out.find("\"avg_ts\""), std::string::npos);
  EXPECT_NE(b.out.find("\"stddev_ts\""), std::string::npos);
  // The decode test is stated against the higher of two memory-bandwidth measurements.
  const nlohmann::json j = nlohmann::json::parse(b.out);
  ASSERT_EQ(j.size(), 2u) << b.out;
  const nlohmann::json& tg = j[1];
  const double before = tg.at("membw_bytes_per_s_before"), after = tg.at("membw_bytes_per_s_after");
  EXPECT_GT(before, 0.0);
  EXPECT_GT(after, 0.0);
  EXPECT_DOUBLE_EQ(tg.at("membw_bytes_per_s").get<double>(), std::max(before, after));
  EXPECT_NEAR(tg.at("fraction_of_membw").get<double>(),
              tg.at("avg_ts").get<double>() * tg.at("weight_bytes_per_token").get<double>() /
                  std::max(before, after),
              1e-9);
  const CmdResult bad =
      run("synth -o " + model +
          " --layers 2 --hidden 250 --ffn 512 --heads 4 --type q4_0 --vocab-from x");
  EXPECT_NE(bad.code, 0);
}

TEST(Cli, StreamedBenchReportsTheStorageBound) {
  // 8 layers of ~2.8 MB and a 17 MB output head; a 24 MiB budget keeps a few layers and streams the
  // rest, so the bound and its bandwidth (measured by the streamer) must be there and positive.
  const std::string model =
      ::testing::TempDir() + "/synth_stream_" + std::to_string(::getpid()) + ".gguf";
  const CmdResult s = synth(model, "--layers 8 --hidden 512 --ffn 1024 --heads 8 --type q8_0");
  ASSERT_EQ(s.code, 0) << s.err;
  const CmdResult b = run("bench -m " + model + " -p 8 -n 2 -r 1 -t 2 --mem-budget 24M --json");
  ASSERT_EQ(b.code, 0) << b.err;
  const nlohmann::json j = nlohmann::json::parse(b.out);
  ASSERT_EQ(j.size(), 2u) << b.out;
  for (const auto& t : j) {
    EXPECT_GT(t.at("streamed_bytes").get<double>(), 0) << t.dump();
    EXPECT_GT(t.at("disk_bytes_per_s").get<double>(), 0) << t.dump();
  }
  EXPECT_GT(j[1].at("bound_s_per_token").get<double>(), 0);
  EXPECT_GT(j[1].at("ratio_to_bound").get<double>(), 0);
  // Serve takes the same budget, and one below the minimum is refused with the minimum stated.
  const CmdResult low = run("serve -m " + model + " --port 0 --mem-budget 64K");
  EXPECT_EQ(low.code, 1) << low.err;
  EXPECT_NE(low.err.find("minimum"), std::string::npos) << low.err;
  std::filesystem::remove(model);
}

}  // namespace
}  // namespace vigil
