#include "llm/format/hf_config.h"

#include <sys/stat.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>

#include "base/error.h"
#include "base/file.h"

namespace vigil {
namespace {

using json = nlohmann::json;

// Defaults of the transformers config classes for keys a config.json may leave out.
struct ArchDefaults {
  std::string_view model_type;
  std::string_view hf_class;  // architectures[0]
  float rms_eps;
  int32_t max_position_embeddings;
};
constexpr ArchDefaults kArchs[] = {
    {"llama", "LlamaForCausalLM", 1e-6f, 2048},
    {"mistral", "MistralForCausalLM", 1e-6f, 4096 * 32},
    {"qwen2", "Qwen2ForCausalLM", 1e-6f, 32768},
    {"phi3", "Phi3ForCausalLM", 1e-5f, 4096},
};
constexpr float kDefaultRopeTheta = 10000.0f;

// A JSON value shortened for an error message.
std::string shown(const json& j) {
  return printable(j.dump(), 60);
}

// Typed access to one JSON object with errors that name the file and the key path.
class Fields {
 public:
  Fields(const json& object, const std::string& file, std::string prefix = "")
      : object_(object), file_(file), prefix_(std::move(prefix)) {}

  std::string path(std::string_view key) const { return prefix_ + std::string(key); }

  // The value, or nullptr when the key is absent or null.
  const json* find(std::string_view key) const {
    const auto it = object_.find(key);
    if (it == object_.end() || it->is_null()) return nullptr;
    return &*it;
  }

  [[noreturn]] void bad(std::string_view key, std::string_view expected, const json& found) const {
    fail("{}: key '{}': expected {}, found {}", file_, path(key), expected, shown(found));
  }

  std::optional<int64_t> int_opt(std::string_view key) const {
    const json* v = find(key);
    if (v == nullptr) return std::nullopt;
    if (v->is_number_unsigned()) {
      const auto u = v->get<uint64_t>();
      if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        bad(key, "an integer", *v);
      }
      return static_cast<int64_t>(u);
    }
    if (v->is_number_integer()) return v->get<int64_t>();
    if (v->is_number_float()) {
      // Some exporters write 4096.0; accept integral floats within range.
      const double d = v->get<double>();
      if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e15) {
        return static_cast<int64_t>(d);
      }
    }
    bad(key, "an integer", *v);
  }

  // A positive integer that fits int32 (sizes, counts).
  std::optional<int32_t> positive_opt(std::string_view key) const {
    const auto v = int_opt(key);
    if (!v) return std::nullopt;
    if (*v <= 0 || *v > std::numeric_limits<int32_t>::max()) {
      bad(key, "a positive 32-bit integer", *find(key));
    }
    return static_cast<int32_t>(*v);
  }

  int32_t positive(std::string_view key) const {
    const auto v = positive_opt(key);
    if (!v) fail("{}: key '{}': missing (expected a positive integer)", file_, path(key));
    return *v;
  }

  std::optional<double> number_opt(std::string_view key) const {
    const json* v = find(key);
    if (v == nullptr) return std::nullopt;
    if (!v->is_number()) bad(key, "a number", *v);
    const double d = v->get<double>();
    if (!std::isfinite(d)) bad(key, "a finite number", *v);
    return d;
  }

  double positive_number(std::string_view key, double fallback) const {
    const auto v = number_opt(key);
    if (!v) return fallback;
    if (*v <= 0) bad(key, "a positive number", *find(key));
    return *v;
  }

  std::optional<bool> bool_opt(std::string_view key) const {
    const json* v = find(key);
    if (v == nullptr) return std::nullopt;
    if (!v->is_boolean()) bad(key, "true or false", *v);
    return v->get<bool>();
  }

  std::optional<std::string> string_opt(std::string_view key) const {
    const json* v = find(key);
    if (v == nullptr) return std::nullopt;
    if (!v->is_string()) bad(key, "a string", *v);
    return v->get<std::string>();
  }

  const json* object_opt(std::string_view key) const {
    const json* v = find(key);
    if (v != nullptr && !v->is_object()) bad(key, "an object", *v);
    return v;
  }

  const std::string& file() const { return file_; }

 private:
  const json& object_;
  const std::string& file_;
  std::string prefix_;
};

const ArchDefaults& find_arch(const Fields& top) {
  if (const auto model_type = top.string_opt("model_type")) {
    for (const auto& a : kArchs) {
      if (a.model_type == *model_type) return a;
    }
    fail("{}: key 'model_type': '{}' is not supported (expected llama, mistral, qwen2 or phi3)",
         top.file(), printable(*model_type));
  }
  const json* archs = top.find("architectures");
  if (archs == nullptr) {
    fail("{}: key 'model_type': missing, and no 'architectures' to tell the model family",
         top.file());
  }
  if (!archs->is_array() || archs->empty() || !(*archs)[0].is_string()) {
    top.bad("architectures", "an array of class names", *archs);
  }
  const auto& cls = (*archs)[0].get_ref<const std::string&>();
  for (const auto& a : kArchs) {
    if (a.hf_class == cls) return a;
  }
  fail(
      "{}: key 'architectures': '{}' is not supported (expected LlamaForCausalLM, "
      "MistralForCausalLM, Qwen2ForCausalLM or Phi3ForCausalLM)",
      top.file(), printable(cls));
}

