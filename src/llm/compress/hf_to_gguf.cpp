#include "llm/compress/hf_to_gguf.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "base/error.h"
#include "base/file.h"

namespace vigil::compress {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// GGUF tokenizer.ggml.token_type values (llama.cpp's LLAMA_TOKEN_TYPE_*).
enum TokenType : int32_t {
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

// Score of SentencePiece padding and special entries, as convert_hf_to_gguf writes them.
constexpr float kPadScore = -1000.0f;

json parse_json_file(const std::string& path) {
  try {
    return json::parse(read_file(path));
  } catch (const json::exception& e) {
    fail("{}: invalid JSON: {}", path, e.what());
  }
}

std::optional<json> parse_optional(const fs::path& path) {
  if (!fs::exists(path)) return std::nullopt;
  return parse_json_file(path.string());
}

// A special token named in tokenizer_config.json: "<s>", {"content": "<s>", ...} or null.
std::optional<std::string> special_token_text(const json& config, const char* key) {
  if (!config.contains(key)) return std::nullopt;
  const json& v = config[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) {
    return v["content"].get<std::string>();
  }
  return std::nullopt;
}

// A token id in config.json: an integer or a list of integers (the first counts).
std::optional<int64_t> config_token_id(const json& config, const char* key) {
  if (!config.contains(key)) return std::nullopt;
  const json& v = config[key];
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_array() && !v.empty() && v[0].is_number_integer()) return v[0].get<int64_t>();
  return std::nullopt;
}

bool has_type(const json& node, const char* type, const char* list_key) {
  if (!node.is_object()) return false;
  if (node.value("type", "") == type) return true;
  if (node.contains(list_key) && node[list_key].is_array()) {
    for (const json& item : node[list_key]) {
      if (has_type(item, type, list_key)) return true;
    }
  }
  return false;
}

// The Split regex of a byte-level pre-tokenizer, "" for a plain ByteLevel(use_regex) one.
std::optional<std::string> split_regex(const json& pre) {
  if (!pre.is_object()) return std::nullopt;
  if (pre.value("type", "") == "Split" && pre.contains("pattern") && pre["pattern"].is_object() &&
      pre["pattern"].contains("Regex") && pre["pattern"]["Regex"].is_string()) {
    return pre["pattern"]["Regex"].get<std::string>();
  }
  if (pre.contains("pretokenizers") && pre["pretokenizers"].is_array()) {
    for (const json& item : pre["pretokenizers"]) {
      if (auto r = split_regex(item)) return r;
    }
  }
  return std::nullopt;
}

// llama.cpp's tokenizer.ggml.pre name for a byte-level tokenizer.json, from its split regex
// (convert_hf_to_gguf identifies it by hashing a tokenization; the regex identifies the same
// families here).
std::string detect_pre(const json& root, const std::string& path) {
  const json pre = root.value("pre_tokenizer", json());
  const std::optional<std::string> regex = split_regex(pre);
  if (!regex) return "gpt-2";  // ByteLevel with its built-in GPT-2 regex
  static const std::map<std::string, std::string> kKnown = {
      {R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)",
       "qwen2"},
      {R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)",
       "llama-bpe"},
      {R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)", "gpt-2"},
  };
  const auto it = kKnown.find(*regex);
  if (it == kKnown.end()) {
    fail(
        "{}: pre_tokenizer: split regex '{}' is not one of the known byte-level families "
        "(qwen2, llama-bpe, gpt-2)",
        path, printable(*regex, 120));
  }
  return it->second;
}

struct TemplateSpecials {
  std::optional<std::string> first;  // special token before the sequence
  std::optional<std::string> last;   // special token after it
  bool present = false;
};

TemplateSpecials template_specials(const json& root) {
  TemplateSpecials t;
  const json pp = root.value("post_processor", json());
  if (!pp.is_object() || pp.value("type", "") != "TemplateProcessing" || !pp.contains("single") ||
      !pp["single"].is_array() || pp["single"].empty()) {
    return t;
  }
  t.present = true;
  auto special_of = [](const json& item) -> std::optional<std::string> {
    if (item.is_object() && item.contains("SpecialToken") && item["SpecialToken"].is_object()) {
      return item["SpecialToken"].value("id", "");
    }
    return std::nullopt;
  };
  t.first = special_of(pp["single"].front());
  t.last = special_of(pp["single"].back());
  return t;
}

