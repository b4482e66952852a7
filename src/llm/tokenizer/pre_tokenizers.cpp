// The pre-tokenizer of each GGUF `tokenizer.ggml.pre` name: the split regexes (applied one after
// the other; every piece from one is split again by the next) and the flags that come with them.
// The names and patterns are those llama.cpp uses (src/llama-vocab.cpp), which reproduce the
// Hugging Face pre-tokenizers of the original models.
#include "llm/tokenizer/pre_tokenizers.h"

#include <array>

namespace vigil::tok {
namespace {

// GPT-2: contractions, letters, numbers, other symbols, each optionally after one space, and
// whitespace runs (all but the last space when followed by a non-space).
constexpr const char* kGpt2 =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))";

// Llama 3 (tiktoken cl100k style): case-insensitive contractions, numbers in groups of 1-3,
// newlines kept with the punctuation before them.
constexpr const char* kLlama3 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|)"
    R"(\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// Qwen2: as Llama 3 but every digit on its own.
constexpr const char* kQwen2 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|)"
    R"(\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// DeepSeek LLM: letters of cased scripts (Latin, Greek, Cyrillic, Armenian, Georgian, Cherokee,
// Glagolitic, Coptic, Deseret, Osage, Old Hungarian, Warang Citi, Adlam, fullwidth Latin ...).
constexpr const char* kDeepseekCasedLetters =
    R"(\s?[A-Za-z\x{B5}\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{1BA}\x{1BC}-\x{1BF}\x{1C4}-\x{293})"
    R"(\x{295}-\x{2AF}\x{370}-\x{373}\x{376}\x{377}\x{37B}-\x{37D}\x{37F}\x{386}\x{388}-\x{38A})"
    R"(\x{38C}\x{38E}-\x{3A1}\x{3A3}-\x{3F5}\x{3F7}-\x{481}\x{48A}-\x{52F}\x{531}-\x{556})"
    R"(\x{10A0}-\x{10C5}\x{13A0}-\x{13F5}\x{13F8}-\x{13FD}\x{1C90}-\x{1CBA}\x{1CBD}-\x{1CBF})"
    R"(\x{1D00}-\x{1D2B}\x{1D6B}-\x{1D77}\x{1D79}-\x{1D9A}\x{1E00}-\x{1F15}\x{1F18}-\x{1F1D})"
    R"(\x{1F20}-\x{1F45}\x{1F48}-\x{1F4D}\x{1F50}-\x{1F57}\x{1F59}\x{1F5B}\x{1F5D})"
    R"(\x{1F5F}-\x{1F7D}\x{1F80}-\x{1FB4}\x{1FB6}-\x{1FBC}\x{1FBE}\x{1FC2}-\x{1FC4})"
    R"(\x{1FC6}-\x{1FCC}\x{1FD0}-\x{1FD3}\x{1FD6}-\x{1FDB}\x{1FE0}-\x{1FEC}\x{1FF2}-\x{1FF4})"
    R"(\x{1FF6}-\x{1FFC}\x{2102}\x{2107}\x{210A}-\x{2113}\x{2115}\x{2119}-\x{211D}\x{2124})"
    R"(\x{2126}\x{2128}\x{212A}-\x{212D}\x{212F}-\x{2134}\x{2139}\x{213C}-\x{213F})"
    R"(\x{2145}-\x{2149}\x{214E}\x{2183}\x{2184}\x{2C00}-\x{2C7B}\x{2C7E}-\x{2CE4})"
    R"(\x{2CEB}-\x{2CEE}\x{2CF2}\x{2CF3}\x{A640}-\x{A66D}\x{A680}-\x{A69B}\x{A722}-\x{A76F})"
    R"(\x{A771}-\x{A787}\x{A78B}-\x{A78E}\x{AB70}-\x{ABBF}\x{FB00}-\x{FB06}\x{FB13}-\x{FB17})"
    R"(\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A}\x{10400}-\x{1044F}\x{104B0}-\x{104D3})"
    R"(\x{104D8}-\x{104FB}\x{10C80}-\x{10CB2}\x{10CC0}-\x{10CF2}\x{118A0}-\x{118DF})"
    R"(\x{1E900}-\x{1E943}]+)";
