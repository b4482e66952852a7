// `vigil quantize` end to end: the shipped llama.cpp files are reproduced exactly (tensor order,
// types and bytes) from the unquantized GGUF of every shared test model; a HF folder converts to
// a GGUF that loads, tokenizes like tokenizer.json and gives the folder's logits; the per-tensor
// rules, fallbacks, imatrix files and bad input.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/file.h"
#include "llm/compress/imatrix_file.h"
#include "llm/compress/quantize.h"
#include "llm/format/gguf.h"
#include "llm/model/model.h"
#include "llm/quant/reference.h"
#include "llm/runtime/context.h"
#include "llm/tokenizer/tokenizer.h"

namespace vigil::compress {
namespace {

namespace fs = std::filesystem;

std::string models_dir() {
  return std::string(VIGIL_SHARED_DIR) + "/testdata/models";
}
const std::vector<std::string>& model_names() {
  static const std::vector<std::string> kNames = {"llama", "qwen2", "phi3"};
  return kNames;
}

std::string unquantized_gguf(const std::string& model) {
  const std::string dir = models_dir() + "/" + model;
  for (const char* name : {"model-f32.gguf", "model-f16.gguf"}) {
    if (fs::exists(dir + "/" + name)) return dir + "/" + name;
  }
  return {};
}

// A unique temp path removed at scope exit.
class TempPath {
 public:
  explicit TempPath(const std::string& suffix) {
    static int counter = 0;
    path_ = (fs::temp_directory_path() / ("vigil_quant_" + std::to_string(::getpid()) + "_" +
                                          std::to_string(counter++) + suffix))
                .string();
  }
  ~TempPath() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& str() const { return path_; }