bool is_byte_token(const std::string& text) {
  return text.size() == 6 && text.compare(0, 3, "<0x") == 0 && text[5] == '>' &&
         std::isxdigit(static_cast<unsigned char>(text[3])) &&
         std::isxdigit(static_cast<unsigned char>(text[4]));
}

gguf::Value i32_array(const std::vector<int32_t>& v) {
  return gguf::Value::of_i32s(v);
}

}  // namespace

std::string gguf_tensor_name(const std::string& hf_name) {
  static const std::map<std::string, std::string> kTop = {
      {"model.embed_tokens.weight", "token_embd.weight"},
      {"model.norm.weight", "output_norm.weight"},
      {"lm_head.weight", "output.weight"},
  };
  if (const auto it = kTop.find(hf_name); it != kTop.end()) return it->second;
  static const std::map<std::string, std::string> kLayer = {
      {"input_layernorm.weight", "attn_norm.weight"},
      {"self_attn.q_proj.weight", "attn_q.weight"},
      {"self_attn.q_proj.bias", "attn_q.bias"},
      {"self_attn.k_proj.weight", "attn_k.weight"},
      {"self_attn.k_proj.bias", "attn_k.bias"},
      {"self_attn.v_proj.weight", "attn_v.weight"},
      {"self_attn.v_proj.bias", "attn_v.bias"},
      {"self_attn.o_proj.weight", "attn_output.weight"},
      {"self_attn.qkv_proj.weight", "attn_qkv.weight"},
      {"post_attention_layernorm.weight", "ffn_norm.weight"},
      {"mlp.gate_proj.weight", "ffn_gate.weight"},
      {"mlp.up_proj.weight", "ffn_up.weight"},
      {"mlp.down_proj.weight", "ffn_down.weight"},
      {"mlp.gate_up_proj.weight", "ffn_up.weight"},
  };
  const std::string prefix = "model.layers.";
  if (hf_name.compare(0, prefix.size(), prefix) == 0) {
    const size_t dot = hf_name.find('.', prefix.size());
    const std::string layer = hf_name.substr(prefix.size(), dot - prefix.size());
    const bool numeric =
        !layer.empty() && layer.size() < 7 &&
        std::all_of(layer.begin(), layer.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (numeric && dot != std::string::npos) {
      const std::string rest = hf_name.substr(dot + 1);
      if (rest == "self_attn.rotary_emb.inv_freq") return "";
      if (const auto it = kLayer.find(rest); it != kLayer.end()) {
        return "blk." + std::to_string(std::stoi(layer)) + "." + it->second;
      }
    }
  }
  if (hf_name.size() >= 9 && hf_name.compare(hf_name.size() - 9, 9, ".inv_freq") == 0) return "";
  fail("tensor '{}': no GGUF name for it (supported: llama-family decoder tensors)",
       printable(hf_name));
}

int32_t permute_heads(const ModelConfig& config, const std::string& gguf_name) {
  if (config.arch != "llama" && config.arch != "mistral") return 0;
  auto ends_with = [&](const char* s) {
    const std::string suffix = s;
    return gguf_name.size() >= suffix.size() &&
           gguf_name.compare(gguf_name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (ends_with(".attn_q.weight")) return config.n_head;
  if (ends_with(".attn_k.weight")) return config.n_head_kv;
  return 0;
}

void permute_rows_for_gguf(const float* in, float* out, int64_t rows, int64_t cols,
                           int32_t n_head) {
  const int64_t head_rows = rows / n_head;
  const int64_t half = head_rows / 2;
  for (int64_t h = 0; h < n_head; ++h) {
    for (int64_t part = 0; part < 2; ++part) {
      for (int64_t i = 0; i < half; ++i) {
        const float* src = in + (h * head_rows + part * half + i) * cols;
        float* dst = out + (h * head_rows + 2 * i + part) * cols;
        std::copy(src, src + cols, dst);
      }
    }
  }
}

Metadata gguf_arch_metadata(const ModelConfig& c, const std::string& name) {
  Metadata m;
  const std::string a = c.arch + ".";
  auto u32 = [](int64_t v) { return gguf::Value::of_u32(static_cast<uint32_t>(v)); };
  m.emplace_back("general.architecture", gguf::Value::of_string(c.arch));
  m.emplace_back("general.type", gguf::Value::of_string("model"));
  m.emplace_back("general.name", gguf::Value::of_string(name));
  m.emplace_back(a + "block_count", u32(c.n_layers));
  m.emplace_back(a + "context_length", u32(c.n_ctx_train));
  m.emplace_back(a + "embedding_length", u32(c.n_embd));
  if (c.n_ff_per_layer.empty()) {
    m.emplace_back(a + "feed_forward_length", u32(c.n_ff));
  } else {
    m.emplace_back(a + "feed_forward_length", i32_array(c.n_ff_per_layer));
  }
  m.emplace_back(a + "attention.head_count", u32(c.n_head));
  m.emplace_back(a + "attention.head_count_kv", u32(c.n_head_kv));
  m.emplace_back(a + "rope.freq_base", gguf::Value::of_f32(c.rope_theta));
  m.emplace_back(a + "attention.layer_norm_rms_epsilon", gguf::Value::of_f32(c.rms_eps));
  m.emplace_back(a + "attention.key_length", u32(c.head_dim));
  m.emplace_back(a + "attention.value_length", u32(c.head_dim));
  m.emplace_back(a + "rope.dimension_count", u32(c.rope_dim > 0 ? c.rope_dim : c.head_dim));
  m.emplace_back(a + "vocab_size", u32(c.n_vocab));
  if (c.sliding_window > 0 || c.arch == "phi3") {
    m.emplace_back(a + "attention.sliding_window", u32(c.sliding_window));
  }
  switch (c.rope_scaling) {
    case RopeScaling::None:
    case RopeScaling::Llama3:  // carried by the rope_freqs.weight tensor instead
      break;
    case RopeScaling::Linear:
      m.emplace_back(a + "rope.scaling.type", gguf::Value::of_string("linear"));
      m.emplace_back(a + "rope.scaling.factor", gguf::Value::of_f32(c.rope_factor));
      break;
    case RopeScaling::Yarn:
      fail("{}: rope scaling 'yarn' cannot be converted to GGUF yet", name);
  }
  return m;
}

Metadata gguf_tokenizer_metadata(const std::string& dir, int32_t n_vocab) {
  const fs::path tok_path = fs::path(dir) / "tokenizer.json";
  const std::string path = tok_path.string();
  if (!fs::exists(tok_path)) fail("{}: missing (needed to write the GGUF tokenizer)", path);
  const json root = parse_json_file(path);
  const json tok_config = parse_optional(fs::path(dir) / "tokenizer_config.json").value_or(json());
  const json model_config = parse_optional(fs::path(dir) / "config.json").value_or(json());

  if (!root.contains("model") || !root["model"].is_object()) fail("{}: key 'model': missing", path);
  const json& model = root["model"];
  const std::string model_type = model.value("type", "BPE");
  if (model_type != "BPE") {
    fail("{}: model.type '{}': only BPE tokenizers can be converted", path, model_type);
  }
  if (!model.contains("vocab") || !model["vocab"].is_object()) {
    fail("{}: key 'model.vocab': missing or not an object", path);
  }

  // Vocabulary by id: model vocab, then added tokens (which may add ids or repeat them).
  std::map<int64_t, std::string> by_id;
  for (const auto& [text, id] : model["vocab"].items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= (1 << 24)) {
      fail("{}: model.vocab['{}']: id must be an integer in [0, 2^24)", path, printable(text));
    }
    by_id[id.get<int64_t>()] = text;
  }
  std::map<int64_t, bool> added_special;  // id -> special
  if (root.contains("added_tokens") && root["added_tokens"].is_array()) {
    for (const json& t : root["added_tokens"]) {
      if (!t.is_object() || !t.contains("id") || !t["id"].is_number_integer() ||
          !t.contains("content") || !t["content"].is_string()) {
        fail("{}: added_tokens: each entry needs an integer 'id' and a string 'content'", path);
      }
      const int64_t id = t["id"].get<int64_t>();
      if (id < 0 || id >= (1 << 24)) fail("{}: added_tokens: id {} out of range", path, id);
      by_id[id] = t["content"].get<std::string>();
      added_special[id] = t.value("special", false);
    }
  }
  if (by_id.empty()) fail("{}: empty vocabulary", path);
  const int64_t n_tokens = std::max<int64_t>(by_id.rbegin()->first + 1, n_vocab);
  std::vector<std::string> tokens(static_cast<size_t>(n_tokens));
  std::vector<int32_t> types(static_cast<size_t>(n_tokens), kNormal);
  std::map<std::string, int64_t> ids;
  for (int64_t i = 0; i < n_tokens; ++i) {
    const auto it = by_id.find(i);
    if (it == by_id.end()) {
      tokens[static_cast<size_t>(i)] = "[PAD" + std::to_string(i) + "]";
      types[static_cast<size_t>(i)] = kUnused;
    } else {
      tokens[static_cast<size_t>(i)] = it->second;
    }
    if (!ids.emplace(tokens[static_cast<size_t>(i)], i).second) {
      fail("{}: token '{}' appears twice (ids {} and {})", path,
           printable(tokens[static_cast<size_t>(i)]), ids[tokens[static_cast<size_t>(i)]], i);
    }
  }
  for (const auto& [id, special] : added_special) {
    types[static_cast<size_t>(id)] = special ? kControl : kUserDefined;
  }

  // Merges: "a b" strings or ["a", "b"] pairs.
  std::vector<std::pair<std::string, std::string>> merges;
  if (model.contains("merges") && model["merges"].is_array()) {
    for (const json& mj : model["merges"]) {
      if (mj.is_string()) {
        const std::string s = mj.get<std::string>();
        const size_t space = s.size() > 1 ? s.find(' ', 1) : std::string::npos;
        if (space == std::string::npos) {
          fail("{}: model.merges: '{}' is not 'left right'", path, printable(s));
        }
        merges.emplace_back(s.substr(0, space), s.substr(space + 1));
      } else if (mj.is_array() && mj.size() == 2 && mj[0].is_string() && mj[1].is_string()) {
        merges.emplace_back(mj[0].get<std::string>(), mj[1].get<std::string>());
      } else {
        fail("{}: model.merges: each merge must be 'a b' or [\"a\", \"b\"]", path);
      }
    }
  }

  const json pre = root.value("pre_tokenizer", json());
  const json decoder = root.value("decoder", json());
  const bool byte_level =
      has_type(pre, "ByteLevel", "pretokenizers") || has_type(decoder, "ByteLevel", "decoders");

  Metadata m;
  std::optional<std::string> unk_text;
  if (model.contains("unk_token") && model["unk_token"].is_string()) {
    unk_text = model["unk_token"].get<std::string>();
  }
  if (byte_level) {
    m.emplace_back("tokenizer.ggml.model", gguf::Value::of_string("gpt2"));
    m.emplace_back("tokenizer.ggml.pre", gguf::Value::of_string(detect_pre(root, path)));
    m.emplace_back("tokenizer.ggml.tokens", gguf::Value::of_strings(tokens));
    m.emplace_back("tokenizer.ggml.token_type", i32_array(types));
    std::vector<std::string> merge_strings;
    merge_strings.reserve(merges.size());
    for (const auto& [a, b] : merges) merge_strings.push_back(a + " " + b);
    m.emplace_back("tokenizer.ggml.merges", gguf::Value::of_strings(merge_strings));
  } else {
    // SentencePiece-style BPE (byte fallback, U+2581 for spaces). llama.cpp merges the adjacent
    // pair whose concatenation has the highest score; scoring every token by minus the rank of
    // the first merge that produces it reproduces the merge order of tokenizer.json.
    std::vector<float> scores(static_cast<size_t>(n_tokens), 0.0f);
    std::vector<bool> scored(static_cast<size_t>(n_tokens), false);
    for (size_t rank = 0; rank < merges.size(); ++rank) {
      const auto it = ids.find(merges[rank].first + merges[rank].second);
      if (it == ids.end() || scored[static_cast<size_t>(it->second)]) continue;
      scores[static_cast<size_t>(it->second)] = -static_cast<float>(rank);
      scored[static_cast<size_t>(it->second)] = true;
    }
    const bool byte_fallback = model.value("byte_fallback", false);
    for (int64_t i = 0; i < n_tokens; ++i) {
      const auto u = static_cast<size_t>(i);
      if (types[u] == kUnused || types[u] == kControl || types[u] == kUserDefined) {
        scores[u] = kPadScore;
      } else if (unk_text && tokens[u] == *unk_text) {
        types[u] = kUnknown;
      } else if (byte_fallback && is_byte_token(tokens[u])) {
        types[u] = kByte;
      } else if (!scored[u]) {
        // Not the result of any merge (single characters, unreachable pieces): below every
        // merged token.
        scores[u] = -static_cast<float>(merges.size() + u);
      }
    }
    const json normalizer = root.value("normalizer", json());
    bool add_space_prefix = false;
    std::function<void(const json&)> scan = [&](const json& n) {
      if (!n.is_object()) return;
      const std::string type = n.value("type", "");
      if (type == "Prepend" && n.value("prepend", "") == "\xE2\x96\x81") add_space_prefix = true;
      if (type == "Metaspace" && n.value("prepend_scheme", "always") != "never" &&
          n.value("add_prefix_space", true)) {
        add_space_prefix = true;
      }
      for (const char* key : {"normalizers", "pretokenizers"}) {
        if (n.contains(key) && n[key].is_array()) {
          for (const json& item : n[key]) scan(item);
        }
      }
    };
    scan(normalizer);
    scan(pre);
    m.emplace_back("tokenizer.ggml.model", gguf::Value::of_string("llama"));
    m.emplace_back("tokenizer.ggml.pre", gguf::Value::of_string("default"));
    m.emplace_back("tokenizer.ggml.tokens", gguf::Value::of_strings(tokens));
    m.emplace_back("tokenizer.ggml.scores", gguf::Value::of_f32s(scores));
    m.emplace_back("tokenizer.ggml.token_type", i32_array(types));
    m.emplace_back("tokenizer.ggml.add_space_prefix", gguf::Value::of_bool(add_space_prefix));
  }

  // Special tokens: tokenizer_config.json names them, config.json has ids as a fallback.
  auto id_of = [&](const std::optional<std::string>& text) -> std::optional<int64_t> {
    if (!text) return std::nullopt;
    const auto it = ids.find(*text);
    if (it == ids.end()) return std::nullopt;
    return it->second;
  };
  auto set_id = [&](const char* key, std::optional<int64_t> id) {
    if (id && *id >= 0 && *id < n_tokens)
      m.emplace_back(key, gguf::Value::of_u32(static_cast<uint32_t>(*id)));
  };
  const TemplateSpecials tmpl = template_specials(root);
  std::optional<int64_t> bos = id_of(special_token_text(tok_config, "bos_token"));
  if (!bos) bos = config_token_id(model_config, "bos_token_id");
  std::optional<int64_t> eos = id_of(special_token_text(tok_config, "eos_token"));
  if (!eos) eos = config_token_id(model_config, "eos_token_id");
  std::optional<int64_t> pad = id_of(special_token_text(tok_config, "pad_token"));
  if (!pad) pad = config_token_id(model_config, "pad_token_id");
  std::optional<int64_t> unk = id_of(special_token_text(tok_config, "unk_token"));
  if (!unk) unk = id_of(unk_text);
  set_id("tokenizer.ggml.bos_token_id", bos);
  set_id("tokenizer.ggml.eos_token_id", eos);
  set_id("tokenizer.ggml.unknown_token_id", unk);
  set_id("tokenizer.ggml.padding_token_id", pad);

  std::optional<bool> add_bos, add_eos;
  if (tok_config.contains("add_bos_token") && tok_config["add_bos_token"].is_boolean()) {
    add_bos = tok_config["add_bos_token"].get<bool>();
  } else if (tmpl.present) {
    add_bos = tmpl.first.has_value();
  }
  if (tok_config.contains("add_eos_token") && tok_config["add_eos_token"].is_boolean()) {
    add_eos = tok_config["add_eos_token"].get<bool>();
  } else if (tmpl.present) {
    add_eos = tmpl.last.has_value() && tmpl.last != tmpl.first;
  }
  if (add_bos) m.emplace_back("tokenizer.ggml.add_bos_token", gguf::Value::of_bool(*add_bos));
  if (add_eos) m.emplace_back("tokenizer.ggml.add_eos_token", gguf::Value::of_bool(*add_eos));
  if (tok_config.contains("chat_template") && tok_config["chat_template"].is_string()) {
    m.emplace_back("tokenizer.chat_template",
                   gguf::Value::of_string(tok_config["chat_template"].get<std::string>()));
  }
  return m;
}

}  // namespace vigil::compress
