// Tokenizer behaviour beyond the reference cases: round trips, special tokens, byte fallback,
// invalid UTF-8, errors for broken vocabularies, tokenizer.json variants.
#include "llm/tokenizer/tokenizer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/file.h"
#include "llm/format/gguf.h"
#include "llm/tokenizer/unicode.h"

namespace vigil {
namespace {

const std::string kVocabs = std::string(VIGIL_SHARED_DIR) + "/testdata/tokenizer/";
const std::string kModels = std::string(VIGIL_SHARED_DIR) + "/testdata/models/";

// A shared vocabulary by short name ("gpt-2"), or a model folder ("qwen2": its tokenizer.json).
const Tokenizer& vocab(const std::string& name) {
  static std::map<std::string, std::unique_ptr<Tokenizer>> cache;
  auto& slot = cache[name];
  if (!slot) {
    if (name == "llama" || name == "qwen2" || name == "phi3") {
      slot = Tokenizer::from_path(kModels + name);
    } else {
      slot = Tokenizer::from_gguf(gguf::GgufFile::open(kVocabs + "ggml-vocab-" + name + ".gguf"));
    }
  }
  return *slot;
}

std::vector<std::string> case_texts() {
  const std::string inp = read_file(kVocabs + "ggml-vocab-gpt-2.gguf.inp");
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> texts;
  for (size_t pos = 0, end; (end = inp.find(sep, pos)) != std::string::npos;
       pos = end + sep.size()) {
    texts.push_back(inp.substr(pos, end - pos));
  }
  texts.push_back("int main() {\n\treturn 0;\n}\n");
  texts.push_back("Ünïcödé ΑΒΓ абв עברית العربية हिन्दी 한국어 ｆｕｌｌｗｉｄｔｈ \u3000 x");
  texts.push_back(std::string(300, ' ') + "end");
  return texts;
}

// ------------------------------------------------------------------------------------------------
// Round trips.

class RoundTrip : public testing::TestWithParam<const char*> {};

TEST_P(RoundTrip, DecodeGivesBackTheText) {
  const Tokenizer& tok = vocab(GetParam());
  size_t checked = 0;
  for (const std::string& text : case_texts()) {
    for (bool add_special : {false, true}) {
      const std::vector<int32_t> ids = tok.encode(text, add_special, false);
      EXPECT_EQ(tok.decode(ids, /*render_special=*/false), text)
          << GetParam() << " add_special=" << add_special;
      ++checked;
    }
  }
  EXPECT_GT(checked, 90u);
}

// Byte-level and SentencePiece vocabularies are lossless (BERT lowercases, so it is not here;
// qwen2 normalizes to NFC, which the cases already are).
INSTANTIATE_TEST_SUITE_P(Tokenizer, RoundTrip,
                         testing::Values("llama-spm", "gpt-2", "falcon", "llama", "qwen2", "phi3"),
                         [](const testing::TestParamInfo<const char*>& param) {
                           std::string s = param.param;
                           for (char& c : s) {
                             if (c == '-') c = '_';
                           }
                           return s;
                         });

TEST(Tokenizer, ModelFoldersRoundTripThroughGgufToo) {
  for (const char* model : {"llama", "qwen2", "phi3"}) {
    const auto tok =
        Tokenizer::from_gguf(gguf::GgufFile::open(kModels + model + "/model-q8_0.gguf"));
    for (const std::string& text : case_texts()) {
      EXPECT_EQ(tok->decode(tok->encode(text, false, false)), text) << model;
    }
  }
}

TEST(Tokenizer, BertDecodesLowercasedWords) {
  const Tokenizer& tok = vocab("bert-bge");
  EXPECT_EQ(tok.decode(tok.encode("Hello World", false, false)), "hello world");
  EXPECT_EQ(tok.decode(tok.encode("Führer", false, false)), "fuhrer");  // accents stripped
  // [CLS] text [SEP] with add_special.
  const std::vector<int32_t> ids = tok.encode("hello", true, false);
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(ids.front(), 101);
  EXPECT_EQ(ids.back(), 102);
  EXPECT_EQ(tok.decode(ids), "[CLS] hello [SEP]");
  EXPECT_EQ(tok.decode(ids, false), "hello");
  // Words that cannot be built from pieces are [UNK]; so are words longer than 100 characters.
  EXPECT_EQ(tok.encode("\xF0\x9F\xA6\x99", false, false), std::vector<int32_t>{100});
  EXPECT_EQ(tok.encode(std::string(101, 'a'), false, false), std::vector<int32_t>{100});
}

// ------------------------------------------------------------------------------------------------
// BOS / EOS and special tokens.

TEST(Tokenizer, AddSpecialFollowsTheVocabulary) {
  const Tokenizer& spm = vocab("llama-spm");
  EXPECT_TRUE(spm.add_bos());
  EXPECT_EQ(spm.bos(), 1);
  EXPECT_EQ(spm.eos(), 2);
  EXPECT_EQ(spm.encode("Hello", true, false), (std::vector<int32_t>{1, 15043}));
  EXPECT_EQ(spm.encode("Hello", false, false), (std::vector<int32_t>{15043}));
  EXPECT_EQ(spm.encode("", true, false), (std::vector<int32_t>{1}));
  EXPECT_TRUE(spm.encode("", false, false).empty());

  const Tokenizer& gpt2 = vocab("gpt-2");
  EXPECT_FALSE(gpt2.add_bos());
  EXPECT_EQ(gpt2.encode("Hello", true, false), gpt2.encode("Hello", false, false));

  const Tokenizer& qwen = vocab("qwen2");  // tokenizer.json + tokenizer_config.json
  EXPECT_FALSE(qwen.add_bos());
  EXPECT_EQ(qwen.eos(), 1000);
  const Tokenizer& phi3 = vocab("phi3");
  EXPECT_TRUE(phi3.add_bos());
  EXPECT_EQ(phi3.bos(), 1);
  EXPECT_EQ(phi3.eos(), 1000);
  EXPECT_EQ(phi3.encode("Hello", true, false).front(), 1);
}

TEST(Tokenizer, ControlTokensAreParsedOnlyWhenAsked) {
  const Tokenizer& qwen = vocab("qwen2");
  const std::string text = "<|im_start|>user\nHi<|im_end|>";
  const std::vector<int32_t> parsed = qwen.encode(text, false, true);
  ASSERT_GE(parsed.size(), 3u);
  EXPECT_EQ(parsed.front(), 1001);
  EXPECT_EQ(parsed.back(), 1002);
  const std::vector<int32_t> plain = qwen.encode(text, false, false);
  for (int32_t id : plain) {
    EXPECT_NE(id, 1001);
    EXPECT_NE(id, 1002);
  }
  EXPECT_EQ(qwen.decode(plain), text);
  EXPECT_EQ(qwen.decode(parsed), text);
  EXPECT_EQ(qwen.decode(parsed, false), "user\nHi");

  const Tokenizer& spm = vocab("llama-spm");
  EXPECT_EQ(spm.encode("<s>", false, true), std::vector<int32_t>{1});
  for (int32_t id : spm.encode("<s>", false, false)) EXPECT_NE(id, 1);
  // After a special token the text gets the dummy-prefix space again (llama.cpp).
  EXPECT_EQ(spm.encode("<s>Hello", false, true), (std::vector<int32_t>{1, 15043}));
  EXPECT_EQ(spm.encode("Hello</s>Hello", false, true), (std::vector<int32_t>{15043, 2, 15043}));
}

TEST(Tokenizer, UserDefinedTokensAreAlwaysMatched) {
  // In the Phi-3 vocabulary "</s>" is user-defined (type 4), so it is matched even without
  // parse_special, and llama.cpp's Phi-3 rule strips the whitespace after it.
  const Tokenizer& phi3 = vocab("phi-3");
  const std::vector<int32_t> ids = phi3.encode("a</s>b", false, false);
  EXPECT_NE(std::find(ids.begin(), ids.end(), 2), ids.end());
  EXPECT_EQ(phi3.encode("a</s>   b", false, false), ids);
  // Control tokens such as <|end|> are not matched without parse_special.
  const int32_t end = phi3.token_id("<|end|>");
  ASSERT_GE(end, 0);
  EXPECT_TRUE(phi3.is_control(end));
  const std::vector<int32_t> plain = phi3.encode("x<|end|>", false, false);
  EXPECT_EQ(std::find(plain.begin(), plain.end(), end), plain.end());
  const std::vector<int32_t> parsed = phi3.encode("x<|end|>", false, true);
  EXPECT_EQ(parsed.back(), end);
}

TEST(Tokenizer, EndOfGeneration) {
  const Tokenizer& qwen = vocab("qwen2");
  EXPECT_TRUE(qwen.is_eog(1000));  // <|endoftext|>
  EXPECT_TRUE(qwen.is_eog(1002));  // <|im_end|>
  EXPECT_FALSE(qwen.is_eog(1001));
  EXPECT_FALSE(qwen.is_eog(39));
  const Tokenizer& phi3 = vocab("phi-3");
  EXPECT_TRUE(phi3.is_eog(phi3.eos()));
  EXPECT_TRUE(phi3.is_eog(phi3.token_id("<|end|>")));
  EXPECT_TRUE(vocab("llama-spm").is_eog(2));
  EXPECT_FALSE(vocab("llama-spm").is_eog(1));
}

// ------------------------------------------------------------------------------------------------
// Bytes.

TEST(Tokenizer, ByteFallbackForCharactersOutsideTheVocabulary) {
  const Tokenizer& spm = vocab("llama-spm");
  // U+1F999 (llama) is no token: its four UTF-8 bytes become <0xF0> <0x9F> <0xA6> <0x99>.
  const std::vector<int32_t> ids = spm.encode("\xF0\x9F\xA6\x99", false, false);
  ASSERT_EQ(ids.size(), 5u);
  EXPECT_EQ(spm.token_text(ids[0]), "\xE2\x96\x81");  // the dummy prefix
  EXPECT_EQ(spm.token_text(ids[1]), "<0xF0>");
  EXPECT_EQ(spm.token_text(ids[4]), "<0x99>");
  EXPECT_EQ(spm.token_to_piece(ids[1]), "\xF0");
  EXPECT_EQ(spm.decode(ids), "\xF0\x9F\xA6\x99");
  // Half a character decodes to U+FFFD (valid UTF-8), the raw piece keeps the byte.
  EXPECT_EQ(spm.decode(std::vector<int32_t>{ids[1], ids[2]}), "\xEF\xBF\xBD");

  const Tokenizer& llama = vocab("llama");  // tokenizer.json, BPE with byte_fallback
  EXPECT_EQ(llama.decode(llama.encode("emoji \xF0\x9F\xA6\x99", false, false)),
            "emoji \xF0\x9F\xA6\x99");
}

TEST(Tokenizer, InvalidUtf8NeverFailsAndDecodesToReplacementCharacters) {
  const std::string bad =
      "a\xFF"
      "b\xE2\x82"
      "c\xC0\xAF"
      "d\xED\xA0\x80";
  for (const char* name : {"llama-spm", "gpt-2", "falcon", "bert-bge", "phi-3"}) {
    const Tokenizer& tok = vocab(name);
    const std::vector<int32_t> ids = tok.encode(bad, true, true);
    for (int32_t id : ids) {
      EXPECT_GE(id, 0);
      EXPECT_LT(id, tok.n_vocab());
    }
    const std::string text = tok.decode(ids);
    EXPECT_EQ(tok::sanitize_utf8(text), text) << name << ": decode must give valid UTF-8";
  }
  // SentencePiece keeps the raw bytes as byte tokens; byte-level BPE sees U+FFFD (llama.cpp).
  EXPECT_EQ(vocab("llama-spm")
                .decode(vocab("llama-spm")
                            .encode("a\xFF"
                                    "b",
                                    false, false)),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(vocab("gpt-2").decode(vocab("gpt-2").encode("a\xFF"
                                                        "b",
                                                        false, false)),
            "a\xEF\xBF\xBD"
            "b");
}

TEST(Tokenizer, RejectsIdsOutsideTheVocabulary) {
  const Tokenizer& tok = vocab("gpt-2");
  EXPECT_THROW(tok.decode(std::vector<int32_t>{50257}), Error);
  EXPECT_THROW(tok.decode(std::vector<int32_t>{-1}), Error);
  EXPECT_THROW(tok.token_to_piece(1 << 30), Error);
  EXPECT_THROW(tok.token_text(-5), Error);
  EXPECT_EQ(tok.token_id("Hello"), 15496);
  EXPECT_EQ(tok.token_text(15496), "Hello");
  EXPECT_EQ(tok.token_id("no such token text"), -1);
}

TEST(Tokenizer, LongInputsAreLinear) {
  // 200 KB of mixed text and a 100 000-space run: a quadratic step would not finish here.
  std::string text;
  while (text.size() < 200000) text += "The quick brown fox, 12345 times! ";
  text += std::string(100000, ' ') + "x";
  for (const char* name : {"llama-spm", "gpt-2", "falcon", "bert-bge", "qwen2", "llama"}) {
    const Tokenizer& tok = vocab(name);
    const std::vector<int32_t> ids = tok.encode(text, false, false);
    EXPECT_GT(ids.size(), 10000u) << name;
  }
}

// ------------------------------------------------------------------------------------------------
// Broken vocabularies.

std::string gguf_bytes(const std::vector<std::pair<std::string, gguf::Value>>& kv) {
  gguf::GgufWriter w;
  w.set("general.architecture", gguf::Value::of_string("llama"));
  for (const auto& [k, v] : kv) w.set(k, v);
  return w.to_bytes([](size_t, std::string&) {});
}

std::string load_error(const std::string& bytes) {
  const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
  try {
    const gguf::GgufFile f = gguf::GgufFile::parse({data, bytes.size()}, "test.gguf");
    Tokenizer::from_gguf(f);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(Tokenizer, MissingOrInconsistentKeysAreClearErrors) {
  using gguf::Value;
  const Value tokens = Value::of_strings({"<unk>", "<s>", "</s>", "a", "b", "ab"});
  std::string e = load_error(gguf_bytes({}));
  EXPECT_NE(e.find("tokenizer.ggml.model"), std::string::npos) << e;
  EXPECT_NE(e.find("test.gguf"), std::string::npos) << e;

  e = load_error(gguf_bytes({{"tokenizer.ggml.model", Value::of_string("llama")}}));
  EXPECT_NE(e.find("tokenizer.ggml.tokens"), std::string::npos) << e;

  e = load_error(gguf_bytes(
      {{"tokenizer.ggml.model", Value::of_string("gpt2")}, {"tokenizer.ggml.tokens", tokens}}));
  EXPECT_NE(e.find("tokenizer.ggml.merges"), std::string::npos) << e;

  e = load_error(gguf_bytes({{"tokenizer.ggml.model", Value::of_string("llama")},
                             {"tokenizer.ggml.tokens", tokens},
                             {"tokenizer.ggml.scores", Value::of_f32s({0, 0})}}));
  EXPECT_NE(e.find("tokenizer.ggml.scores"), std::string::npos) << e;

  e = load_error(gguf_bytes(
      {{"tokenizer.ggml.model", Value::of_string("t5")}, {"tokenizer.ggml.tokens", tokens}}));
  EXPECT_NE(e.find("'t5'"), std::string::npos) << e;

  e = load_error(gguf_bytes({{"tokenizer.ggml.model", Value::of_string("llama")},
                             {"tokenizer.ggml.tokens", Value::of_strings({"a", "b", "a"})}}));
  EXPECT_NE(e.find("appears twice"), std::string::npos) << e;

  e = load_error(gguf_bytes({{"tokenizer.ggml.model", Value::of_string("llama")},
                             {"tokenizer.ggml.tokens", Value::of_string("not an array")}}));
  EXPECT_NE(e.find("tokenizer.ggml.tokens"), std::string::npos) << e;
}

TEST(Tokenizer, MinimalGgufVocabularies) {
  using gguf::Value;
  // A SentencePiece vocabulary: "ab" (score -1) beats "bc" (score -2) in "abc".
  const std::string spm = gguf_bytes(
      {{"tokenizer.ggml.model", Value::of_string("llama")},
       {"tokenizer.ggml.tokens",
        Value::of_strings({"<unk>", "<s>", "</s>", "a", "b", "c", "ab", "bc", "\xE2\x96\x81"})},
       {"tokenizer.ggml.scores", Value::of_f32s({0, 0, 0, -5, -5, -5, -1, -2, -3})},
       {"tokenizer.ggml.token_type", Value::of_i32s({2, 3, 3, 1, 1, 1, 1, 1, 1})},
       {"tokenizer.ggml.add_space_prefix", Value::of_bool(false)}});
  const auto* data = reinterpret_cast<const uint8_t*>(spm.data());
  auto tok = Tokenizer::from_gguf(gguf::GgufFile::parse({data, spm.size()}, "spm.gguf"));
  EXPECT_EQ(tok->encode("abc", false, false), (std::vector<int32_t>{6, 5}));
  // No byte tokens: an unknown character becomes <unk>.
  EXPECT_EQ(tok->encode("x", false, false), (std::vector<int32_t>{0}));
  // An id outside the vocabulary in a special-token key is ignored (llama.cpp warns).
  const std::string bad_bos =
      gguf_bytes({{"tokenizer.ggml.model", Value::of_string("llama")},
                  {"tokenizer.ggml.tokens", Value::of_strings({"<unk>", "<s>", "</s>"})},
                  {"tokenizer.ggml.bos_token_id", Value::of_u32(77)}});
  data = reinterpret_cast<const uint8_t*>(bad_bos.data());
  tok = Tokenizer::from_gguf(gguf::GgufFile::parse({data, bad_bos.size()}, "bos.gguf"));
  EXPECT_EQ(tok->bos(), 1);
}

// ------------------------------------------------------------------------------------------------
// tokenizer.json variants.

std::string temp_file(const std::string& name, const std::string& content) {
  const std::string path = testing::TempDir() + "/" + name;
  write_file_atomic(path, content);
  return path;
}

TEST(Tokenizer, MetaspacePreTokenizerMatchesPrependNormalizer) {
  // The same Llama model written in the newer HF form: no normalizer, a Metaspace pre-tokenizer
  // with prepend_scheme "first". For text that does not start with a space both forms agree.
  nlohmann::json j = nlohmann::json::parse(read_file(kModels + "llama/tokenizer.json"));
  j["normalizer"] = nullptr;
  j["pre_tokenizer"] = {{"type", "Metaspace"},
                        {"replacement", "\xE2\x96\x81"},
                        {"prepend_scheme", "first"},
                        {"split", false}};
  j["decoder"] = {{"type", "Metaspace"},
                  {"replacement", "\xE2\x96\x81"},
                  {"prepend_scheme", "first"},
                  {"split", false}};
  const auto meta = Tokenizer::from_hf_json(temp_file("metaspace.json", j.dump()));
  const Tokenizer& base = vocab("llama");
  size_t compared = 0;
  for (const std::string& text : case_texts()) {
    if (text.empty() || text[0] == ' ') continue;
    EXPECT_EQ(meta->encode(text, false, false), base.encode(text, false, false)) << text;
    EXPECT_EQ(meta->decode(meta->encode(text, false, false)), text);
    ++compared;
  }
  EXPECT_GT(compared, 30u);
  // "first": no prefix for the text after a special token (the Prepend normalizer adds one).
  const std::vector<int32_t> ids = meta->encode("<s>Hello", false, true);
  ASSERT_GE(ids.size(), 2u);
  EXPECT_EQ(ids[0], 1);
  EXPECT_FALSE(meta->token_text(ids[1]).starts_with("\xE2\x96\x81"));
  EXPECT_TRUE(base.token_text(base.encode("<s>Hello", false, true)[1]).starts_with("\xE2\x96\x81"));
  EXPECT_EQ(meta->decode(ids), "<s>Hello");
}

TEST(Tokenizer, Gpt2AsTokenizerJsonGivesTheReferenceIds) {
  // The GPT-2 vocabulary rewritten as a HF tokenizer.json (ByteLevel pre-tokenizer with the GPT-2
  // regex): the HF path must give the reference ids of ggml-vocab-gpt-2.gguf.out too.
  const gguf::GgufFile src = gguf::GgufFile::open(kVocabs + "ggml-vocab-gpt-2.gguf");
  const std::vector<std::string> tokens = src.get_string_array("tokenizer.ggml.tokens");
  nlohmann::json vocab_json = nlohmann::json::object();
  for (size_t i = 0; i < tokens.size(); ++i) vocab_json[tokens[i]] = i;
  nlohmann::json j;
  j["model"] = {{"type", "BPE"},
                {"vocab", vocab_json},
                {"merges", src.get_string_array("tokenizer.ggml.merges")}};
  j["added_tokens"] = {{{"id", 50256}, {"content", "<|endoftext|>"}, {"special", true}}};
  j["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}};
  j["decoder"] = {{"type", "ByteLevel"}};
  const auto from_json = Tokenizer::from_hf_json(temp_file("gpt2.json", j.dump()));
  EXPECT_EQ(from_json->kind(), Tokenizer::Kind::BytePairEncoding);

  const std::string out = read_file(kVocabs + "ggml-vocab-gpt-2.gguf.out");
  const std::vector<std::string> texts = case_texts();
  size_t line_start = 0;
  size_t checked = 0;
  for (size_t i = 0; line_start < out.size(); ++i) {
    const size_t line_end = out.find('\n', line_start);
    std::vector<int32_t> expected;
    size_t pos = line_start;
    while (pos < line_end) {
      size_t next = out.find(' ', pos + 1);
      if (next == std::string::npos || next > line_end) next = line_end;
      if (next > pos + 1) expected.push_back(std::stoi(out.substr(pos + 1, next - pos - 1)));
      pos = next;
    }
    EXPECT_EQ(from_json->encode(texts[i], false, false), expected) << "case " << i;
    EXPECT_EQ(from_json->decode(expected), texts[i]);
    ++checked;
    line_start = line_end + 1;
  }
  EXPECT_EQ(checked, 46u);
  EXPECT_EQ(from_json->encode("<|endoftext|>", false, true), std::vector<int32_t>{50256});
  EXPECT_TRUE(from_json->is_eog(50256));
}

TEST(Tokenizer, AddedTokenStripFlagsFromJson) {
  nlohmann::json j = nlohmann::json::parse(read_file(kModels + "phi3/tokenizer.json"));
  for (auto& added : j["added_tokens"]) {
    if (added["content"] == "<|end|>") added["rstrip"] = true;
    if (added["content"] == "<|user|>") added["lstrip"] = true;
  }
  const auto tok = Tokenizer::from_hf_json(temp_file("strip.json", j.dump()));
  EXPECT_EQ(tok->encode("Hi<|end|>\n \tthere", false, true),
            tok->encode("Hi<|end|>there", false, true));
  EXPECT_EQ(tok->encode("Hi \n<|user|>", false, true), tok->encode("Hi<|user|>", false, true));
  // Without the flags the whitespace stays.
  const Tokenizer& plain = vocab("phi3");
  EXPECT_NE(plain.encode("Hi<|end|>\n there", false, true),
            plain.encode("Hi<|end|>there", false, true));
}

TEST(Tokenizer, BadTokenizerJsonIsAClearError) {
  auto error_of = [](const std::string& content) -> std::string {
    try {
      Tokenizer::from_hf_json(temp_file("bad.json", content));
    } catch (const Error& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_NE(error_of("{not json").find("invalid JSON"), std::string::npos);
  EXPECT_NE(error_of("{}").find("model"), std::string::npos);
  EXPECT_NE(error_of(R"({"model": {"type": "Unigram", "vocab": []}})").find("Unigram"),
            std::string::npos);
  const std::string e = error_of(
      R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []},
          "pre_tokenizer": {"type": "Whitespace"}})");
  EXPECT_NE(e.find("Whitespace"), std::string::npos) << e;
  EXPECT_NE(e.find("pre_tokenizer"), std::string::npos) << e;
  EXPECT_NE(error_of(R"({"model": {"type": "BPE", "vocab": {"a": "zero"}}})").find("model.vocab"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []},
                        "decoder": {"type": "Strip", "content": " ", "start": "x", "stop": 0}})")
                .find("bad.json"),
            std::string::npos);
  EXPECT_THROW(Tokenizer::from_path("/nonexistent/model"), Error);
}

}  // namespace
}  // namespace vigil