 private:
  std::string path_;
};

QuantizeOptions quiet(const std::string& type) {
  QuantizeOptions o;
  o.type = type;
  o.progress = false;
  o.n_threads = 2;
  return o;
}

// Tensors of `ours` equal those of `ref`: same names, types, shapes and bytes, and (unless
// `any_order`) the same order.
void expect_same_tensors(const gguf::GgufFile& ours, const gguf::GgufFile& ref, bool any_order,
                         const std::string& what) {
  ASSERT_EQ(ours.tensors().size(), ref.tensors().size()) << what;
  for (size_t i = 0; i < ref.tensors().size(); ++i) {
    const gguf::TensorInfo& r = ref.tensors()[i];
    const gguf::TensorInfo& o = any_order ? ours.tensor(r.name) : ours.tensors()[i];
    ASSERT_EQ(o.name, r.name) << what << " tensor #" << i;
    EXPECT_EQ(o.type, r.type) << what << " " << r.name;
    EXPECT_EQ(o.shape, r.shape) << what << " " << r.name;
    ASSERT_EQ(o.size_bytes, r.size_bytes) << what << " " << r.name;
    EXPECT_EQ(std::memcmp(o.data, r.data, r.size_bytes), 0) << what << " " << r.name << " bytes";
  }
}

TEST(QuantizeModel, ReproducesLlamaCppFilesExactly) {
  for (const std::string& m : model_names()) {
    const std::string src = unquantized_gguf(m);
    ASSERT_FALSE(src.empty()) << m;
    for (const char* type : {"q8_0", "q4_0", "q4_k_m"}) {
      TempPath out(".gguf");
      const QuantizeResult r = quantize_model(src, out.str(), quiet(type));
      EXPECT_EQ(r.n_fallback, 0);
      const auto ours = gguf::GgufFile::open(out.str());
      const auto ref = gguf::GgufFile::open(models_dir() + "/" + m + "/model-" + type + ".gguf");
      // model-q8_0.gguf comes from convert_hf_to_gguf (its own tensor order); the q4 files from
      // llama-quantize, whose order we reproduce.
      expect_same_tensors(ours, ref, std::string(type) == "q8_0", m + " " + type);
      EXPECT_EQ(ours.get_int("general.file_type"), ref.get_int("general.file_type")) << m << type;
      EXPECT_EQ(ours.get_int("general.quantization_version"), 2);
      EXPECT_EQ(ours.alignment(), 32u);
      // Every metadata key of the input is kept.
      const auto in = gguf::GgufFile::open(src);
      for (const auto& [key, value] : in.metadata()) EXPECT_TRUE(ours.has(key)) << key;
    }
  }
}

std::vector<float> logits_of(const std::string& path, const std::vector<int32_t>& ids) {
  auto model = Model::load(path);
  ContextParams p;
  p.exact = true;
  p.n_threads = 2;
  p.n_ctx = 64;
  Context ctx(*model, p);
  const auto span = ctx.eval(ids, true);
  return {span.begin(), span.end()};
}

std::vector<int32_t> input_ids(const std::string& model) {
  // manifest.json -> input.input_ids, without a JSON dependency in this test: the ids follow
  // "input_ids": [ ... ].
  const std::string text = read_file(models_dir() + "/" + model + "/manifest.json");
  const size_t at = text.find("\"input_ids\"");
  const size_t open = text.find('[', at);
  const size_t close = text.find(']', open);
  std::vector<int32_t> ids;
  size_t pos = open + 1;
  while (pos < close) {
    size_t used = 0;
    ids.push_back(std::stoi(text.substr(pos, close - pos), &used));
    pos += used;
    while (pos < close && (text[pos] == ',' || text[pos] == ' ' || text[pos] == '\n')) ++pos;
  }
  return ids;
}

std::vector<std::string> tokenizer_cases(const std::string& model) {
  const std::string text = read_file(models_dir() + "/" + model + "/tokenizer_cases.inp");
  std::vector<std::string> cases;
  const std::string sep = "\n__ggml_vocab_test__\n";
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t end = text.find(sep, pos);
    cases.push_back(text.substr(pos, end == std::string::npos ? std::string::npos : end - pos));
    if (end == std::string::npos) break;
    pos = end + sep.size();
  }
  return cases;
}

TEST(QuantizeModel, HfFolderToF32LoadsTokenizesAndMatchesLogits) {
  for (const std::string& m : model_names()) {
    const std::string dir = models_dir() + "/" + m;
    TempPath out(".gguf");
    quantize_model(dir, out.str(), quiet("f32"));
    const auto f = gguf::GgufFile::open(out.str());
    EXPECT_EQ(f.get_int("general.file_type"), 0);
    for (const auto& t : f.tensors()) EXPECT_EQ(t.type, GgmlType::F32) << t.name;

    // Same logits as the HF folder (exact f32 path), and as the HF reference.
    const std::vector<int32_t> ids = input_ids(m);
    ASSERT_EQ(ids.size(), 48u);
    const auto ours = logits_of(out.str(), ids);
    const auto hf = logits_of(dir, ids);
    ASSERT_EQ(ours.size(), hf.size());
    double max_diff = 0;
    for (size_t i = 0; i < ours.size(); ++i) {
      max_diff = std::max(max_diff, std::fabs(static_cast<double>(ours[i]) - hf[i]));
    }
    EXPECT_LT(max_diff, 1e-4) << m;

    // The GGUF tokenizer gives tokenizer.json's ids.
    const auto from_gguf = Tokenizer::from_path(out.str());
    const auto from_json = Tokenizer::from_path(dir);
    EXPECT_EQ(from_gguf->n_vocab(), static_cast<int32_t>(f.tensor("token_embd.weight").shape[1]));
    // tokenizer.json may name no BOS (qwen2) where the GGUF, like convert_hf_to_gguf's, takes
    // config.json's bos_token_id; it is not added either way.
    if (from_json->bos() >= 0) {
      EXPECT_EQ(from_gguf->bos(), from_json->bos()) << m;
    }
    EXPECT_EQ(from_gguf->eos(), from_json->eos()) << m;
    EXPECT_EQ(from_gguf->add_bos(), from_json->add_bos()) << m;
    for (const std::string& text : tokenizer_cases(m)) {
      for (bool special : {false, true}) {
        EXPECT_EQ(from_gguf->encode(text, special, special),
                  from_json->encode(text, special, special))
            << m << " '" << text << "' special=" << special;
      }
    }
  }
}

TEST(QuantizeModel, HfFolderToQ8_0MatchesConverterBytes) {
  // convert_hf_to_gguf --outtype q8_0 wrote model-q8_0.gguf from the same folder: names, the
  // llama Q/K row permutation and the Q8_0 bytes must all agree.
  for (const std::string& m : model_names()) {
    TempPath out(".gguf");
    quantize_model(models_dir() + "/" + m, out.str(), quiet("q8_0"));
    const auto ours = gguf::GgufFile::open(out.str());
    const auto ref = gguf::GgufFile::open(models_dir() + "/" + m + "/model-q8_0.gguf");
    expect_same_tensors(ours, ref, true, m + " hf q8_0");
    for (const char* key : {"general.architecture", "tokenizer.ggml.model", "tokenizer.ggml.pre",
                            "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id"}) {
      EXPECT_EQ(ours.get(key).to_display(), ref.get(key).to_display()) << m << " " << key;
    }
    EXPECT_EQ(ours.get_string_array("tokenizer.ggml.tokens"),
              ref.get_string_array("tokenizer.ggml.tokens"))
        << m;
  }
}

TEST(QuantizeModel, HfLlama3RopeScalingBecomesRopeFreqs) {
  // The llama folder with Llama-3 RoPE scaling: the GGUF carries rope_freqs.weight and must give
  // the folder's logits (the low frequencies are divided by 8 at these positions).
  const std::string src = models_dir() + "/llama";
  TempPath dir("_llama3");
  fs::create_directories(dir.str());
  for (const char* f : {"model.safetensors", "tokenizer.json", "tokenizer_config.json"}) {
    fs::create_symlink(src + "/" + f, dir.str() + "/" + f);
  }
  std::string config = read_file(src + "/config.json");
  const std::string from = R"("rope_type": "default")";
  const size_t at = config.find(from);
  ASSERT_NE(at, std::string::npos);
  config.replace(at, from.size(),
                 R"("rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, )"
                 R"("high_freq_factor": 4.0, "original_max_position_embeddings": 64)");
  write_file_atomic(dir.str() + "/config.json", config);
  TempPath out(".gguf");
  quantize_model(dir.str(), out.str(), quiet("f32"));
  const auto f = gguf::GgufFile::open(out.str());
  ASSERT_NE(f.find_tensor("rope_freqs.weight"), nullptr);
  EXPECT_EQ(f.tensor("rope_freqs.weight").shape, (std::vector<uint64_t>{32}));
  const std::vector<int32_t> ids = input_ids("llama");
  const auto ours = logits_of(out.str(), ids);
  const auto hf = logits_of(dir.str(), ids);
  const auto plain = logits_of(src, ids);
  double max_diff = 0, scaling_effect = 0;
  for (size_t i = 0; i < ours.size(); ++i) {
    max_diff = std::max(max_diff, std::fabs(static_cast<double>(ours[i]) - hf[i]));
    scaling_effect = std::max(scaling_effect, std::fabs(static_cast<double>(plain[i]) - hf[i]));
  }
  EXPECT_LT(max_diff, 1e-4);
  EXPECT_GT(scaling_effect, 1e-3);  // the scaling did change the model
}

