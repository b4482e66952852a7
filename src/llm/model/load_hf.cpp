// Model loading from a Hugging Face folder: config.json for hyperparameters, safetensors for
// weights (F32/F16/BF16 used as stored), tokenizer.json for the tokenizer.
#include <filesystem>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "base/file.h"
#include "llm/format/hf_config.h"
#include "llm/format/safetensors.h"
#include "llm/model/model.h"
#include "llm/tokenizer/tokenizer.h"

namespace vigil {
namespace {}  // namespace

void Model::load_hf(const std::string& dir, FileImage image) {
  namespace fs = std::filesystem;
  const std::string config_path = (fs::path(dir) / "config.json").string();
  config_ = load_hf_config(config_path);
  const ArchTraits& traits = arch_traits(config_.arch);
  (void)traits;
  auto st = std::make_shared<safetensors::SafetensorsModel>(
      safetensors::SafetensorsModel::open(dir, image));
  const safetensors::SafetensorsModel& m = *st;

  auto view = [&](const std::string& name, bool required) -> Tensor {
    const safetensors::TensorInfo* t = m.find(name);
    if (t == nullptr) {
      if (required) fail("{}: tensor '{}': missing", dir, name);
      return {};
    }
    if (t->shape.empty() || t->shape.size() > 2) {
      fail("{}: tensor '{}': {} dimensions (expected 1 or 2)", m.shard_path(name), name,
           t->shape.size());
    }
    Tensor out;
    out.name = name;
    out.type = safetensors::weight_type(*t, m.shard_path(name));
    out.cols = static_cast<int64_t>(t->row_length());
    out.rows = static_cast<int64_t>(t->n_rows());
    out.data = t->data;
    return out;
  };

  ModelWeights& w = weights_;
  w.tok_embd = view("model.embed_tokens.weight", true);
  w.output_norm = view("model.norm.weight", true);
  w.output = view("lm_head.weight", false);
  if (!w.output.present()) {
    w.output = w.tok_embd;
    config_.tied_embeddings = true;
  }
  if (config_.n_vocab == 0) config_.n_vocab = static_cast<int32_t>(w.tok_embd.rows);
  if (w.tok_embd.rows != config_.n_vocab) {
    fail("{}: tensor 'model.embed_tokens.weight': {} rows (config.json vocab_size is {})", dir,
         w.tok_embd.rows, config_.n_vocab);
  }
  w.layers.resize(static_cast<size_t>(config_.n_layers));
  for (int32_t i = 0; i < config_.n_layers; ++i) {
    LayerWeights& l = w.layers[static_cast<size_t>(i)];
    const std::string b = "model.layers." + std::to_string(i) + ".";
    l.attn_norm = view(b + "input_layernorm.weight", true);
    if (config_.fused_qkv) {
      l.wqkv = view(b + "self_attn.qkv_proj.weight", true);
    } else {
      l.wq = view(b + "self_attn.q_proj.weight", true);
      l.wk = view(b + "self_attn.k_proj.weight", true);
      l.wv = view(b + "self_attn.v_proj.weight", true);
    }
    l.bq = view(b + "self_attn.q_proj.bias", config_.qkv_bias);
    l.bk = view(b + "self_attn.k_proj.bias", config_.qkv_bias);
    l.bv = view(b + "self_attn.v_proj.bias", config_.qkv_bias);
    l.wo = view(b + "self_attn.o_proj.weight", true);
    l.ffn_norm = view(b + "post_attention_layernorm.weight", true);
    if (config_.fused_gate_up) {
      l.w_gate_up = view(b + "mlp.gate_up_proj.weight", true);
    } else {
      l.w_gate = view(b + "mlp.gate_proj.weight", true);
      l.w_up = view(b + "mlp.up_proj.weight", true);
    }
    l.w_down = view(b + "mlp.down_proj.weight", true);
  }
  storage_ = st;

  const fs::path tok_json = fs::path(dir) / "tokenizer.json";
  const fs::path tok_config = fs::path(dir) / "tokenizer_config.json";
  if (fs::exists(tok_json)) {
    tokenizer_ = Tokenizer::from_hf_json(
        tok_json.string(), fs::exists(tok_config) ? tok_config.string() : std::string());
  }
  if (fs::exists(tok_config)) {
    try {
      const auto j = nlohmann::json::parse(read_file(tok_config.string()));
      if (j.contains("chat_template") && j["chat_template"].is_string()) {
        chat_template_ = j["chat_template"].get<std::string>();
      }
    } catch (const nlohmann::json::exception& e) {
      fail("{}: invalid JSON: {}", tok_config.string(), e.what());
    }
  }
}

}  // namespace vigil
