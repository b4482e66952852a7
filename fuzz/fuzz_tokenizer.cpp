// libFuzzer target: the tokenizers on arbitrary bytes. Each input is encoded by every shared
// vocabulary (SentencePiece, byte-level BPE, WordPiece, tokenizer.json), with and without special
// tokens, and decoded back. Any crash, sanitizer report or exception is a bug; so is an id outside
// the vocabulary, decoded text that is not valid UTF-8, or a byte-level/SentencePiece round trip
// that does not give the input back. Seeds: fuzz/corpus/tokenizer/.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "llm/format/gguf.h"
#include "llm/tokenizer/tokenizer.h"
#include "llm/tokenizer/unicode.h"

namespace {

struct Loaded {
  std::unique_ptr<vigil::Tokenizer> tokenizer;
  bool lossless;  // decode(encode(text)) == text for valid UTF-8 without special-looking text
};

std::vector<Loaded> load_all() {
  const std::string shared = std::string(VIGIL_SHARED_DIR) + "/testdata/";
  std::vector<Loaded> all;
  auto gguf = [&](const std::string& name, bool lossless) {
    const auto file =
        vigil::gguf::GgufFile::open(shared + "tokenizer/ggml-vocab-" + name + ".gguf");
    all.push_back({vigil::Tokenizer::from_gguf(file), lossless});
  };
  gguf("llama-spm", true);
  gguf("gpt-2", true);
  gguf("falcon", false);    // has no tokens for some control bytes (dropped, as in llama.cpp)
  gguf("bert-bge", false);  // lowercases, drops accents
  gguf("phi-3", false);     // user-defined "</s>" swallows the whitespace after it
  all.push_back({vigil::Tokenizer::from_path(shared + "models/qwen2"), false});  // NFC
  all.push_back({vigil::Tokenizer::from_path(shared + "models/llama"), true});
  return all;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<Loaded> tokenizers = load_all();
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const bool valid_utf8 = vigil::tok::sanitize_utf8(text) == text;
  // U+2581 is SentencePiece's own space marker and reads back as ' '; '<' may start a
  // user-defined token.
  const bool plain = valid_utf8 && text.find("\xE2\x96\x81") == std::string_view::npos &&
                     text.find('<') == std::string_view::npos;
  for (const Loaded& l : tokenizers) {
    const vigil::Tokenizer& tok = *l.tokenizer;
    for (bool special : {false, true}) {
      const std::vector<int32_t> ids = tok.encode(text, special, special);
      for (int32_t id : ids) {
        if (id < 0 || id >= tok.n_vocab()) std::abort();
      }
      const std::string decoded = tok.decode(ids, special);
      if (vigil::tok::sanitize_utf8(decoded) != decoded) std::abort();
      if (!special && l.lossless && plain && decoded != text) std::abort();
      for (int32_t id : ids) (void)tok.token_to_piece(id);
    }
  }
  return 0;
}