TEST(QuantizeModel, RequantizeFromQuantizedInput) {
  // q8_0 -> q4_0: dequantize, then quantize. Same type -> bytes copied.
  const std::string q8 = models_dir() + "/qwen2/model-q8_0.gguf";
  TempPath a(".gguf"), b(".gguf");
  quantize_model(q8, a.str(), quiet("q4_0"));
  const auto fa = gguf::GgufFile::open(a.str());
  EXPECT_EQ(fa.tensor("blk.0.ffn_up.weight").type, GgmlType::Q4_0);
  quantize_model(q8, b.str(), quiet("q8_0"));
  const auto fb = gguf::GgufFile::open(b.str());
  expect_same_tensors(fb, gguf::GgufFile::open(q8), true, "q8_0 copy");
}

// ---- per-tensor rules ----

std::vector<TensorChoice> layer_tensors(int n_layers, uint64_t n_embd, bool fused_qkv) {
  std::vector<TensorChoice> t;
  auto add = [&](std::string name, std::vector<uint64_t> shape) {
    TensorChoice c;
    c.name = std::move(name);
    c.shape = std::move(shape);
    c.src_type = GgmlType::F16;
    t.push_back(std::move(c));
  };
  add("token_embd.weight", {n_embd, 1000});
  add("output.weight", {n_embd, 1000});
  add("output_norm.weight", {n_embd});
  for (int i = 0; i < n_layers; ++i) {
    const std::string b = "blk." + std::to_string(i) + ".";
    add(b + "attn_norm.weight", {n_embd});
    if (fused_qkv) {
      add(b + "attn_qkv.weight", {n_embd, 3 * n_embd});
    } else {
      add(b + "attn_q.weight", {n_embd, n_embd});
      add(b + "attn_v.weight", {n_embd, n_embd / 4});
    }
    add(b + "ffn_down.weight", {4 * n_embd, n_embd});
    add(b + "ffn_up.weight", {n_embd, 4 * n_embd});
  }
  sort_like_llama_cpp(t);
  return t;
}

