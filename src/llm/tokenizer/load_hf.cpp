// Tokenizer from a Hugging Face tokenizer.json (+ tokenizer_config.json), for the Llama, Mistral,
// Phi-3 (BPE with byte fallback, SentencePiece style) and Qwen2 (byte-level BPE) families.
//
// Supported pieces of the format: model BPE (vocab, merges in either "a b" or ["a", "b"] form,
// byte_fallback, unk_token, fuse_unk, ignore_merges); normalizers NFC/NFD/NFKC/NFKD, Prepend,
// Replace (string pattern), Lowercase, Sequence; pre-tokenizers ByteLevel, Split (regex or string,
// isolated), Metaspace, Digits, Punctuation, Sequence; decoders ByteLevel, Metaspace and the
// Replace/ByteFallback/Fuse/Strip sequence. Anything else is rejected with an error naming it.
#include <cctype>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <unordered_map>

#include "base/error.h"
#include "base/file.h"
#include "base/log.h"
#include "llm/format/gguf.h"
#include "llm/tokenizer/pre_tokenizers.h"
#include "llm/tokenizer/tokenizer_impl.h"

namespace vigil {
namespace {

using nlohmann::json;
constexpr std::string_view kSpaceMarker = "\xE2\x96\x81";

json parse_json_file(const std::string& path) {
  const std::string text = read_file(path);
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    fail("{}: invalid JSON: {}", path, e.what());
  }
}

// Field access with errors that name the file and the field.
class Reader {
 public:
  explicit Reader(std::string path) : path_(std::move(path)) {}
  const std::string& path() const { return path_; }

  [[noreturn]] void error(std::string_view where, std::string_view what) const {
    fail("{}: {}: {}", path_, where, what);
  }
  std::string string(const json& j, std::string_view where) const {
    if (!j.is_string()) error(where, "expected a string");
    return j.get<std::string>();
  }
  bool boolean(const json& obj, const char* key, bool fallback, std::string_view where) const {
    if (!obj.contains(key) || obj[key].is_null()) return fallback;
    if (!obj[key].is_boolean()) error(fmt::format("{}.{}", where, key), "expected true or false");
    return obj[key].get<bool>();
  }
  int32_t token_id(const json& j, std::string_view where) const {
    if (!j.is_number_integer()) error(where, "expected a token id");
    const int64_t v = j.get<int64_t>();
    if (v < 0 || v >= (int64_t{1} << 30)) error(where, fmt::format("token id {} out of range", v));
    return static_cast<int32_t>(v);
  }
  std::string type_of(const json& j, std::string_view where) const {
    if (!j.is_object() || !j.contains("type")) error(where, "expected an object with a \"type\"");
    return string(j["type"], std::string(where) + ".type");
  }

