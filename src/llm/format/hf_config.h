// Hugging Face config.json → ModelConfig for the llama family (llama, mistral, qwen2, phi3).
//
// Accepts both transformers 5 files (RoPE settings in "rope_parameters": {"rope_theta",
// "rope_type", ...}) and older ones (top-level "rope_theta" and "rope_scaling": {"type" or
// "rope_type": linear | llama3 | yarn, "factor", ...}). Missing optional keys take the defaults of
// the transformers config class of that architecture. HF safetensors checkpoints always use
// rotate-half ("NeoX") RoPE, whatever the family.
//
// Anything the engine cannot run (another architecture, an unsupported RoPE type or activation,
// attention/MLP biases other than qwen2's q/k/v biases, per-layer sliding windows) is an error.
// Errors are one line: "<file>: key '<key>': expected <what>, found <value>".
#pragma once

#include <string>
#include <string_view>

#include "llm/model/config.h"

namespace vigil {

// Reads `path`: a config.json file, or a folder that holds one.
ModelConfig load_hf_config(const std::string& path);

// Parses the text of a config.json; `name` is used in error messages.
ModelConfig parse_hf_config(std::string_view json_text, const std::string& name);

}  // namespace vigil