GgmlType type_of(const std::vector<TensorChoice>& t, const std::string& name) {
  for (const auto& c : t) {
    if (c.name == name) return c.dst_type;
  }
  ADD_FAILURE() << name;
  return GgmlType::F32;
}

TEST(QuantizeRules, Q4_K_MUsesMoreBitsOnLlamaCppsLayers) {
  auto t = layer_tensors(32, 4096, false);
  choose_tensor_types(parse_quant_type("q4_k_m"), {"llama", 32, 32, 8}, false, false, t);
  // use_more_bits(i, 32): i < 4, i >= 28, (i - 4) % 3 == 2.
  for (int i = 0; i < 32; ++i) {
    const bool more = i < 4 || i >= 28 || (i - 4) % 3 == 2;
    const std::string b = "blk." + std::to_string(i) + ".";
    EXPECT_EQ(type_of(t, b + "attn_v.weight"), more ? GgmlType::Q6_K : GgmlType::Q4_K) << i;
    EXPECT_EQ(type_of(t, b + "ffn_down.weight"), more ? GgmlType::Q6_K : GgmlType::Q4_K) << i;
    EXPECT_EQ(type_of(t, b + "attn_q.weight"), GgmlType::Q4_K);
    EXPECT_EQ(type_of(t, b + "attn_norm.weight"), GgmlType::F16);  // kept as stored
  }
  EXPECT_EQ(type_of(t, "output.weight"), GgmlType::Q6_K);
  EXPECT_EQ(type_of(t, "token_embd.weight"), GgmlType::Q4_K);
}

