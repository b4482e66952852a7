// Tokenizer from GGUF metadata (tokenizer.ggml.*), with llama.cpp's defaults and conventions.
#include <algorithm>
#include <cctype>
#include <limits>
#include <unordered_set>

#include "base/error.h"
#include "base/log.h"
#include "llm/format/gguf.h"
#include "llm/tokenizer/pre_tokenizers.h"
#include "llm/tokenizer/tokenizer_impl.h"

namespace vigil {
namespace {

constexpr std::string_view kSpaceMarker = "\xE2\x96\x81";

// Reads an optional special-token id. An id outside the vocabulary is ignored with a warning
// (the default stays), as llama.cpp does.
void read_special_id(const gguf::GgufFile& file, std::string_view key, int32_t n_tokens,
                     int32_t& id) {
  const std::optional<int64_t> value = file.get_int_opt(key);
  if (!value) return;
  if (*value < 0 || *value >= n_tokens) {
    spdlog::warn(
        "{}: metadata key '{}': token id {} is outside the vocabulary of {} tokens; "
        "ignored",
        file.path(), key, *value, n_tokens);
    return;
  }
  id = static_cast<int32_t>(*value);
}

}  // namespace

std::unique_ptr<Tokenizer> Tokenizer::from_gguf(const gguf::GgufFile& file) {
  const std::string& path = file.path();
  auto impl = std::make_unique<Impl>();
  impl->source = path;

  const std::optional<std::string> model = file.get_string_opt("tokenizer.ggml.model");
  if (!model) {
    fail("{}: metadata key 'tokenizer.ggml.model': missing (the file carries no tokenizer)", path);
  }
  if (!file.has("tokenizer.ggml.tokens")) {
    fail("{}: metadata key 'tokenizer.ggml.tokens': missing (the file carries no vocabulary)",
         path);
  }
  std::vector<std::string> texts = file.get_string_array("tokenizer.ggml.tokens");
  if (texts.empty()) fail("{}: metadata key 'tokenizer.ggml.tokens': empty vocabulary", path);
  if (texts.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    fail("{}: metadata key 'tokenizer.ggml.tokens': {} tokens is too many", path, texts.size());
  }
  const auto n = static_cast<int32_t>(texts.size());

  std::vector<float> scores;
  if (file.has("tokenizer.ggml.scores")) {
    scores = file.get_float_array("tokenizer.ggml.scores");
    if (scores.size() != texts.size()) {
      fail("{}: metadata key 'tokenizer.ggml.scores': {} scores for {} tokens", path, scores.size(),
           texts.size());
    }
  }
  std::vector<int64_t> types;
  if (file.has("tokenizer.ggml.token_type")) {
    types = file.get_int_array("tokenizer.ggml.token_type");
    if (types.size() != texts.size()) {
      fail("{}: metadata key 'tokenizer.ggml.token_type': {} types for {} tokens", path,
           types.size(), texts.size());
    }
  }

  impl->tokens.resize(texts.size());
  std::unordered_set<std::string_view> seen;
  seen.reserve(texts.size());
  for (int32_t i = 0; i < n; ++i) {
    tok::TokenData& t = impl->tokens[i];
    t.text = std::move(texts[i]);
    if (t.text.empty()) t.text = "[EMPTY_" + std::to_string(i) + "]";  // as llama.cpp
    t.score = scores.empty() ? 0.0f : scores[i];
    t.attr = types.empty() ? uint16_t{tok::kAttrNormal} : tok::attr_from_type(types[i]);
  }
  for (int32_t i = 0; i < n; ++i) {
    if (!seen.insert(impl->tokens[i].text).second) {
      fail("{}: metadata key 'tokenizer.ggml.tokens': token {} '{}' appears twice", path, i,
           printable(impl->tokens[i].text));
    }
  }

  bool add_space_prefix = false;
  if (*model == "llama") {
    impl->kind = Kind::SentencePiece;
    impl->algorithm = tok::Algorithm::kSentencePieceScores;
    impl->piece_style = tok::PieceStyle::kSentencePiece;
    impl->bos_id = 1;
    impl->eos_id = 2;
    impl->unk_id = 0;
    impl->add_bos = true;
    add_space_prefix = true;
  } else if (*model == "gpt2") {
    impl->kind = Kind::BytePairEncoding;
    impl->algorithm = tok::Algorithm::kBpeMerges;
    impl->piece_style = tok::PieceStyle::kByteLevel;
    impl->byte_level = true;
    impl->bos_id = 11;  // llama.cpp's defaults for BPE vocabularies (Falcon's <|endoftext|>)
    impl->eos_id = 11;
  } else if (*model == "bert") {
    impl->kind = Kind::WordPiece;
    impl->algorithm = tok::Algorithm::kWordPiece;
    impl->piece_style = tok::PieceStyle::kWordPiece;
    impl->bos_id = 101;  // [CLS]
    impl->unk_id = 100;
    impl->sep_id = 102;
    impl->pad_id = 0;
    impl->mask_id = 103;
    impl->add_bos = true;
    impl->strip_leading_space = true;
  } else {
    fail(
        "{}: metadata key 'tokenizer.ggml.model': '{}' is not supported (expected llama, gpt2 "
        "or bert)",
        path, printable(*model));
  }

  if (impl->kind == Kind::BytePairEncoding) {
    impl->pre = file.get_string_opt("tokenizer.ggml.pre").value_or("default");
    const tok::PreTokenizerSpec spec = tok::pre_tokenizer_for(impl->pre);
    if (!spec.known) {
      spdlog::warn("{}: tokenizer.ggml.pre '{}' is unknown; using the default pre-tokenizer", path,
                   printable(impl->pre));
    }
    for (const std::string& pattern : spec.patterns) {
      impl->pre_regexes.push_back(tok::SplitRegex::compile(pattern));
    }
    impl->ignore_merges = spec.ignore_merges;
    impl->add_bos = spec.add_bos;
    if (spec.nfc) impl->normalizer.push_back({tok::NormalizerStep::kUnicode, tok::NormalForm::NFC});

    if (!file.has("tokenizer.ggml.merges")) {
      fail("{}: metadata key 'tokenizer.ggml.merges': missing (needed by a gpt2 tokenizer)", path);
    }
    const std::vector<std::string> merges = file.get_string_array("tokenizer.ggml.merges");
    if (merges.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
      fail("{}: metadata key 'tokenizer.ggml.merges': too many merges", path);
    }
    // Index of texts for resolving merges (finish() builds the final one).
    for (int32_t i = 0; i < n; ++i) impl->ids[impl->tokens[i].text] = i;
    impl->merges.reserve(merges.size());
    size_t unresolved = 0;
    for (size_t rank = 0; rank < merges.size(); ++rank) {
      const std::string& m = merges[rank];
      const size_t space = m.size() > 1 ? m.find(' ', 1) : std::string::npos;
      if (space == std::string::npos) {
        fail("{}: metadata key 'tokenizer.ggml.merges': merge {} '{}' is not 'left right'", path,
             rank, printable(m));
      }
      const std::string_view left = std::string_view(m).substr(0, space);
      const std::string_view right = std::string_view(m).substr(space + 1);
      const int32_t a = impl->find(left);
      const int32_t b = impl->find(right);
      const int32_t r = impl->find(std::string(left) + std::string(right));
      if (a < 0 || b < 0 || r < 0) {
        ++unresolved;  // can never apply: a side or the result is not a token
        continue;
      }
      // The first listing of a pair wins (llama.cpp emplaces).
      impl->merges.emplace((static_cast<uint64_t>(a) << 32) | static_cast<uint32_t>(b),
                           Impl::Merge{static_cast<int32_t>(rank), r});
    }
    if (unresolved > 0) {
      spdlog::debug("{}: {} merges refer to texts that are not tokens; skipped", path, unresolved);
    }
  }

  if (const auto v = file.get_bool_opt("tokenizer.ggml.add_space_prefix")) add_space_prefix = *v;
  if (impl->kind == Kind::SentencePiece) {
    // llama.cpp: " " in front of each text fragment (the input start, and after every special
    // token), then spaces shown as U+2581.
    if (add_space_prefix) {
      tok::NormalizerStep prepend;
      prepend.kind = tok::NormalizerStep::kPrepend;
      prepend.text = kSpaceMarker;
      impl->normalizer.push_back(prepend);
    }
    tok::NormalizerStep replace;
    replace.kind = tok::NormalizerStep::kReplace;
    replace.text = " ";
    replace.replacement = kSpaceMarker;
    impl->normalizer.push_back(replace);
    impl->strip_leading_space = add_space_prefix;
  }

  read_special_id(file, "tokenizer.ggml.bos_token_id", n, impl->bos_id);
  read_special_id(file, "tokenizer.ggml.eos_token_id", n, impl->eos_id);
  read_special_id(file, "tokenizer.ggml.eot_token_id", n, impl->eot_id);
  read_special_id(file, "tokenizer.ggml.eom_token_id", n, impl->eom_id);
  read_special_id(file, "tokenizer.ggml.unknown_token_id", n, impl->unk_id);
  read_special_id(file, "tokenizer.ggml.seperator_token_id", n, impl->sep_id);  // sic
  read_special_id(file, "tokenizer.ggml.padding_token_id", n, impl->pad_id);
  read_special_id(file, "tokenizer.ggml.cls_token_id", n, impl->cls_id);
  read_special_id(file, "tokenizer.ggml.mask_token_id", n, impl->mask_id);
  if (const auto v = file.get_bool_opt("tokenizer.ggml.add_bos_token")) impl->add_bos = *v;
  if (const auto v = file.get_bool_opt("tokenizer.ggml.add_eos_token")) impl->add_eos = *v;

  impl->finish();

  // llama.cpp: Phi-3 special tokens swallow the whitespace after them (except <unk>, <s> and
  // <|endoftext|>); it recognises Phi-3 by general.name.
  std::string name = file.get_string_opt("general.name").value_or("");
  std::transform(name.begin(), name.end(), name.begin(), [](char c) {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  });
  if (name.find("phi-3") != std::string::npos || name.find("phi3") != std::string::npos) {
    for (int32_t id : impl->special_tokens) impl->tokens[id].attr |= tok::kAttrRstrip;
    const int32_t eos_text = impl->find("</s>");
    if (eos_text >= 0) impl->tokens[eos_text].attr |= tok::kAttrRstrip;
    for (std::string_view text : {"<unk>", "<s>", "<|endoftext|>"}) {
      const int32_t id = impl->find(text);
      if (id >= 0) impl->tokens[id].attr &= static_cast<uint16_t>(~tok::kAttrRstrip);
    }
  }
  return std::unique_ptr<Tokenizer>(new Tokenizer(std::move(impl)));
}

}  // namespace vigil