 private:
  std::string path_;
};

// A Split pattern: {"Regex": "..."} or {"String": "..."} (a literal, escaped for SplitRegex).
std::string split_pattern(const Reader& r, const json& pattern, std::string_view where) {
  if (pattern.is_object() && pattern.contains("Regex")) {
    return r.string(pattern["Regex"], std::string(where) + ".Regex");
  }
  if (pattern.is_object() && pattern.contains("String")) {
    std::string literal;
    for (uint32_t cp : tok::to_code_points(r.string(pattern["String"], where))) {
      literal += fmt::format("\\x{{{:X}}}", cp);
    }
    return literal;
  }
  r.error(where, "expected {\"Regex\": ...} or {\"String\": ...}");
}

void parse_normalizer(const Reader& r, const json& j, std::string_view where,
                      std::vector<tok::NormalizerStep>& steps) {
  if (j.is_null()) return;
  const std::string type = r.type_of(j, where);
  tok::NormalizerStep step;
  if (type == "Sequence") {
    if (!j.contains("normalizers") || !j["normalizers"].is_array()) {
      r.error(where, "Sequence without \"normalizers\"");
    }
    for (size_t i = 0; i < j["normalizers"].size(); ++i) {
      parse_normalizer(r, j["normalizers"][i], fmt::format("{}.normalizers[{}]", where, i), steps);
    }
    return;
  } else if (type == "NFC" || type == "NFD" || type == "NFKC" || type == "NFKD") {
    step.kind = tok::NormalizerStep::kUnicode;
    step.form = type == "NFC"    ? tok::NormalForm::NFC
                : type == "NFD"  ? tok::NormalForm::NFD
                : type == "NFKC" ? tok::NormalForm::NFKC
                                 : tok::NormalForm::NFKD;
  } else if (type == "Prepend") {
    step.kind = tok::NormalizerStep::kPrepend;
    step.text = r.string(j.value("prepend", json()), std::string(where) + ".prepend");
  } else if (type == "Replace") {
    step.kind = tok::NormalizerStep::kReplace;
    const json& pattern = j.value("pattern", json());
    if (!pattern.is_object() || !pattern.contains("String")) {
      r.error(std::string(where) + ".pattern", "only {\"String\": ...} patterns are supported");
    }
    step.text = r.string(pattern["String"], std::string(where) + ".pattern.String");
    step.replacement = r.string(j.value("content", json()), std::string(where) + ".content");
  } else if (type == "Lowercase") {
    step.kind = tok::NormalizerStep::kLowercase;
  } else {
    r.error(where, fmt::format("normalizer type '{}' is not supported", type));
  }
  steps.push_back(std::move(step));
}

struct PreTokenizerResult {
  std::vector<std::string> patterns;
  std::vector<tok::NormalizerStep> steps;  // run after the normalizer
  bool byte_level = false;
  bool metaspace = false;
  bool metaspace_strip = false;
};

void parse_pre_tokenizer(const Reader& r, const json& j, std::string_view where, bool first,
                         PreTokenizerResult& out) {
  if (j.is_null()) return;
  const std::string type = r.type_of(j, where);
  if (type == "Sequence") {
    if (!j.contains("pretokenizers") || !j["pretokenizers"].is_array()) {
      r.error(where, "Sequence without \"pretokenizers\"");
    }
    for (size_t i = 0; i < j["pretokenizers"].size(); ++i) {
      parse_pre_tokenizer(r, j["pretokenizers"][i], fmt::format("{}.pretokenizers[{}]", where, i),
                          first && i == 0, out);
    }
  } else if (type == "ByteLevel") {
    out.byte_level = true;
    if (r.boolean(j, "add_prefix_space", false, where)) {
      if (!first) r.error(where, "add_prefix_space after another pre-tokenizer is not supported");
      tok::NormalizerStep step;
      step.kind = tok::NormalizerStep::kPrepend;
      step.text = " ";
      step.unless_present = true;
      out.steps.push_back(step);
    }
    if (r.boolean(j, "use_regex", true, where)) out.patterns.push_back(tok::gpt2_split_pattern());
  } else if (type == "Split") {
    const std::string behavior = j.value("behavior", std::string("Isolated"));
    if (behavior != "Isolated" || r.boolean(j, "invert", false, where)) {
      r.error(where,
              fmt::format("Split with behavior '{}' (or invert) is not supported", behavior));
    }
    out.patterns.push_back(
        split_pattern(r, j.value("pattern", json()), std::string(where) + ".pattern"));
  } else if (type == "Digits") {
    out.patterns.push_back(r.boolean(j, "individual_digits", false, where) ? R"(\p{N})"
                                                                           : R"(\p{N}+)");
  } else if (type == "Punctuation") {
    const std::string behavior = j.value("behavior", std::string("Isolated"));
    if (behavior != "Isolated") r.error(where, "Punctuation behavior must be Isolated");
    out.patterns.push_back(R"([\p{P}!-/:-@\[-`{-~])");
  } else if (type == "Metaspace") {
    const std::string replacement =
        r.string(j.value("replacement", json(std::string(kSpaceMarker))),
                 std::string(where) + ".replacement");
    std::string scheme = "always";
    if (j.contains("prepend_scheme")) {
      scheme = r.string(j["prepend_scheme"], std::string(where) + ".prepend_scheme");
    } else if (!r.boolean(j, "add_prefix_space", true, where)) {
      scheme = "never";
    }
    if (scheme != "always" && scheme != "first" && scheme != "never") {
      r.error(where, fmt::format("unknown prepend_scheme '{}'", scheme));
    }
    tok::NormalizerStep replace;
    replace.kind = tok::NormalizerStep::kReplace;
    replace.text = " ";
    replace.replacement = replacement;
    out.steps.push_back(replace);
    if (scheme != "never") {
      tok::NormalizerStep prepend;
      prepend.kind = tok::NormalizerStep::kPrepend;
      prepend.text = replacement;
      prepend.first_fragment_only = scheme == "first";
      prepend.unless_present = true;
      out.steps.push_back(prepend);
    }
    if (r.boolean(j, "split", true, where)) {
      // Split before each replacement character, which stays with the text after it.
      std::string marker;
      for (uint32_t cp : tok::to_code_points(replacement)) marker += fmt::format("\\x{{{:X}}}", cp);
      out.patterns.push_back(marker + "[^" + marker + "]*");
    }
    out.metaspace = true;
    out.metaspace_strip = scheme != "never";
  } else {
    r.error(where, fmt::format("pre-tokenizer type '{}' is not supported", type));
  }
}

// Decoder: returns whether decoded text loses one leading space; sets `byte_level`.
void parse_decoder(const Reader& r, const json& j, std::string_view where, bool& byte_level,
                   bool& strip) {
  if (j.is_null()) return;
  const std::string type = r.type_of(j, where);
  if (type == "Sequence") {
    if (!j.contains("decoders") || !j["decoders"].is_array()) {
      r.error(where, "Sequence without \"decoders\"");
    }
    for (size_t i = 0; i < j["decoders"].size(); ++i) {
      parse_decoder(r, j["decoders"][i], fmt::format("{}.decoders[{}]", where, i), byte_level,
                    strip);
    }
  } else if (type == "ByteLevel") {
    byte_level = true;
  } else if (type == "Strip") {
    const std::string content = j.value("content", std::string(" "));
    if (content == " " && j.value("start", 0) > 0) strip = true;
  } else if (type == "Metaspace") {
    const std::string scheme = j.value("prepend_scheme", std::string("always"));
    if (scheme != "never" && r.boolean(j, "add_prefix_space", true, where)) strip = true;
  } else if (type == "Replace" || type == "ByteFallback" || type == "Fuse") {
    // Part of the SentencePiece-style sequence: U+2581 -> ' ', <0xNN> -> byte, join.
  } else {
    spdlog::warn("{}: {}: decoder type '{}' is not supported; decoding uses the model's default",
                 r.path(), where, type);
  }
}

// tokenizer_config.json token entries: "text", {"content": "text", ...} or null.
std::optional<std::string> config_token(const json& config, const char* key) {
  if (!config.contains(key)) return std::nullopt;
  const json& v = config[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) {
    return v["content"].get<std::string>();
  }
  return std::nullopt;
}

// TemplateProcessing "single": special tokens before the sequence are BOS, after it EOS.
void parse_post_processor(const Reader& r, const json& j, Tokenizer::Impl& impl, bool& has_bos,
                          bool& has_eos) {
  if (j.is_null() || !j.is_object()) return;
  const std::string type = j.value("type", std::string());
  if (type == "Sequence" && j.contains("processors") && j["processors"].is_array()) {
    for (const json& p : j["processors"]) parse_post_processor(r, p, impl, has_bos, has_eos);
    return;
  }
  if (type != "TemplateProcessing" || !j.contains("single") || !j["single"].is_array()) return;
  bool seen_sequence = false;
  for (const json& item : j["single"]) {
    if (item.contains("Sequence")) {
      seen_sequence = true;
      continue;
    }
    if (!item.contains("SpecialToken")) continue;
    const std::string name = item["SpecialToken"].value("id", std::string());
    int32_t id = impl.find(name);
    if (j.contains("special_tokens") && j["special_tokens"].contains(name)) {
      const json& ids = j["special_tokens"][name].value("ids", json::array());
      if (ids.is_array() && ids.size() == 1)
        id = r.token_id(ids[0], "post_processor.special_tokens");
    }
    if (id < 0) continue;
    if (!seen_sequence) {
      has_bos = true;
      impl.bos_id = id;
    } else {
      has_eos = true;
      impl.eos_id = id;
    }
  }
}

std::unique_ptr<Tokenizer::Impl> load_hf_json(const std::string& tokenizer_json_path,
                                              const std::string& tokenizer_config_path) {
  using Impl = Tokenizer::Impl;
  using Kind = Tokenizer::Kind;
  const Reader r(tokenizer_json_path);
  const json root = parse_json_file(tokenizer_json_path);
  if (!root.is_object() || !root.contains("model") || !root["model"].is_object()) {
    r.error("model", "missing (not a tokenizer.json?)");
  }
  const json& model = root["model"];
  const std::string model_type =
      model.contains("type") ? r.string(model["type"], "model.type") : std::string("BPE");
  if (model_type != "BPE") {
    r.error("model.type", fmt::format("'{}' is not supported (expected BPE)", model_type));
  }
  if (!model.contains("vocab") || !model["vocab"].is_object()) {
    r.error("model.vocab", "missing or not an object");
  }
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (model.contains(key) && model[key].is_string() && !model[key].get<std::string>().empty()) {
      r.error(std::string("model.") + key, "is not supported");
    }
  }

