#include "llm/compress/quantize.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <numbers>
#include <optional>

#include "base/error.h"
#include "base/thread_pool.h"
#include "llm/compress/hf_to_gguf.h"
#include "llm/compress/imatrix_file.h"
#include "llm/format/gguf.h"
#include "llm/format/hf_config.h"
#include "llm/format/safetensors.h"
#include "llm/model/model.h"
#include "llm/quant/kquants.h"
#include "llm/quant/reference.h"

namespace vigil::compress {
namespace {

namespace fs = std::filesystem;

// llama.cpp's LLAMA_FTYPE_* numbers (include/llama.h).
constexpr uint32_t kFtypeAllF32 = 0;
constexpr uint32_t kFtypeF16 = 1;
constexpr uint32_t kFtypeQ4_0 = 2;
constexpr uint32_t kFtypeQ4_1 = 3;
constexpr uint32_t kFtypeQ8_0 = 7;
constexpr uint32_t kFtypeQ5_0 = 8;
constexpr uint32_t kFtypeQ5_1 = 9;
constexpr uint32_t kFtypeQ4_K_S = 14;
constexpr uint32_t kFtypeQ4_K_M = 15;
constexpr uint32_t kFtypeQ5_K_S = 16;
constexpr uint32_t kFtypeQ5_K_M = 17;
constexpr uint32_t kFtypeQ6_K = 18;
constexpr uint32_t kFtypeBF16 = 32;

constexpr uint32_t kQuantizationVersion = 2;  // GGML_QNT_VERSION

bool is_quantized(GgmlType t) {
  return t != GgmlType::F32 && t != GgmlType::F16 && t != GgmlType::BF16;
}

bool contains(const std::string& s, const char* part) {
  return s.find(part) != std::string::npos;
}

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

int n_dims(const std::vector<uint64_t>& shape) {
  int n = static_cast<int>(shape.size());
  while (n > 1 && shape[static_cast<size_t>(n - 1)] == 1) --n;
  return n;
}

// Layer index of "blk.N.…", -1 for other names (llama.cpp's weight_name_comparer).
int layer_of(const std::string& name) {
  if (name.compare(0, 4, "blk.") != 0) return -1;
  int layer = 0;
  size_t i = 4;
  if (i >= name.size() || name[i] < '0' || name[i] > '9') return -1;
  while (i < name.size() && name[i] >= '0' && name[i] <= '9' && layer < 1000000) {
    layer = layer * 10 + (name[i] - '0');
    ++i;
  }
  return i < name.size() && name[i] == '.' ? layer : -1;
}

// Which tensors llama-quantize converts at all (tensor_allows_quantization).
bool allows_quantization(const TensorChoice& t) {
  const std::string& n = t.name;
  if (n_dims(t.shape) < 2 || !ends_with(n, "weight")) return false;
  for (const char* skip : {"_norm.weight", "ffn_gate_inp.weight", "altup", "laurel",
                           "per_layer_model_proj", "ssm_conv1d.weight", "shortconv.conv.weight",
                           "time_mix_", "attn_rel_b.weight", ".position_embd."}) {
    if (contains(n, skip)) return false;
  }
  return n != "position_embd.weight" && n != "token_types.weight";
}

bool use_more_bits(int i_layer, int n_layers) {
  return i_layer < n_layers / 8 || i_layer >= 7 * n_layers / 8 || (i_layer - n_layers / 8) % 3 == 2;
}

struct MixState {
  int n_attention_wv = 0;
  int i_attention_wv = 0;
  int i_ffn_down = 0;
  bool has_output = false;
  bool is_70b = false;
};

// llama_tensor_get_type for the file types we write (before the shape fallback).
GgmlType mix_rule(const QuantType& qt, const ModelShape& m, bool has_imatrix, MixState& s,
                  const TensorChoice& t, GgmlType new_type) {
  const uint32_t ft = qt.ftype;
  const std::string& name = t.name;
  if (name == "output.weight" || (!s.has_output && name == "token_embd.weight")) {
    const uint64_t nx = t.shape[0];
    if (nx % ggml_traits(new_type).block_values != 0) return GgmlType::Q8_0;
    return new_type != GgmlType::Q8_0 ? GgmlType::Q6_K : new_type;
  }
  if (name == "token_embd.weight") return new_type;
  if (contains(name, "attn_v.weight")) {
    if ((ft == kFtypeQ4_K_M || ft == kFtypeQ5_K_M) &&
        use_more_bits(s.i_attention_wv, s.n_attention_wv)) {
      new_type = GgmlType::Q6_K;
    } else if (ft == kFtypeQ4_K_S && s.i_attention_wv < 4) {
      new_type = GgmlType::Q5_K;
    }
    if (s.is_70b && new_type == GgmlType::Q4_K) new_type = GgmlType::Q5_K;
    ++s.i_attention_wv;
    return new_type;
  }
  if (contains(name, "attn_k.weight") || contains(name, "attn_q.weight")) return new_type;
  if (contains(name, "ffn_down")) {
    const int i_layer = s.i_ffn_down;
    const int n_layer = m.n_layers;
    if (ft == kFtypeQ4_K_M || ft == kFtypeQ5_K_M) {
      if (use_more_bits(i_layer, n_layer)) new_type = GgmlType::Q6_K;
    } else if (ft == kFtypeQ4_K_S && i_layer < n_layer / 8) {
      new_type = GgmlType::Q5_K;
    } else if ((ft == kFtypeQ4_0 || ft == kFtypeQ5_0) && has_imatrix && i_layer < n_layer / 8) {
      // llama.cpp guards the first ffn_down layers against Q4_0/Q5_0 only with an imatrix, so
      // that files made without one stay as they always were.
      new_type = ft == kFtypeQ4_0 ? GgmlType::Q4_1 : GgmlType::Q5_1;
    }
    ++s.i_ffn_down;
    return new_type;
  }
  if (contains(name, "attn_qkv.weight")) {
    if (ft == kFtypeQ4_K_M) return GgmlType::Q5_K;
    if (ft == kFtypeQ5_K_M) return GgmlType::Q6_K;
  }
  return new_type;
}

// The shape fallback of llama_tensor_get_type. Returns the type and fills `note`.
GgmlType shape_fallback(const TensorChoice& t, GgmlType type, std::string& note) {
  const uint64_t nx = t.shape[0];
  if (nx % ggml_traits(type).block_values == 0) return type;
  GgmlType fallback;
  switch (type) {
    case GgmlType::Q4_K:
      fallback = GgmlType::Q5_0;
      break;
    case GgmlType::Q5_K:
      fallback = GgmlType::Q5_1;
      break;
    case GgmlType::Q6_K:
      fallback = GgmlType::Q8_0;
      break;
    default:
      fallback = GgmlType::F16;  // llama.cpp refuses here; F16 keeps the file usable
      break;
  }
  if (nx % ggml_traits(fallback).block_values != 0) fallback = GgmlType::F16;
  note =
      fmt::format("row length {} is not a multiple of {} ({}): using {}", nx,
                  ggml_traits(type).block_values, ggml_type_name(type), ggml_type_name(fallback));
  return fallback;
}

// ---- sources ----

struct SourceTensor {
  std::string name;
  std::vector<uint64_t> shape;  // ggml order
  GgmlType type = GgmlType::F32;
  const uint8_t* data = nullptr;                // GGUF / HF bytes in the mapping
  const safetensors::TensorInfo* st = nullptr;  // HF tensor
  int32_t permute_heads = 0;                    // HF llama q/k
  std::vector<float> synthetic;                 // computed tensors (rope_freqs)
  uint64_t n_values() const {
    uint64_t n = 1;
    for (uint64_t d : shape) n *= d;
    return n;
  }
};

struct Source {
  bool hf = false;
  ModelShape shape;
  Metadata metadata;
  std::vector<SourceTensor> tensors;  // llama.cpp order
  std::shared_ptr<gguf::GgufFile> gguf;
  std::shared_ptr<safetensors::SafetensorsModel> st;
};

void sort_sources(std::vector<SourceTensor>& tensors) {
  std::sort(tensors.begin(), tensors.end(), [](const SourceTensor& a, const SourceTensor& b) {
    const int la = layer_of(a.name), lb = layer_of(b.name);
    if (la != lb) return la < lb;
    return a.name < b.name;
  });
}

Source open_gguf(const std::string& path) {
  Source s;
  s.gguf = std::make_shared<gguf::GgufFile>(gguf::GgufFile::open(path));
  const gguf::GgufFile& f = *s.gguf;
  s.shape.arch = f.architecture();
  const std::string p = s.shape.arch + ".";
  s.shape.n_layers = static_cast<int32_t>(f.get_int_opt(p + "block_count").value_or(0));
  s.shape.n_head = static_cast<int32_t>(f.get_int_opt(p + "attention.head_count").value_or(0));
  s.shape.n_head_kv =
      static_cast<int32_t>(f.get_int_opt(p + "attention.head_count_kv").value_or(s.shape.n_head));
  for (const auto& [key, value] : f.metadata()) {
    if (key == "general.alignment" || key.compare(0, 6, "split.") == 0) continue;
    s.metadata.emplace_back(key, value);
  }
  for (const gguf::TensorInfo& t : f.tensors()) {
    SourceTensor st;
    st.name = t.name;
    st.shape = t.shape;
    st.type = t.type;
    st.data = t.data;
    s.tensors.push_back(std::move(st));
  }
  sort_sources(s.tensors);
  return s;
}

// rope_freqs.weight of a Llama 3 RoPE scaling, as convert_hf_to_gguf computes it: a divisor of
// each rotated frequency (1 for short wavelengths, `factor` for long ones, smooth between).
std::vector<float> llama3_rope_factors(const ModelConfig& c) {
  const int dim = c.rope_dim > 0 ? c.rope_dim : c.head_dim;
  const double old_ctx = c.rope_orig_ctx > 0 ? c.rope_orig_ctx : 8192;
  const double low_wavelen = old_ctx / c.rope_low_freq_factor;
  const double high_wavelen = old_ctx / c.rope_high_freq_factor;
  std::vector<float> factors;
  for (int i = 0; i < dim; i += 2) {
    const auto freq = static_cast<float>(
        1.0 / std::pow(static_cast<double>(c.rope_theta), static_cast<double>(i) / dim));
    const double wavelen = 2 * std::numbers::pi / freq;
    if (wavelen < high_wavelen) {
      factors.push_back(1.0f);
    } else if (wavelen > low_wavelen) {
      factors.push_back(c.rope_factor);
    } else {
      const double smooth = (old_ctx / wavelen - c.rope_low_freq_factor) /
                            (c.rope_high_freq_factor - c.rope_low_freq_factor);
      factors.push_back(static_cast<float>(1 / ((1 - smooth) / c.rope_factor + smooth)));
    }
  }
  return factors;
}

Source open_hf(const std::string& input) {
  Source s;
  s.hf = true;
  const fs::path in(input);
  const fs::path dir = fs::is_directory(in) ? in : in.parent_path();
  ModelConfig config = load_hf_config(dir.string());
  arch_traits(config.arch);  // throws for architectures the engine does not run
  s.st =
      std::make_shared<safetensors::SafetensorsModel>(safetensors::SafetensorsModel::open(input));
  const safetensors::TensorInfo* embd = s.st->find("model.embed_tokens.weight");
  if (embd == nullptr) fail("{}: tensor 'model.embed_tokens.weight': missing", dir.string());
  if (config.n_vocab == 0) config.n_vocab = static_cast<int32_t>(embd->n_rows());

  s.shape.arch = config.arch;
  s.shape.n_layers = config.n_layers;
  s.shape.n_head = config.n_head;
  s.shape.n_head_kv = config.n_head_kv;
  std::string name = fs::absolute(dir).lexically_normal().filename().string();
  if (name.empty()) name = fs::absolute(dir).lexically_normal().parent_path().filename().string();
  s.metadata = gguf_arch_metadata(config, name);
  const Metadata tok = gguf_tokenizer_metadata(dir.string(), config.n_vocab);
  s.metadata.insert(s.metadata.end(), tok.begin(), tok.end());

  for (const safetensors::TensorInfo* t : s.st->tensors()) {
    const std::string gname = gguf_tensor_name(t->name);
    if (gname.empty()) continue;
    if (t->shape.empty() || t->shape.size() > 2) {
      fail("{}: tensor '{}': {} dimensions (expected 1 or 2)", s.st->shard_path(t->name), t->name,
           t->shape.size());
    }
    SourceTensor st;
    st.name = gname;
    st.shape.assign(t->shape.rbegin(), t->shape.rend());
    st.type = safetensors::weight_type(*t, s.st->shard_path(t->name));
    st.data = t->data;
    st.st = t;
    st.permute_heads = permute_heads(config, gname);
    if (st.permute_heads > 0 && (t->n_rows() % static_cast<uint64_t>(2 * st.permute_heads)) != 0) {
      fail("{}: tensor '{}': {} rows cannot be split into {} heads of row pairs", dir.string(),
           t->name, t->n_rows(), st.permute_heads);
    }
    s.tensors.push_back(std::move(st));
  }
  if (config.rope_scaling == RopeScaling::Llama3) {
    SourceTensor st;
    st.name = "rope_freqs.weight";
    st.synthetic = llama3_rope_factors(config);
    st.shape = {st.synthetic.size()};
    st.type = GgmlType::F32;
    s.tensors.push_back(std::move(st));
  }
  sort_sources(s.tensors);
  return s;
}

// ---- conversion ----

// The tensor as f32 values (ggml row order), converted on all threads.
void read_f32(const SourceTensor& t, std::vector<float>& out, ThreadPool& pool) {
  const uint64_t n = t.n_values();
  out.resize(n);
  if (!t.synthetic.empty()) {
    std::copy(t.synthetic.begin(), t.synthetic.end(), out.begin());
    return;
  }
  const int64_t row_len = static_cast<int64_t>(t.shape[0]);
  const int64_t n_rows = static_cast<int64_t>(n / t.shape[0]);
  if (t.st == nullptr && !quant::can_dequantize(t.type)) {
    fail(
        "tensor '{}': cannot convert from type {} (supported: f32, f16, bf16, q4_0, q4_1, q5_0, "
        "q5_1, q8_0, q4_K, q5_K, q6_K)",
        t.name, ggml_type_name(t.type));
  }
  const uint64_t row_bytes = ggml_row_bytes(t.type, static_cast<uint64_t>(row_len));
  pool.parallel_for(n_rows, 1, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      float* dst = out.data() + r * row_len;
      if (t.st != nullptr) {
        safetensors::row_to_f32(*t.st, static_cast<uint64_t>(r),
                                std::span<float>(dst, static_cast<size_t>(row_len)));
      } else {
        quant::dequantize_row_ref(t.type, t.data + static_cast<uint64_t>(r) * row_bytes, dst,
                                  row_len);
      }
    }
  });
  if (t.permute_heads > 0) {
    std::vector<float> permuted(n);
    permute_rows_for_gguf(out.data(), permuted.data(), n_rows, row_len, t.permute_heads);
    out.swap(permuted);
  }
}