TEST(QuantizeRules, OtherMixes) {
  auto t = layer_tensors(16, 512, false);
  choose_tensor_types(parse_quant_type("q4_k_s"), {"llama", 16, 8, 8}, false, false, t);
  EXPECT_EQ(type_of(t, "blk.0.attn_v.weight"), GgmlType::Q5_K);
  EXPECT_EQ(type_of(t, "blk.3.attn_v.weight"), GgmlType::Q5_K);
  EXPECT_EQ(type_of(t, "blk.4.attn_v.weight"), GgmlType::Q4_K);
  EXPECT_EQ(type_of(t, "blk.1.ffn_down.weight"), GgmlType::Q5_K);  // first eighth: 0, 1
  EXPECT_EQ(type_of(t, "blk.2.ffn_down.weight"), GgmlType::Q4_K);

  t = layer_tensors(16, 512, true);
  choose_tensor_types(parse_quant_type("q5_k_m"), {"phi3", 16, 8, 8}, false, false, t);
  EXPECT_EQ(type_of(t, "blk.5.attn_qkv.weight"), GgmlType::Q6_K);
  EXPECT_EQ(type_of(t, "blk.5.ffn_up.weight"), GgmlType::Q5_K);

  // Tied embeddings: token_embd is the output matrix.
  t = layer_tensors(4, 512, false);
  t.erase(t.begin());  // output.weight sorts first
  ASSERT_EQ(t.front().name, "output_norm.weight");
  choose_tensor_types(parse_quant_type("q4_0"), {"qwen2", 4, 8, 8}, false, false, t);
  EXPECT_EQ(type_of(t, "token_embd.weight"), GgmlType::Q6_K);
  choose_tensor_types(parse_quant_type("q8_0"), {"qwen2", 4, 8, 8}, false, false, t);
  EXPECT_EQ(type_of(t, "token_embd.weight"), GgmlType::Q8_0);
  // With an imatrix, Q4_0 guards the first eighth of ffn_down with Q4_1 (none of 4 layers here).
  t = layer_tensors(16, 512, false);
  choose_tensor_types(parse_quant_type("q4_0"), {"llama", 16, 8, 8}, true, false, t);
  EXPECT_EQ(type_of(t, "blk.0.ffn_down.weight"), GgmlType::Q4_1);
  EXPECT_EQ(type_of(t, "blk.2.ffn_down.weight"), GgmlType::Q4_0);
  // Pure q4_k: no per-tensor rules.
  t = layer_tensors(8, 512, false);
  choose_tensor_types(parse_quant_type("q4_k"), {"llama", 8, 8, 8}, false, false, t);
  EXPECT_EQ(type_of(t, "output.weight"), GgmlType::Q4_K);
  EXPECT_EQ(type_of(t, "blk.0.attn_v.weight"), GgmlType::Q4_K);
}

TEST(QuantizeRules, ShapeFallbacks) {
  std::vector<TensorChoice> t(4);
  t[0].name = "blk.0.ffn_down.weight";
  t[0].shape = {96, 8};  // multiple of 32, not 256
  t[1].name = "blk.0.ffn_up.weight";
  t[1].shape = {40, 8};  // multiple of neither
  t[2].name = "blk.0.attn_v.weight";
  t[2].shape = {96, 8};
  t[3].name = "output.weight";
  t[3].shape = {96, 8};
  for (auto& c : t) c.src_type = GgmlType::F32;
  choose_tensor_types(parse_quant_type("q4_k_m"), {"llama", 1, 1, 1}, false, false, t);
  EXPECT_EQ(t[0].dst_type, GgmlType::Q8_0);  // Q6_K (use_more_bits) -> Q8_0
  EXPECT_EQ(t[1].dst_type, GgmlType::F16);
  EXPECT_EQ(t[2].dst_type, GgmlType::Q8_0);
  EXPECT_EQ(t[3].dst_type, GgmlType::Q8_0);  // output: row not a multiple of Q4_K's block
  EXPECT_FALSE(t[0].note.empty());
  EXPECT_FALSE(t[1].note.empty());
  choose_tensor_types(parse_quant_type("q4_k"), {"llama", 1, 1, 1}, false, false, t);
  EXPECT_EQ(t[0].dst_type, GgmlType::Q5_0);
  choose_tensor_types(parse_quant_type("q5_k"), {"llama", 1, 1, 1}, false, false, t);
  EXPECT_EQ(t[0].dst_type, GgmlType::Q5_1);
  choose_tensor_types(parse_quant_type("q4_0"), {"llama", 1, 1, 1}, false, false, t);
  EXPECT_EQ(t[1].dst_type, GgmlType::F16);
}