  auto impl = std::make_unique<Impl>();
  impl->source = tokenizer_json_path;
  impl->algorithm = tok::Algorithm::kBpeMerges;
  impl->unknown_to_unk = true;
  impl->byte_fallback = r.boolean(model, "byte_fallback", false, "model");
  impl->fuse_unk = r.boolean(model, "fuse_unk", false, "model");
  impl->ignore_merges = r.boolean(model, "ignore_merges", false, "model");
  impl->pre = "tokenizer.json";

  // Vocabulary: model vocab, then added tokens (which may reuse or extend the id range).
  std::unordered_map<std::string, int32_t> model_vocab;
  int32_t max_id = -1;
  for (const auto& [text, id_json] : model["vocab"].items()) {
    const int32_t id = r.token_id(id_json, "model.vocab[\"" + printable(text) + "\"]");
    model_vocab[text] = id;
    max_id = std::max(max_id, id);
  }
  const json added = root.value("added_tokens", json::array());
  if (!added.is_array()) r.error("added_tokens", "expected an array");
  for (size_t i = 0; i < added.size(); ++i) {
    max_id = std::max(
        max_id, r.token_id(added[i].value("id", json()), fmt::format("added_tokens[{}].id", i)));
  }
  if (max_id < 0) r.error("model.vocab", "empty vocabulary");
  impl->tokens.resize(static_cast<size_t>(max_id) + 1);
  for (auto& t : impl->tokens) t.attr = tok::kAttrUnused;  // ids that no entry names
  auto is_byte_token = [](const std::string& s) {
    return s.size() == 6 && s.starts_with("<0x") && s.back() == '>' &&
           std::isxdigit(static_cast<unsigned char>(s[3])) &&
           std::isxdigit(static_cast<unsigned char>(s[4]));
  };
  for (const auto& [text, id] : model_vocab) {
    tok::TokenData& t = impl->tokens[id];
    t.text = text;
    t.attr = impl->byte_fallback && is_byte_token(text) ? tok::kAttrByte : tok::kAttrNormal;
  }
  if (model.contains("unk_token") && model["unk_token"].is_string()) {
    auto it = model_vocab.find(model["unk_token"].get<std::string>());
    if (it == model_vocab.end()) r.error("model.unk_token", "is not in the vocabulary");
    impl->unk_id = it->second;
    impl->tokens[it->second].attr = tok::kAttrUnknown;
  }
  for (size_t i = 0; i < added.size(); ++i) {
    const json& a = added[i];
    const std::string where = fmt::format("added_tokens[{}]", i);
    const int32_t id = r.token_id(a.value("id", json()), where + ".id");
    tok::TokenData& t = impl->tokens[id];
    t.text = r.string(a.value("content", json()), where + ".content");
    const bool special = r.boolean(a, "special", false, where);
    t.attr = id == impl->unk_id ? tok::kAttrUnknown
             : special          ? tok::kAttrControl
                                : tok::kAttrUserDefined;
    if (r.boolean(a, "lstrip", false, where)) t.attr |= tok::kAttrLstrip;
    if (r.boolean(a, "rstrip", false, where)) t.attr |= tok::kAttrRstrip;
  }