// RoPE base, type and scaling from "rope_parameters" (transformers 5) or top-level "rope_theta"
// + "rope_scaling" (older files).
void read_rope(const Fields& top, ModelConfig& cfg) {
  const json* params = top.object_opt("rope_parameters");
  const char* params_key = "rope_parameters";
  if (params == nullptr) {
    params = top.object_opt("rope_scaling");
    params_key = "rope_scaling";
  }
  static const json kEmpty = json::object();
  const Fields rope(params != nullptr ? *params : kEmpty, top.file(),
                    std::string(params_key) + ".");

  // rope_theta: inside rope_parameters for transformers 5, top level before.
  if (rope.find("rope_theta") != nullptr) {
    cfg.rope_theta = static_cast<float>(rope.positive_number("rope_theta", kDefaultRopeTheta));
  } else {
    cfg.rope_theta = static_cast<float>(top.positive_number("rope_theta", kDefaultRopeTheta));
  }

  std::string type = "default";
  std::string type_key = "rope_type";
  if (const auto t = rope.string_opt("rope_type")) {
    type = *t;
  } else if (const auto t2 = rope.string_opt("type")) {
    type = *t2;
    type_key = "type";
  }

  auto factor = [&]() {
    const auto f = rope.number_opt("factor");
    if (!f || *f <= 0) {
      fail("{}: key '{}': expected a positive number for rope type '{}'", top.file(),
           rope.path("factor"), type);
    }
    return static_cast<float>(*f);
  };
  if (type == "default") {
    cfg.rope_scaling = RopeScaling::None;
  } else if (type == "linear") {
    cfg.rope_scaling = RopeScaling::Linear;
    cfg.rope_factor = factor();
  } else if (type == "llama3") {
    cfg.rope_scaling = RopeScaling::Llama3;
    cfg.rope_factor = factor();
    cfg.rope_low_freq_factor = static_cast<float>(rope.positive_number("low_freq_factor", 1.0));
    cfg.rope_high_freq_factor = static_cast<float>(rope.positive_number("high_freq_factor", 4.0));
    const auto orig = rope.positive_opt("original_max_position_embeddings");
    if (!orig) {
      fail("{}: key '{}': missing (needed by rope type 'llama3')", top.file(),
           rope.path("original_max_position_embeddings"));
    }
    cfg.rope_orig_ctx = *orig;
    if (cfg.rope_high_freq_factor <= cfg.rope_low_freq_factor) {
      fail("{}: key '{}': {} must be larger than low_freq_factor {}", top.file(),
           rope.path("high_freq_factor"), cfg.rope_high_freq_factor, cfg.rope_low_freq_factor);
    }
  } else if (type == "yarn") {
    cfg.rope_scaling = RopeScaling::Yarn;
    cfg.rope_factor = factor();
    // YaRN's optional tuning knobs are not in ModelConfig: only their defaults are supported.
    for (const char* key : {"attention_factor", "mscale", "mscale_all_dim"}) {
      if (rope.find(key) != nullptr) {
        fail("{}: key '{}': not supported (only default YaRN parameters)", top.file(),
             rope.path(key));
      }
    }
    if (rope.number_opt("beta_fast").value_or(32.0) != 32.0 ||
        rope.number_opt("beta_slow").value_or(1.0) != 1.0) {
      fail("{}: keys '{}'/'{}': only the defaults 32 / 1 are supported", top.file(),
           rope.path("beta_fast"), rope.path("beta_slow"));
    }
    cfg.rope_orig_ctx =
        rope.positive_opt("original_max_position_embeddings").value_or(cfg.n_ctx_train);
  } else {
    fail("{}: key '{}': rope type '{}' is not supported (expected default, linear, llama3 or yarn)",
         top.file(), rope.path(type_key), printable(type));
  }

  // partial_rotary_factor: inside rope_parameters (transformers 5) or top level.
  double partial = 1.0;
  std::string partial_key = "partial_rotary_factor";
  if (rope.find("partial_rotary_factor") != nullptr) {
    partial = rope.positive_number("partial_rotary_factor", 1.0);
    partial_key = rope.path("partial_rotary_factor");
  } else {
    partial = top.positive_number("partial_rotary_factor", 1.0);
  }
  const double rotated = cfg.head_dim * partial;
  const auto rope_dim = static_cast<int32_t>(std::lround(rotated));
  if (partial > 1.0 || std::fabs(rotated - rope_dim) > 1e-6 || rope_dim <= 0 || rope_dim % 2 != 0) {
    fail("{}: key '{}': {} × head_dim {} must give an even number of dimensions ≤ head_dim",
         top.file(), partial_key, partial, cfg.head_dim);
  }
  cfg.rope_dim = rope_dim;
}