// A small llama GGUF with odd shapes, written with our writer.
void write_small_gguf(const std::string& path, GgmlType weight_type, uint64_t row) {
  gguf::GgufWriter w;
  w.set("general.architecture", gguf::Value::of_string("llama"));
  w.set("llama.block_count", gguf::Value::of_u32(1));
  w.set("llama.attention.head_count", gguf::Value::of_u32(1));
  w.add_tensor("blk.0.ffn_up.weight", weight_type, {row, 4});
  w.add_tensor("blk.0.ffn_norm.weight", GgmlType::F32, {row});
  std::mt19937 rng(1);
  std::normal_distribution<float> dist(0, 1);
  w.write(path, [&](size_t i, std::string& out) {
    const uint64_t bytes = w.tensors()[i].size_bytes;
    if (w.tensors()[i].type == GgmlType::F32) {
      for (uint64_t k = 0; k < bytes / 4; ++k) {
        const float v = dist(rng);
        out.append(reinterpret_cast<const char*>(&v), 4);
      }
    } else {
      out.append(bytes, '\0');
    }
  });
}

TEST(QuantizeModel, FallbackIsReportedAndWritten) {
  TempPath in(".gguf"), out(".gguf");
  write_small_gguf(in.str(), GgmlType::F32, 96);
  const QuantizeResult r = quantize_model(in.str(), out.str(), quiet("q4_k_m"));
  EXPECT_EQ(r.n_fallback, 1);
  const auto f = gguf::GgufFile::open(out.str());
  EXPECT_EQ(f.tensor("blk.0.ffn_up.weight").type, GgmlType::Q5_0);
  EXPECT_EQ(f.tensor("blk.0.ffn_norm.weight").type, GgmlType::F32);
}