  // Merges over the model vocabulary.
  const json merges = model.value("merges", json::array());
  if (!merges.is_array()) r.error("model.merges", "expected an array");
  size_t unresolved = 0;
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const json& m = merges[rank];
    std::string left;
    std::string right;
    if (m.is_string()) {
      const std::string s = m.get<std::string>();
      const size_t space = s.find(' ');
      if (space == std::string::npos) {
        r.error(fmt::format("model.merges[{}]", rank), "expected \"left right\"");
      }
      left = s.substr(0, space);
      right = s.substr(space + 1);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      left = m[0].get<std::string>();
      right = m[1].get<std::string>();
    } else {
      r.error(fmt::format("model.merges[{}]", rank), "expected \"left right\" or [left, right]");
    }
    auto a = model_vocab.find(left);
    auto b = model_vocab.find(right);
    auto c = model_vocab.find(left + right);
    if (a == model_vocab.end() || b == model_vocab.end() || c == model_vocab.end()) {
      ++unresolved;
      continue;
    }
    impl->merges.emplace(
        (static_cast<uint64_t>(a->second) << 32) | static_cast<uint32_t>(b->second),
        Impl::Merge{static_cast<int32_t>(rank), c->second});
  }
  if (unresolved > 0) {
    spdlog::warn("{}: {} merges name texts that are not in the vocabulary; skipped",
                 tokenizer_json_path, unresolved);
  }

  // Text pipeline.
  parse_normalizer(r, root.value("normalizer", json()), "normalizer", impl->normalizer);
  PreTokenizerResult pre;
  parse_pre_tokenizer(r, root.value("pre_tokenizer", json()), "pre_tokenizer", true, pre);
  for (auto& step : pre.steps) impl->normalizer.push_back(std::move(step));
  for (const std::string& pattern : pre.patterns) {
    impl->pre_regexes.push_back(tok::SplitRegex::compile(pattern));
  }
  impl->byte_level = pre.byte_level;
  impl->kind = pre.byte_level ? Kind::BytePairEncoding : Kind::SentencePiece;

  bool decoder_byte_level = false;
  bool strip = pre.metaspace_strip;
  parse_decoder(r, root.value("decoder", json()), "decoder", decoder_byte_level, strip);
  impl->piece_style = (pre.byte_level || decoder_byte_level) ? tok::PieceStyle::kByteLevel
                                                             : tok::PieceStyle::kSentencePiece;
  impl->strip_leading_space = strip && impl->piece_style == tok::PieceStyle::kSentencePiece;

  // Special tokens: the post-processor template, then tokenizer_config.json.
  for (int32_t i = 0; i < static_cast<int32_t>(impl->tokens.size()); ++i) {
    impl->ids[impl->tokens[i].text] = i;
  }
  bool has_bos = false;
  bool has_eos = false;
  parse_post_processor(r, root.value("post_processor", json()), *impl, has_bos, has_eos);
  impl->add_bos = has_bos;
  impl->add_eos = has_eos;
  if (!tokenizer_config_path.empty()) {
    const Reader cr(tokenizer_config_path);
    const json config = parse_json_file(tokenizer_config_path);
    if (!config.is_object()) cr.error("(top level)", "expected an object");
    auto resolve = [&](const char* key, int32_t& id) {
      const std::optional<std::string> text = config_token(config, key);
      if (!text) {
        if (config.contains(key) && config[key].is_null()) id = -1;
        return;
      }
      const int32_t found = impl->find(*text);
      if (found < 0) cr.error(key, fmt::format("'{}' is not a token", printable(*text)));
      id = found;
    };
    resolve("bos_token", impl->bos_id);
    resolve("eos_token", impl->eos_id);
    resolve("unk_token", impl->unk_id);
    resolve("pad_token", impl->pad_id);
    impl->add_bos = cr.boolean(config, "add_bos_token", impl->add_bos, "add_bos_token");
    impl->add_eos = cr.boolean(config, "add_eos_token", impl->add_eos, "add_eos_token");
  }
  impl->finish();
  return impl;
}

}  // namespace

