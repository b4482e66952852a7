// Model loading from GGUF: hyperparameters from `<arch>.*` metadata, tensors by llama.cpp name.
#include <algorithm>
#include <filesystem>

#include "base/error.h"
#include "llm/format/gguf.h"
#include "llm/model/model.h"
#include "llm/tokenizer/tokenizer.h"

namespace vigil {
namespace {

constexpr ArchTraits kArchs[] = {
    {"llama", RopeStyle::Normal, false, false, false},
    {"mistral", RopeStyle::Normal, false, false, false},
    {"qwen2", RopeStyle::NeoX, true, false, false},
    {"phi3", RopeStyle::NeoX, false, true, true},
};

Tensor view(const gguf::GgufFile& f, const std::string& name, bool required) {
  const gguf::TensorInfo* t = f.find_tensor(name);
  if (t == nullptr) {
    if (required) fail("{}: tensor '{}': missing", f.path(), name);
    return {};
  }
  if (t->shape.size() > 2) {
    fail("{}: tensor '{}': {} dimensions (expected 1 or 2)", f.path(), name, t->shape.size());
  }
  Tensor out;
  out.name = name;
  out.type = t->type;
  out.cols = static_cast<int64_t>(t->shape[0]);
  out.rows = t->shape.size() > 1 ? static_cast<int64_t>(t->shape[1]) : 1;
  out.data = t->data;
  out.file_offset = t->file_offset(f.data_offset());
  return out;
}

}  // namespace

const ArchTraits& arch_traits(const std::string& arch) {
  for (const auto& a : kArchs) {
    if (arch == a.name) return a;
  }
  fail("unsupported architecture '{}' (supported: llama, mistral, qwen2, phi3)", arch);
}

void Model::load_gguf(const std::string& path, FileImage image) {
  gguf_ = std::make_shared<gguf::GgufFile>(gguf::GgufFile::open(path, image));
  const gguf::GgufFile& f = *gguf_;
  const std::string arch = f.architecture();
  const ArchTraits& traits = arch_traits(arch);
  ModelConfig& c = config_;
  c.arch = arch;
  const std::string p = arch + ".";
  c.n_layers = static_cast<int32_t>(f.get_int(p + "block_count"));
  c.n_embd = static_cast<int32_t>(f.get_int(p + "embedding_length"));
  const gguf::Value& ff = f.get(p + "feed_forward_length");
  if (ff.type == gguf::ValueType::ARRAY) {
    for (int64_t v : f.get_int_array(p + "feed_forward_length")) {
      c.n_ff_per_layer.push_back(static_cast<int32_t>(v));
    }
    if (static_cast<int32_t>(c.n_ff_per_layer.size()) != c.n_layers) {
      fail("{}: metadata key '{}feed_forward_length': {} values for {} layers", path, p,
           c.n_ff_per_layer.size(), c.n_layers);
    }
    c.n_ff = *std::max_element(c.n_ff_per_layer.begin(), c.n_ff_per_layer.end());
  } else {
    c.n_ff = static_cast<int32_t>(f.get_int(p + "feed_forward_length"));
  }
  c.n_head = static_cast<int32_t>(f.get_int(p + "attention.head_count"));
  c.n_head_kv =
      static_cast<int32_t>(f.get_int_opt(p + "attention.head_count_kv").value_or(c.n_head));
  if (c.n_head <= 0 || c.n_head_kv <= 0 || c.n_head % c.n_head_kv != 0) {
    fail(
        "{}: attention.head_count {} / head_count_kv {}: expected positive, heads a multiple of "
        "kv heads",
        path, c.n_head, c.n_head_kv);
  }
  c.head_dim =
      static_cast<int32_t>(f.get_int_opt(p + "attention.key_length").value_or(c.n_embd / c.n_head));
  c.n_ctx_train = static_cast<int32_t>(f.get_int_opt(p + "context_length").value_or(4096));
  c.rms_eps =
      static_cast<float>(f.get_float_opt(p + "attention.layer_norm_rms_epsilon").value_or(1e-5));
  c.rope_theta = static_cast<float>(f.get_float_opt(p + "rope.freq_base").value_or(10000.0));
  c.rope_dim = static_cast<int32_t>(f.get_int_opt(p + "rope.dimension_count").value_or(c.head_dim));
  c.rope_style = traits.gguf_rope;
  if (auto type = f.get_string_opt(p + "rope.scaling.type")) {
    if (*type == "linear") {
      c.rope_scaling = RopeScaling::Linear;
      c.rope_factor = static_cast<float>(f.get_float(p + "rope.scaling.factor"));
    } else if (*type == "yarn") {
      fail("{}: rope.scaling.type 'yarn' is not supported yet", path);
    }
  }
  c.sliding_window =
      static_cast<int32_t>(f.get_int_opt(p + "attention.sliding_window").value_or(0));
  c.qkv_bias = traits.qkv_bias;
  c.fused_qkv = traits.fused_qkv;
  c.fused_gate_up = traits.fused_gate_up;

  ModelWeights& w = weights_;
  w.tok_embd = view(f, "token_embd.weight", true);
  w.output_norm = view(f, "output_norm.weight", true);
  w.output = view(f, "output.weight", false);
  if (!w.output.present()) {
    w.output = w.tok_embd;
    c.tied_embeddings = true;
  }
  c.n_vocab = static_cast<int32_t>(w.tok_embd.rows);
  const Tensor freqs = view(f, "rope_freqs.weight", false);
  if (freqs.present()) {
    if (freqs.type != GgmlType::F32) fail("{}: tensor 'rope_freqs.weight': expected f32", path);
    const auto* v = reinterpret_cast<const float*>(freqs.data);
    w.rope_freq_factors.assign(v, v + freqs.cols);
  }
  w.layers.resize(static_cast<size_t>(c.n_layers));
  for (int32_t i = 0; i < c.n_layers; ++i) {
    LayerWeights& l = w.layers[static_cast<size_t>(i)];
    const std::string b = "blk." + std::to_string(i) + ".";
    l.attn_norm = view(f, b + "attn_norm.weight", true);
    if (c.fused_qkv) {
      l.wqkv = view(f, b + "attn_qkv.weight", true);
    } else {
      l.wq = view(f, b + "attn_q.weight", true);
      l.wk = view(f, b + "attn_k.weight", true);
      l.wv = view(f, b + "attn_v.weight", true);
    }
    l.bq = view(f, b + "attn_q.bias", c.qkv_bias);
    l.bk = view(f, b + "attn_k.bias", c.qkv_bias);
    l.bv = view(f, b + "attn_v.bias", c.qkv_bias);
    l.wo = view(f, b + "attn_output.weight", true);
    l.ffn_norm = view(f, b + "ffn_norm.weight", true);
    if (c.fused_gate_up) {
      l.w_gate_up = view(f, b + "ffn_up.weight", true);
    } else {
      l.w_gate = view(f, b + "ffn_gate.weight", true);
      l.w_up = view(f, b + "ffn_up.weight", true);
    }
    l.w_down = view(f, b + "ffn_down.weight", true);
  }
  chat_template_ = f.get_string_opt("tokenizer.chat_template");
  if (f.has("tokenizer.ggml.model")) tokenizer_ = Tokenizer::from_gguf(f);
}

}  // namespace vigil
