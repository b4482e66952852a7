// vigil inspect MODEL: what is inside a .gguf file or a Hugging Face safetensors folder — format,
// metadata, the tensor table, and how the bytes split over the layers. `--json` prints the same
// as one JSON object.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/file.h"
#include "base/units.h"
#include "cli/commands.h"
#include "llm/format/gguf.h"
#include "llm/format/hf_config.h"
#include "llm/format/safetensors.h"

namespace vigil::cli {
namespace {

using json = nlohmann::json;

// The widest name column before long names are allowed to push the other columns right.
constexpr size_t kMaxNameColumn = 48;

// Format-independent view of the file, filled by the GGUF or safetensors front end.
struct TensorRow {
  std::string name;
  std::string type;             // "q4_K", "BF16"
  std::vector<uint64_t> shape;  // as the format stores it
  uint64_t bytes = 0;
  uint64_t offset = 0;  // from the start of the data section (of its shard)
  std::string shard;    // file name, for sharded checkpoints
};

struct MetadataRow {
  std::string key;
  std::string type;   // "uint32", "string[32000]"
  std::string shown;  // abbreviated value
  json value;         // for --json (arrays cut to max_items, with the full count in `type`)
};

struct Report {
  std::string path;
  std::string format;                                      // "GGUF" or "safetensors"
  std::vector<std::pair<std::string, std::string>> facts;  // version, alignment, ...
  json facts_json = json::object();
  std::vector<MetadataRow> metadata;
  std::string metadata_title;
  std::vector<std::pair<std::string, std::string>> config;  // HF config.json, mapped
  json config_json;
  std::vector<TensorRow> tensors;
  bool sharded = false;
};

// Layer index of a tensor name: "blk.N." (GGUF) or "model.layers.N." (HF); nullopt otherwise.
std::optional<int64_t> layer_of(std::string_view name) {
  for (std::string_view prefix : {"blk.", "model.layers."}) {
    if (name.substr(0, prefix.size()) != prefix) continue;
    const std::string_view rest = name.substr(prefix.size());
    size_t digits = 0;
    while (digits < rest.size() && digits < 9 && rest[digits] >= '0' && rest[digits] <= '9') {
      ++digits;
    }
    if (digits == 0 || digits >= rest.size() || rest[digits] != '.') return std::nullopt;
    return std::stoll(std::string(rest.substr(0, digits)));
  }
  return std::nullopt;
}

std::string shape_text(const std::vector<uint64_t>& shape) {
  return shape.empty() ? "scalar" : fmt::format("{}", fmt::join(shape, " x "));
}

json value_json(const gguf::Value& v, size_t max_items) {
  using gguf::ValueType;
  switch (v.type) {
    case ValueType::UINT8:
    case ValueType::UINT16:
    case ValueType::UINT32:
    case ValueType::UINT64:
      return v.u;
    case ValueType::INT8:
    case ValueType::INT16:
    case ValueType::INT32:
    case ValueType::INT64:
      return v.i;
    case ValueType::FLOAT32:
      return static_cast<float>(v.f);
    case ValueType::FLOAT64:
      return v.f;
    case ValueType::BOOL:
      return v.u != 0;
    case ValueType::STRING:
      return v.s;
    case ValueType::ARRAY: {
      json items = json::array();
      const size_t n = max_items == 0 ? v.array.size() : std::min(v.array.size(), max_items);
      for (size_t k = 0; k < n; ++k) items.push_back(value_json(v.array[k], max_items));
      return items;
    }
  }
  return nullptr;
}

std::string value_type_text(const gguf::Value& v) {
  if (v.type != gguf::ValueType::ARRAY) return std::string(gguf::value_type_name(v.type));
  return fmt::format("{}[{}]", gguf::value_type_name(v.array_type), v.array.size());
}

Report inspect_gguf(const std::string& path, size_t max_items) {
  const gguf::GgufFile f = gguf::GgufFile::open(path);
  Report r;
  r.path = path;
  r.format = "GGUF";
  r.facts = {
      {"version", std::to_string(f.version())},
      {"alignment", std::to_string(f.alignment())},
      {"file size", fmt::format("{} ({} bytes)", format_bytes(f.file_size()), f.file_size())}};
  r.facts_json = {
      {"version", f.version()}, {"alignment", f.alignment()}, {"file_size", f.file_size()}};
  // A file without tensors (a vocabulary) has no data section.
  if (!f.tensors().empty()) {
    r.facts.emplace_back("data offset", std::to_string(f.data_offset()));
    r.facts_json["data_offset"] = f.data_offset();
  }
  r.metadata_title = fmt::format("Metadata ({} keys)", f.metadata().size());
  // Display form: max_items 0 means "everything", which to_display spells as SIZE_MAX.
  const size_t display_items = max_items == 0 ? static_cast<size_t>(-1) : max_items;
  for (const auto& [key, value] : f.metadata()) {
    r.metadata.push_back({key, value_type_text(value), value.to_display(display_items),
                          value_json(value, max_items)});
  }
  for (const auto& t : f.tensors()) {
    r.tensors.push_back(
        {t.name, std::string(ggml_type_name(t.type)), t.shape, t.size_bytes, t.offset, ""});
  }
  return r;
}

bool is_dir(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string rope_scaling_name(RopeScaling s) {
  switch (s) {
    case RopeScaling::None:
      return "none";
    case RopeScaling::Linear:
      return "linear";
    case RopeScaling::Llama3:
      return "llama3";
    case RopeScaling::Yarn:
      return "yarn";
  }
  return "?";
}

void add_config(Report& r, const ModelConfig& c) {
  r.config = {
      {"arch", c.arch},
      {"layers", std::to_string(c.n_layers)},
      {"hidden size", std::to_string(c.n_embd)},
      {"FFN size", std::to_string(c.n_ff)},
      {"heads / kv heads", fmt::format("{} / {}", c.n_head, c.n_head_kv)},
      {"head dim", std::to_string(c.head_dim)},
      {"vocab rows", std::to_string(c.n_vocab)},
      {"trained context", std::to_string(c.n_ctx_train)},
      {"RMS eps", fmt::format("{}", c.rms_eps)},
      {"RoPE", fmt::format("theta {}, {} of {} dims, NeoX, scaling {}", c.rope_theta, c.rope_dim,
                           c.head_dim, rope_scaling_name(c.rope_scaling))},
      {"sliding window", c.sliding_window == 0 ? "none" : std::to_string(c.sliding_window)},
      {"tied embeddings", c.tied_embeddings ? "yes" : "no"},
      {"q/k/v bias", c.qkv_bias ? "yes" : "no"},
      {"fused qkv / gate_up", c.fused_qkv ? "yes" : "no"},
  };
  r.config_json = {{"arch", c.arch},
                   {"n_layers", c.n_layers},
                   {"n_embd", c.n_embd},
                   {"n_ff", c.n_ff},
                   {"n_head", c.n_head},
                   {"n_head_kv", c.n_head_kv},
                   {"head_dim", c.head_dim},
                   {"n_vocab", c.n_vocab},
                   {"n_ctx_train", c.n_ctx_train},
                   {"rms_eps", c.rms_eps},
                   {"rope_theta", c.rope_theta},
                   {"rope_dim", c.rope_dim},
                   {"rope_scaling", rope_scaling_name(c.rope_scaling)},
                   {"rope_factor", c.rope_factor},
                   {"sliding_window", c.sliding_window},
                   {"tied_embeddings", c.tied_embeddings},
                   {"qkv_bias", c.qkv_bias},
                   {"fused_qkv", c.fused_qkv},
                   {"fused_gate_up", c.fused_gate_up}};
}

Report inspect_safetensors(const std::string& path) {
  const auto model = safetensors::SafetensorsModel::open(path);
  Report r;
  r.path = path;
  r.format = "safetensors";
  r.sharded = model.shards().size() > 1;
  uint64_t file_bytes = 0;
  for (const auto& s : model.shards()) file_bytes += s.file_size();
  r.facts = {{"shards", std::to_string(model.shards().size())},
             {"files size", fmt::format("{} ({} bytes)", format_bytes(file_bytes), file_bytes)}};
  r.facts_json = {{"shards", model.shards().size()}, {"file_size", file_bytes}};
  if (model.shards().size() == 1) {
    r.facts.emplace_back("header", fmt::format("{} bytes", model.shards()[0].header_size()));
    r.facts_json["header_size"] = model.shards()[0].header_size();
  }
  // Every shard carries the same __metadata__; show the first one's.
  for (const auto& [key, value] : model.shards()[0].metadata()) {
    r.metadata.push_back({key, "string", gguf::Value::of_string(value).to_display(), value});
  }
  r.metadata_title = "Metadata (__metadata__)";
  for (const auto* t : model.tensors()) {
    const std::string& shard_path = model.shard_path(t->name);
    const size_t slash = shard_path.rfind('/');
    r.tensors.push_back({t->name, std::string(safetensors::dtype_name(t->dtype)), t->shape,
                         t->size_bytes(), t->begin,
                         slash == std::string::npos ? shard_path : shard_path.substr(slash + 1)});
  }
  // config.json beside the weights: show what the engine makes of it.
  const std::string config_path = model.dir() + "/config.json";
  if (file_exists(config_path)) add_config(r, load_hf_config(config_path));
  return r;
}

struct ByteSplit {
  std::map<int64_t, uint64_t> per_layer;
  uint64_t non_layer = 0;
  uint64_t total = 0;
};

ByteSplit split_bytes(const std::vector<TensorRow>& tensors) {
  ByteSplit s;
  for (const auto& t : tensors) {
    if (const auto layer = layer_of(t.name)) {
      s.per_layer[*layer] += t.bytes;
    } else {
      s.non_layer += t.bytes;
    }
    s.total += t.bytes;
  }
  return s;
}

// "30 (F16: 23, F32: 7)"
std::string tensor_summary(const std::vector<TensorRow>& tensors) {
  std::map<std::string, size_t> counts;
  for (const auto& t : tensors) ++counts[t.type];
  std::vector<std::string> parts;
  for (const auto& [type, n] : counts) parts.push_back(fmt::format("{}: {}", type, n));
  if (parts.empty()) return "0";
  return fmt::format("{} ({})", tensors.size(), fmt::join(parts, ", "));
}

void print_text(const Report& r) {
  fmt::print("{}: {}\n", r.path, r.format);
  auto facts = r.facts;
  facts.emplace_back("tensors", tensor_summary(r.tensors));
  size_t fact_width = 0;
  for (const auto& [k, v] : facts) fact_width = std::max(fact_width, k.size());
  for (const auto& [k, v] : facts) fmt::print("  {:<{}}  {}\n", k, fact_width, v);

  if (!r.config.empty()) {
    fmt::print("\nConfig (config.json)\n");
    size_t w = 0;
    for (const auto& [k, v] : r.config) w = std::max(w, k.size());
    for (const auto& [k, v] : r.config) fmt::print("  {:<{}}  {}\n", k, w, v);
  }

  fmt::print("\n{}\n", r.metadata_title);
  if (r.metadata.empty()) {
    fmt::print("  (none)\n");
  } else {
    size_t key_w = 3;
    size_t type_w = 4;
    for (const auto& m : r.metadata) {
      key_w = std::max(key_w, std::min(m.key.size(), kMaxNameColumn));
      type_w = std::max(type_w, m.type.size());
    }
    fmt::print("  {:<{}}  {:<{}}  {}\n", "KEY", key_w, "TYPE", type_w, "VALUE");
    for (const auto& m : r.metadata) {
      fmt::print("  {:<{}}  {:<{}}  {}\n", m.key, key_w, m.type, type_w, m.shown);
    }
  }

  fmt::print("\nTensors ({})\n", r.tensors.size());
  if (!r.tensors.empty()) {
    size_t name_w = 4, type_w = 4, shape_w = 5, bytes_w = 5, offset_w = 6;
    for (const auto& t : r.tensors) {
      name_w = std::max(name_w, std::min(t.name.size(), kMaxNameColumn));
      type_w = std::max(type_w, t.type.size());
      shape_w = std::max(shape_w, shape_text(t.shape).size());
      bytes_w = std::max(bytes_w, std::to_string(t.bytes).size());
      offset_w = std::max(offset_w, std::to_string(t.offset).size());
    }
    fmt::print("  {:<{}}  {:<{}}  {:<{}}  {:>{}}  {:>{}}{}\n", "NAME", name_w, "TYPE", type_w,
               "SHAPE", shape_w, "BYTES", bytes_w, "OFFSET", offset_w, r.sharded ? "  SHARD" : "");
    for (const auto& t : r.tensors) {
      fmt::print("  {:<{}}  {:<{}}  {:<{}}  {:>{}}  {:>{}}{}\n", t.name, name_w, t.type, type_w,
                 shape_text(t.shape), shape_w, t.bytes, bytes_w, t.offset, offset_w,
                 r.sharded ? "  " + t.shard : "");
    }
  }

  const ByteSplit s = split_bytes(r.tensors);
  fmt::print("\nBytes per layer\n");
  std::vector<std::pair<std::string, uint64_t>> rows;
  for (const auto& [layer, bytes] : s.per_layer)
    rows.emplace_back(fmt::format("layer {}", layer), bytes);
  rows.emplace_back("non-layer", s.non_layer);
  rows.emplace_back("total", s.total);
  size_t label_w = 0, num_w = 0;
  for (const auto& [label, bytes] : rows) {
    label_w = std::max(label_w, label.size());
    num_w = std::max(num_w, std::to_string(bytes).size());
  }
  for (const auto& [label, bytes] : rows) {
    fmt::print("  {:<{}}  {:>{}} B  {:>10}\n", label, label_w, bytes, num_w, format_bytes(bytes));
  }
}

void print_json(const Report& r) {
  json out = {{"path", r.path}, {"format", r.format}};
  out.update(r.facts_json);
  if (!r.config_json.is_null()) out["config"] = r.config_json;
  json metadata = json::array();
  for (const auto& m : r.metadata) {
    metadata.push_back({{"key", m.key}, {"type", m.type}, {"value", m.value}});
  }
  out["metadata"] = std::move(metadata);
  json tensors = json::array();
  for (const auto& t : r.tensors) {
    json row = {{"name", t.name},
                {"type", t.type},
                {"shape", t.shape},
                {"bytes", t.bytes},
                {"offset", t.offset}};
    if (r.sharded) row["shard"] = t.shard;
    tensors.push_back(std::move(row));
  }
  out["tensors"] = std::move(tensors);
  const ByteSplit s = split_bytes(r.tensors);
  json layers = json::array();
  for (const auto& [layer, bytes] : s.per_layer)
    layers.push_back({{"layer", layer}, {"bytes", bytes}});
  out["layer_bytes"] = std::move(layers);
  out["non_layer_bytes"] = s.non_layer;
  out["total_bytes"] = s.total;
  // Token strings need not be valid UTF-8; replace bad bytes rather than fail.
  fmt::print("{}\n", out.dump(2, ' ', false, json::error_handler_t::replace));
}

void run_inspect(const std::string& path, bool as_json, size_t max_items) {
  if (!is_dir(path) && !file_exists(path)) fail("{}: no such file or folder", path);
  auto ends_with = [&](std::string_view suffix) {
    return path.size() >= suffix.size() &&
           path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  Report r;
  if (ends_with("/config.json") || path == "config.json") {
    // The config of a HF folder: inspect the folder.
    r = inspect_safetensors(path.size() > 12 ? path.substr(0, path.size() - 12) : ".");
  } else if (is_dir(path) || ends_with(".safetensors") || ends_with(".index.json")) {
    r = inspect_safetensors(path);
  } else {
    r = inspect_gguf(path, max_items);
  }
  if (as_json) {
    print_json(r);
  } else {
    print_text(r);
  }
  std::fflush(stdout);
}

}  // namespace

void register_inspect(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "inspect", "Show what a model holds: format, metadata, tensors, bytes per layer");
  auto path = std::make_shared<std::string>();
  auto as_json = std::make_shared<bool>(false);
  auto max_items = std::make_shared<size_t>(8);
  cmd->add_option("MODEL", *path, "A .gguf file, or a Hugging Face folder / .safetensors file")
      ->required();
  cmd->add_flag("--json", *as_json, "Print one JSON object instead of tables");
  cmd->add_option("--max-items", *max_items, "Array items shown per metadata value (0 = all)")
      ->capture_default_str();
  cmd->callback([=] { run_inspect(*path, *as_json, *max_items); });
}

}  // namespace vigil::cli
