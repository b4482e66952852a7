// Tokenizers of the LLM engine: text <-> token ids, exactly as llama.cpp (for GGUF files) and
// Hugging Face `tokenizers` (for tokenizer.json) do it.
//
// Three algorithms:
//   * SentencePiece ("llama" in GGUF): bigram merging by score, byte fallback to <0xNN> tokens,
//     spaces shown as U+2581 and a dummy-prefix space in front of the text;
//     from tokenizer.json: BPE over merges with byte_fallback (Llama, Mistral, Phi-3).
//   * Byte-level BPE ("gpt2" in GGUF, ByteLevel in tokenizer.json): the text is split into words
//     by the pre-tokenizer regexes of `tokenizer.ggml.pre` (gpt-2, llama3, qwen2, falcon, ...),
//     bytes are shown through the GPT-2 byte-to-unicode table, words are merged by merge rank.
//   * WordPiece ("bert" in GGUF): BERT's basic tokenizer (clean-up, lowercasing, accent
//     stripping, CJK and punctuation split), then greedy longest-match with ## continuations.
//
// Special tokens: control tokens (BOS, EOS, <|im_start|>, ...) are recognised in the text only
// when `parse_special` is true; user-defined tokens always are. Decoding joins the token pieces
// and returns valid UTF-8 (an ill-formed byte sequence, e.g. half a character's byte tokens,
// becomes U+FFFD).
//
// A Tokenizer is immutable after loading; encode/decode may be called from several threads.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace vigil {

namespace gguf {
class GgufFile;
}

class Tokenizer {
 public:
  enum class Kind { SentencePiece, BytePairEncoding, WordPiece };

  // From the tokenizer.ggml.* metadata of a GGUF file. Throws vigil::Error naming the file and
  // the key when the vocabulary is missing or inconsistent.
  static std::unique_ptr<Tokenizer> from_gguf(const gguf::GgufFile& file);
  // From a HF tokenizer.json, with the special-token settings of tokenizer_config.json when
  // `tokenizer_config_path` is not empty (add_bos_token, add_eos_token, bos/eos tokens).
  static std::unique_ptr<Tokenizer> from_hf_json(const std::string& tokenizer_json_path,
                                                 const std::string& tokenizer_config_path = "");
  // A .gguf file, or a folder with tokenizer.json (and tokenizer_config.json when present).
  static std::unique_ptr<Tokenizer> from_path(const std::string& path);

  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // `add_special`: BOS / EOS (or [CLS] ... [SEP]) as the vocabulary asks for them.
  // `parse_special`: text such as "<|im_start|>" becomes that control token; otherwise it is
  // tokenized as plain text. Any bytes are accepted (invalid UTF-8 included).
  std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special) const;

  // The text of `ids`, valid UTF-8. Control tokens are rendered as their text when
  // `render_special`, dropped otherwise. SentencePiece and WordPiece drop the leading space that
  // encoding added. Throws vigil::Error for an id outside [0, n_vocab()).
  std::string decode(std::span<const int32_t> ids, bool render_special = true) const;

  // Raw bytes of one token as it contributes to decoded text (may be part of a UTF-8 sequence;
  // for streaming). Throws vigil::Error for an id outside [0, n_vocab()).
  std::string token_to_piece(int32_t id, bool render_special = true) const;

  Kind kind() const;
  // Pre-tokenizer name, e.g. "llama3" or "qwen2" (GGUF `tokenizer.ggml.pre`), "default" if none.
  const std::string& pre() const;
  int32_t n_vocab() const;
  int32_t bos() const;  // -1 when the vocabulary has none
  int32_t eos() const;
  int32_t unk() const;
  int32_t pad() const;
  bool add_bos() const;
  bool add_eos() const;
  // End of generation: EOS, EOT and tokens such as <|im_end|>, <|end|>, <|eot_id|>.
  bool is_eog(int32_t id) const;
  // Control or other special token (not plain text).
  bool is_control(int32_t id) const;
  // The vocabulary entry as stored (U+2581 for spaces, GPT-2 byte characters, ...).
  const std::string& token_text(int32_t id) const;
  // Id of a vocabulary entry, -1 if absent.
  int32_t token_id(std::string_view text) const;

  struct Impl;

 private:
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil
