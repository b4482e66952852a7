// Pre-tokenizers of byte-level BPE vocabularies, by GGUF `tokenizer.ggml.pre` name.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace vigil::tok {

struct PreTokenizerSpec {
  std::vector<std::string> patterns;  // split regexes, applied in order (see SplitRegex)
  bool ignore_merges = false;         // a word that is a whole token is not merged (llama3)
  bool add_bos = false;               // default for add_bos_token
  bool nfc = false;                   // normalize to NFC first (Qwen2)
  bool known = true;                  // false: unknown name, llama.cpp's default was used
};

PreTokenizerSpec pre_tokenizer_for(std::string_view pre);

// The GPT-2 pattern (HF ByteLevel pre-tokenizer with use_regex).
const char* gpt2_split_pattern();

}  // namespace vigil::tok