// ASCII and fullwidth punctuation, quotation marks, ideographic space and full stop.
constexpr const char* kDeepseekPunctuation =
    R"(\s?[!-/:-~\x{FF01}-\x{FF0F}\x{FF1A}-\x{FF5E}\x{2018}-\x{201F}\x{3000}-\x{3002}]+)";
// CJK ideographs, U+0800..U+4E00, Hangul syllables.
constexpr const char* kDeepseekCjk = R"([\x{4E00}-\x{9FA5}\x{800}-\x{4E00}\x{AC00}-\x{D7FF}]+)";

// BLOOM / Poro: words up to whitespace or sentence punctuation (the class holds '(' '|' ')').
constexpr const char* kBloom =
    R"( ?[^(\s|.,!?\x{2026}\x{3002}\x{FF0C}\x{3001}\x{964}\x{6D4}\x{60C})]+)";

}  // namespace

PreTokenizerSpec pre_tokenizer_for(std::string_view pre) {
  PreTokenizerSpec spec;
  auto is = [&](std::initializer_list<std::string_view> names) {
    for (std::string_view n : names) {
      if (pre == n) return true;
    }
    return false;
  };
  if (is({"llama3", "llama-v3", "llama-bpe", "falcon3", "pixtral"})) {
    spec.patterns = {kLlama3};
    spec.ignore_merges = true;
    spec.add_bos = true;
  } else if (is({"dbrx", "smaug-bpe", "chatglm-bpe"})) {
    spec.patterns = {kLlama3};
  } else if (is({"deepseek-llm"})) {
    spec.patterns = {R"([\r\n])", kDeepseekCasedLetters, kDeepseekPunctuation,
                     R"(\s+$)",   kDeepseekCjk,          R"(\p{N}+)"};
  } else if (is({"deepseek-coder"})) {
    spec.patterns = {R"([\r\n])", R"(\s?\p{L}+)", R"(\s?\p{P}+)", kDeepseekCjk, R"(\p{N})"};
  } else if (is({"falcon"})) {
    spec.patterns = {R"([\p{P}\$\+<=>\^~\|`]+)", kGpt2, R"([0-9][0-9][0-9])"};
  } else if (is({"starcoder", "refact", "command-r", "smollm", "codeshell", "exaone",
                 "minerva-7b"})) {
    spec.patterns = {R"(\p{N})", kGpt2};
  } else if (is({"gpt-2", "gpt2", "gpt-neox", "mpt", "olmo", "jais", "phi-2", "jina-es", "jina-de",
                 "gigachat", "jina-v1-en", "jina-v2-es", "jina-v2-de", "jina-v2-code",
                 "roberta-bpe"})) {
    spec.patterns = {kGpt2};
  } else if (is({"qwen2", "deepseek-r1-qwen", "megrez"})) {
    spec.patterns = {kQwen2};
    spec.nfc = true;  // Qwen2's tokenizer.json normalizes to NFC first
  } else if (is({"stablelm2"})) {
    spec.patterns = {kQwen2};
  } else if (is({"poro-chat", "bloom", "gpt3-finnish"})) {
    spec.patterns = {kBloom};
  } else if (is({"viking"})) {
    spec.patterns = {kBloom, R"(\p{N})"};
  } else {
    // "default", empty, and names this table does not know: llama.cpp's default.
    spec.known = pre.empty() || pre == "default";
    spec.patterns = {R"([\p{P}\$\+<=>\^~\|]+)", kGpt2, R"(\p{N}+)", R"([0-9][0-9][0-9])"};
  }
  return spec;
}

const char* gpt2_split_pattern() {
  return kGpt2;
}

}  // namespace vigil::tok
