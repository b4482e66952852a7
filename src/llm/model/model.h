// A loaded llama-family model: hyperparameters, weight views and tokenizer, from a GGUF file or a
// HF safetensors folder. Loading maps the file and resolves tensor names; nothing is converted.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "base/file.h"
#include "llm/model/config.h"
#include "llm/model/weights.h"

namespace vigil {

namespace gguf {
class GgufFile;
}
class Tokenizer;

class Model {
 public:
  // `path`: a .gguf file or a folder with config.json + *.safetensors (+ tokenizer.json).
  // `image`: map the weight files, or copy them into memory (FileImage::kCopy, for resident
  // inference; see base/file.h).
  static std::unique_ptr<Model> load(const std::string& path, FileImage image = FileImage::kMap);
  ~Model();

  const ModelConfig& config() const { return config_; }
  const ModelWeights& weights() const { return weights_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  bool has_tokenizer() const { return tokenizer_ != nullptr; }
  const std::string& path() const { return path_; }
  // The GGUF file when loaded from one (chat template, metadata), else nullptr.
  const gguf::GgufFile* gguf() const { return gguf_.get(); }
  // tokenizer.chat_template (GGUF) or tokenizer_config.json chat_template, if any.
  const std::optional<std::string>& chat_template() const { return chat_template_; }
  // Total bytes of weight tensors.
  uint64_t weight_bytes() const;

 private:
  Model() = default;
  void load_gguf(const std::string& path, FileImage image);
  void load_hf(const std::string& dir, FileImage image);
  void validate_shapes() const;

  std::string path_;
  ModelConfig config_;
  ModelWeights weights_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::shared_ptr<gguf::GgufFile> gguf_;
  std::shared_ptr<void> storage_;  // keeps safetensors mappings alive
  std::optional<std::string> chat_template_;
};

// Architecture table: what differs between families, and nothing else.
struct ArchTraits {
  const char* name;
  RopeStyle gguf_rope;  // rope style of GGUF files (HF folders are always NeoX)
  bool qkv_bias;
  bool fused_qkv;
  bool fused_gate_up;
};
// Throws naming `arch` and the supported list when unknown.
const ArchTraits& arch_traits(const std::string& arch);

}  // namespace vigil