// Importance of each column of `name` (mean squared activation), or nullptr.
struct Importance {
  std::map<std::string, std::vector<float>> columns;
  const std::vector<float>* find(const TensorChoice& t) const {
    const auto it = columns.find(t.name);
    if (it == columns.end()) return nullptr;
    if (it->second.size() != t.shape[0]) {
      // llama.cpp: a size mismatch is fatal, except for token_embd (never has a usable entry).
      if (t.name == "token_embd.weight") return nullptr;
      fail("imatrix: tensor '{}': {} values, but the tensor has {} columns", t.name,
           it->second.size(), t.shape[0]);
    }
    return &it->second;
  }
};

Importance load_importance(const std::string& path) {
  Importance imp;
  const ImportanceMatrix m = load_imatrix(path);
  for (const auto& [name, e] : m.entries) {
    std::vector<float> v = e.values;
    for (float& x : v) {
      if (!std::isfinite(x)) fail("{}: tensor '{}': non-finite importance value", path, name);
      if (e.ncall > 0) x /= static_cast<float>(e.ncall);
    }
    imp.columns.emplace(name, std::move(v));
  }
  return imp;
}

std::string shape_text(const std::vector<uint64_t>& shape) {
  std::string s;
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? " x " : "") + std::to_string(shape[i]);
  return s;
}

}  // namespace