// Sliding-window attention: one window for every layer, or none.
void read_sliding_window(const Fields& top, ModelConfig& cfg) {
  int32_t window = 0;
  if (top.find("sliding_window") != nullptr) {
    const auto w = top.int_opt("sliding_window");
    if (*w < 0 || *w > std::numeric_limits<int32_t>::max()) {
      top.bad("sliding_window", "null or a non-negative integer", *top.find("sliding_window"));
    }
    window = static_cast<int32_t>(*w);
  }
  if (cfg.arch == "llama") window = 0;  // LlamaConfig has no sliding window

  if (const json* types = top.find("layer_types")) {
    // transformers 5 spells out each layer's attention kind.
    if (!types->is_array()) top.bad("layer_types", "an array of strings", *types);
    size_t sliding = 0;
    for (const json& t : *types) {
      if (!t.is_string()) top.bad("layer_types", "an array of strings", *types);
      const auto& s = t.get_ref<const std::string&>();
      if (s == "sliding_attention") {
        ++sliding;
      } else if (s != "full_attention") {
        fail("{}: key 'layer_types': layer kind '{}' is not supported", top.file(), printable(s));
      }
    }
    if (sliding == 0) {
      window = 0;
    } else if (sliding != types->size()) {
      fail(
          "{}: key 'layer_types': {} of {} layers use sliding attention; mixed layers are not "
          "supported",
          top.file(), sliding, types->size());
    } else if (window == 0) {
      fail("{}: key 'sliding_window': missing, but 'layer_types' asks for sliding attention",
           top.file());
    }
  } else if (cfg.arch == "qwen2") {
    // Qwen2 before transformers 5: the window applies only with use_sliding_window, to the
    // layers from max_window_layers on.
    if (!top.bool_opt("use_sliding_window").value_or(false)) {
      window = 0;
    } else {
      const int64_t first = top.int_opt("max_window_layers").value_or(0);
      if (first >= cfg.n_layers) {
        window = 0;
      } else if (first > 0) {
        fail(
            "{}: key 'max_window_layers': sliding attention from layer {} of {}; mixed layers "
            "are not supported",
            top.file(), first, cfg.n_layers);
      }
    }
  }
  cfg.sliding_window = window;
}

}  // namespace

ModelConfig parse_hf_config(std::string_view json_text, const std::string& name) {
  json root;
  try {
    root = json::parse(json_text);
  } catch (const json::exception& e) {
    fail("{}: invalid JSON: {}", name, printable(e.what(), 200));
  }
  if (!root.is_object()) fail("{}: expected a JSON object, found {}", name, shown(root));
  const Fields top(root, name);
  const ArchDefaults& arch = find_arch(top);

  ModelConfig cfg;
  cfg.arch = std::string(arch.model_type);
  cfg.n_layers = top.positive("num_hidden_layers");
  cfg.n_embd = top.positive("hidden_size");
  cfg.n_ff = top.positive("intermediate_size");
  cfg.n_head = top.positive("num_attention_heads");
  cfg.n_head_kv = top.positive_opt("num_key_value_heads").value_or(cfg.n_head);
  if (cfg.n_head % cfg.n_head_kv != 0) {
    fail("{}: key 'num_key_value_heads': {} does not divide num_attention_heads {}", name,
         cfg.n_head_kv, cfg.n_head);
  }
  if (const auto head_dim = top.positive_opt("head_dim")) {
    cfg.head_dim = *head_dim;
  } else {
    if (cfg.n_embd % cfg.n_head != 0) {
      fail(
          "{}: key 'hidden_size': {} is not a multiple of num_attention_heads {} (and no "
          "head_dim is given)",
          name, cfg.n_embd, cfg.n_head);
    }
    cfg.head_dim = cfg.n_embd / cfg.n_head;
  }
  cfg.n_vocab = top.positive("vocab_size");
  cfg.n_ctx_train =
      top.positive_opt("max_position_embeddings").value_or(arch.max_position_embeddings);
  cfg.rms_eps = static_cast<float>(top.positive_number("rms_norm_eps", arch.rms_eps));

  if (const auto act = top.string_opt("hidden_act"); act && *act != "silu") {
    fail("{}: key 'hidden_act': '{}' is not supported (expected silu)", name, printable(*act));
  }
  cfg.rope_style = RopeStyle::NeoX;
  read_rope(top, cfg);
  read_sliding_window(top, cfg);
  cfg.tied_embeddings = top.bool_opt("tie_word_embeddings").value_or(false);

  if (cfg.arch == "qwen2") cfg.qkv_bias = true;  // Qwen2 attention always has q/k/v biases
  if (top.bool_opt("attention_bias").value_or(false)) {
    fail("{}: key 'attention_bias': true is not supported (biases on q/k/v/o projections)", name);
  }
  if (top.bool_opt("mlp_bias").value_or(false)) {
    fail("{}: key 'mlp_bias': true is not supported", name);
  }
  if (cfg.arch == "phi3") {
    cfg.fused_qkv = true;      // qkv_proj = [q; k; v]
    cfg.fused_gate_up = true;  // gate_up_proj = [gate; up]
  }
  return cfg;
}

ModelConfig load_hf_config(const std::string& path) {
  struct stat st {};
  std::string file = path;
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) file = path + "/config.json";
  return parse_hf_config(read_file(file), file);
}

}  // namespace vigil