TEST(QuantizeModel, BadInput) {
  TempPath out(".gguf");
  EXPECT_THROW(quantize_model("/nonexistent/model.gguf", out.str(), quiet("q4_0")), Error);
  EXPECT_THROW(quantize_model(unquantized_gguf("qwen2"), out.str(), quiet("q3_xyz")), UsageError);
  // A tensor type we cannot dequantize: error naming it, and no output left behind.
  TempPath in(".gguf");
  write_small_gguf(in.str(), GgmlType::Q2_K, 256);
  try {
    quantize_model(in.str(), out.str(), quiet("q4_0"));
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("q2_K"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(out.str()));
  for (const auto& entry : fs::directory_iterator(fs::path(out.str()).parent_path())) {
    EXPECT_EQ(entry.path().string().find(out.str() + ".tmp"), std::string::npos);
  }
  // Not a model.
  TempPath text(".txt");
  write_file_atomic(text.str(), "hello");
  EXPECT_THROW(quantize_model(text.str(), out.str(), quiet("q4_0")), Error);
}

// ---- imatrix ----

TEST(ImatrixFile, RoundTripAndErrors) {
  ImportanceMatrix m;
  m.entries["blk.0.ffn_up.weight"] = {10, {1.0f, 2.0f, 3.0f}};
  m.entries["output.weight"] = {4, {0.5f}};
  m.last_call = 7;
  m.dataset = "calib.txt";
  TempPath p(".dat");
  save_imatrix(m, p.str());
  const ImportanceMatrix r = load_imatrix(p.str());
  ASSERT_EQ(r.entries.size(), 2u);
  EXPECT_EQ(r.entries.at("blk.0.ffn_up.weight").ncall, 10);
  EXPECT_EQ(r.entries.at("blk.0.ffn_up.weight").values, (std::vector<float>{1, 2, 3}));
  EXPECT_EQ(r.last_call, 7);
  EXPECT_EQ(r.dataset, "calib.txt");

  // Without the trailer (older llama.cpp files) and truncated / lying files.
  std::string bytes = read_file(p.str());
  TempPath q(".dat");
  const size_t trailer = 8 + m.dataset.size();
  write_file_atomic(q.str(), bytes.substr(0, bytes.size() - trailer));
  EXPECT_EQ(load_imatrix(q.str()).entries.size(), 2u);
  for (size_t cut : {size_t{2}, size_t{10}, bytes.size() - trailer - 3}) {
    write_file_atomic(q.str(), bytes.substr(0, cut));
    EXPECT_THROW(load_imatrix(q.str()), Error) << cut;
  }
  std::string huge = bytes;
  const int32_t big = 1 << 30;
  std::memcpy(huge.data(), &big, 4);  // n_entries far beyond the file
  write_file_atomic(q.str(), huge);
  EXPECT_THROW(load_imatrix(q.str()), Error);
  EXPECT_THROW(load_imatrix("/nonexistent/imatrix.dat"), Error);
}

TEST(QuantizeModel, ImatrixChangesRoundingAndIsChecked) {
  const std::string src = unquantized_gguf("qwen2");
  const auto f = gguf::GgufFile::open(src);
  ImportanceMatrix m;
  std::mt19937 rng(3);
  std::exponential_distribution<float> dist(1.0f);
  for (const auto& t : f.tensors()) {
    if (t.shape.size() < 2 || t.name == "token_embd.weight") continue;
    auto& e = m.entries[t.name];
    e.ncall = 16;
    for (uint64_t c = 0; c < t.shape[0]; ++c) e.values.push_back(16 * dist(rng) * dist(rng));
  }
  TempPath mat(".dat"), plain(".gguf"), weighted(".gguf");
  save_imatrix(m, mat.str());
  quantize_model(src, plain.str(), quiet("q4_k_m"));
  QuantizeOptions o = quiet("q4_k_m");
  o.imatrix_path = mat.str();
  const QuantizeResult r = quantize_model(src, weighted.str(), o);
  EXPECT_EQ(r.n_imatrix_used, static_cast<int>(m.entries.size()));
  const auto a = gguf::GgufFile::open(plain.str());
  const auto b = gguf::GgufFile::open(weighted.str());
  const auto& ta = a.tensor("blk.0.ffn_up.weight");
  const auto& tb = b.tensor("blk.0.ffn_up.weight");
  ASSERT_EQ(ta.size_bytes, tb.size_bytes);
  EXPECT_NE(std::memcmp(ta.data, tb.data, ta.size_bytes), 0);

  // Weighted error (by the importance) is lower with the imatrix.
  const auto& src_t = f.tensor("blk.0.ffn_up.weight");
  const auto& w = m.entries.at("blk.0.ffn_up.weight").values;
  std::vector<float> x(src_t.n_values()), ya(x.size()), yb(x.size());
  quant::dequantize_row_ref(src_t.type, src_t.data, x.data(), static_cast<int64_t>(x.size()));
  quant::dequantize_row_ref(ta.type, ta.data, ya.data(), static_cast<int64_t>(x.size()));
  quant::dequantize_row_ref(tb.type, tb.data, yb.data(), static_cast<int64_t>(x.size()));
  double ea = 0, eb = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double wi = w[i % w.size()];
    ea += wi * (x[i] - ya[i]) * (x[i] - ya[i]);
    eb += wi * (x[i] - yb[i]) * (x[i] - yb[i]);
  }
  EXPECT_LT(eb, ea);

  // An entry whose size does not match its tensor is an error.
  m.entries["blk.0.ffn_up.weight"].values.resize(7);
  save_imatrix(m, mat.str());
  TempPath bad(".gguf");
  EXPECT_THROW(quantize_model(src, bad.str(), o), Error);
  EXPECT_FALSE(fs::exists(bad.str()));
}

}  // namespace
}  // namespace vigil::compress