const std::vector<QuantType>& quant_types() {
  static const std::vector<QuantType> kTypes = {
      {"f32", kFtypeAllF32, GgmlType::F32, false},
      {"f16", kFtypeF16, GgmlType::F16, false},
      {"bf16", kFtypeBF16, GgmlType::BF16, false},
      {"q8_0", kFtypeQ8_0, GgmlType::Q8_0, false},
      {"q4_0", kFtypeQ4_0, GgmlType::Q4_0, false},
      {"q4_1", kFtypeQ4_1, GgmlType::Q4_1, false},
      {"q5_0", kFtypeQ5_0, GgmlType::Q5_0, false},
      {"q5_1", kFtypeQ5_1, GgmlType::Q5_1, false},
      {"q4_k", kFtypeQ4_K_S, GgmlType::Q4_K, true},
      {"q5_k", kFtypeQ5_K_S, GgmlType::Q5_K, true},
      {"q6_k", kFtypeQ6_K, GgmlType::Q6_K, false},
      {"q4_k_s", kFtypeQ4_K_S, GgmlType::Q4_K, false},
      {"q4_k_m", kFtypeQ4_K_M, GgmlType::Q4_K, false},
      {"q5_k_s", kFtypeQ5_K_S, GgmlType::Q5_K, false},
      {"q5_k_m", kFtypeQ5_K_M, GgmlType::Q5_K, false},
  };
  return kTypes;
}