std::unique_ptr<Tokenizer> Tokenizer::from_hf_json(const std::string& tokenizer_json_path,
                                                   const std::string& tokenizer_config_path) {
  // The field readers check types where the format gives a choice; any other surprise in the
  // JSON structure surfaces as nlohmann's type_error, reported here with the file name.
  try {
    return std::unique_ptr<Tokenizer>(
        new Tokenizer(load_hf_json(tokenizer_json_path, tokenizer_config_path)));
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    // nlohmann's type_error and friends (caught as std::exception: under some clang builds the
    // json::exception handler did not match the thrown type).
    fail("{}: unexpected structure: {}", tokenizer_json_path, e.what());
  }
}

std::unique_ptr<Tokenizer> Tokenizer::from_path(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    const std::string json_path = (fs::path(path) / "tokenizer.json").string();
    if (!fs::exists(json_path, ec)) {
      fail(
          "{}: no tokenizer.json in this folder (SentencePiece tokenizer.model alone is not "
          "supported)",
          path);
    }
    const std::string config_path = (fs::path(path) / "tokenizer_config.json").string();
    return from_hf_json(json_path, fs::exists(config_path, ec) ? config_path : std::string());
  }
  if (!fs::exists(path, ec)) fail("{}: no such file or folder", path);
  if (fs::path(path).extension() == ".json") {
    const std::string config_path =
        (fs::path(path).parent_path() / "tokenizer_config.json").string();
    return from_hf_json(path, fs::exists(config_path, ec) ? config_path : std::string());
  }
  const gguf::GgufFile file = gguf::GgufFile::open(path);
  return from_gguf(file);
}

}  // namespace vigil