const QuantType& parse_quant_type(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](char c) {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  });
  std::string names;
  for (const QuantType& t : quant_types()) {
    if (t.name == lower) return t;
    names += (names.empty() ? "" : ", ") + std::string(t.name);
  }
  fail_usage("--type '{}': unknown type (expected one of {})", printable(name), names);
}

void sort_like_llama_cpp(std::vector<TensorChoice>& tensors) {
  std::sort(tensors.begin(), tensors.end(), [](const TensorChoice& a, const TensorChoice& b) {
    const int la = layer_of(a.name), lb = layer_of(b.name);
    if (la != lb) return la < lb;
    return a.name < b.name;
  });
}

void choose_tensor_types(const QuantType& qt, const ModelShape& m, bool has_imatrix, bool hf_input,
                         std::vector<TensorChoice>& tensors) {
  MixState s;
  for (const TensorChoice& t : tensors) {
    if (contains(t.name, "attn_v.weight") || contains(t.name, "attn_qkv.weight") ||
        contains(t.name, "attn_kv_b.weight")) {
      ++s.n_attention_wv;
    } else if (t.name == "output.weight") {
      s.has_output = true;
    }
  }
  s.is_70b =
      m.n_layers == 80 && ((m.arch == "llama" && m.n_head != m.n_head_kv) || m.arch == "qwen2");
  for (TensorChoice& t : tensors) {
    t.note.clear();
    if (!allows_quantization(t)) {
      t.dst_type = hf_input && n_dims(t.shape) < 2 ? GgmlType::F32 : t.src_type;
      t.converted = t.dst_type != t.src_type;
      continue;
    }
    GgmlType type = qt.default_type;
    if (is_quantized(type)) {
      if (!qt.pure) type = mix_rule(qt, m, has_imatrix, s, t, type);
      type = shape_fallback(t, type, t.note);
    }
    t.dst_type = type;
    t.converted = type != t.src_type;
  }
}

QuantizeResult quantize_model(const std::string& input, const std::string& output,
                              const QuantizeOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const QuantType& qt = parse_quant_type(options.type);
  if (!fs::exists(input)) fail("{}: no such file or folder", input);
  const bool is_gguf = !fs::is_directory(input) && ends_with(input, ".gguf");
  if (!is_gguf && !fs::is_directory(input) && !ends_with(input, ".safetensors") &&
      !ends_with(input, ".safetensors.index.json")) {
    fail("{}: expected a .gguf file or a Hugging Face folder (config.json + *.safetensors)", input);
  }
  if (fs::exists(output) && fs::equivalent(input, output)) {
    fail("{}: output would overwrite the input", output);
  }
  Source src = is_gguf ? open_gguf(input) : open_hf(input);
  std::optional<Importance> importance;
  if (!options.imatrix_path.empty()) importance = load_importance(options.imatrix_path);

  QuantizeResult result;
  result.tensors.reserve(src.tensors.size());
  for (const SourceTensor& t : src.tensors) {
    TensorChoice c;
    c.name = t.name;
    c.shape = t.shape;
    c.src_type = t.type;
    result.tensors.push_back(std::move(c));
  }
  choose_tensor_types(qt, src.shape, importance.has_value(), src.hf, result.tensors);

  gguf::GgufWriter writer;
  for (const auto& [key, value] : src.metadata) writer.set(key, value);
  writer.remove("general.quantization_version");
  writer.remove("general.file_type");
  writer.set("general.quantization_version", gguf::Value::of_u32(kQuantizationVersion));
  writer.set("general.file_type", gguf::Value::of_u32(qt.ftype));
  for (const TensorChoice& c : result.tensors) {
    if (c.converted && !quant::can_quantize(c.dst_type)) {
      fail("{}: tensor '{}': cannot write type {}", input, c.name, ggml_type_name(c.dst_type));
    }
    writer.add_tensor(c.name, c.dst_type, c.shape);
    if (!c.note.empty()) ++result.n_fallback;
  }

  // Check the imatrix against the model before any work (llama.cpp fails mid-file).
  if (importance) {
    for (const TensorChoice& c : result.tensors) {
      if (c.converted && is_quantized(c.dst_type)) importance->find(c);
    }
  }

  ThreadPool pool(options.n_threads);
  const bool tty = ::isatty(STDERR_FILENO) != 0;
  std::vector<float> f32;
  const size_t n_tensors = result.tensors.size();
  auto produce = [&](size_t i, std::string& out) {
    const SourceTensor& t = src.tensors[i];
    const TensorChoice& c = result.tensors[i];
    const uint64_t n = t.n_values();
    if (n == 0) return;  // an empty tensor has no data
    const uint64_t in_bytes =
        t.synthetic.empty() ? ggml_row_bytes(t.type, t.shape[0]) * (n / t.shape[0]) : n * 4;
    result.input_bytes += in_bytes;
    const size_t before = out.size();
    const bool raw_copy = t.type == c.dst_type && t.data != nullptr && t.permute_heads == 0;
    const float* weights = nullptr;
    if (raw_copy) {
      out.append(reinterpret_cast<const char*>(t.data), in_bytes);
    } else {
      read_f32(t, f32, pool);
      if (importance && c.converted && is_quantized(c.dst_type)) {
        if (const std::vector<float>* w = importance->find(c)) {
          weights = w->data();
          ++result.n_imatrix_used;
        }
      }
      const auto row_len = static_cast<int64_t>(t.shape[0]);
      const auto n_rows = static_cast<int64_t>(n / t.shape[0]);
      const uint64_t row_bytes = ggml_row_bytes(c.dst_type, static_cast<uint64_t>(row_len));
      out.resize(before + row_bytes * static_cast<uint64_t>(n_rows));
      char* dst = out.data() + before;
      pool.parallel_for(n_rows, 1, [&](int64_t begin, int64_t end) {
        quant::quantize_rows(c.dst_type, f32.data() + begin * row_len,
                             dst + static_cast<uint64_t>(begin) * row_bytes, end - begin, row_len,
                             weights);
      });
    }
    if (options.progress) {
      const std::string line =
          fmt::format("[{:4}/{:4}] {:<32} {:>5} -> {:<5} [{}] {:.2f} -> {:.2f} MiB{}{}", i + 1,
                      n_tensors, c.name, ggml_type_name(t.type), ggml_type_name(c.dst_type),
                      shape_text(c.shape), static_cast<double>(in_bytes) / (1 << 20),
                      static_cast<double>(out.size() - before) / (1 << 20),
                      weights ? " (imatrix)" : "", c.note.empty() ? "" : " (" + c.note + ")");
      if (tty && c.note.empty()) {
        std::fprintf(stderr, "\r\033[K%s", line.c_str());
        if (i + 1 == n_tensors) std::fputc('\n', stderr);
      } else {
        std::fprintf(stderr, "%s%s\n", tty ? "\r\033[K" : "", line.c_str());
      }
      std::fflush(stderr);
    }
  };
  writer.write(output, produce);
  result.output_bytes = fs::file_size(output);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace vigil::compress
